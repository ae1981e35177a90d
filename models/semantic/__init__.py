"""Semantic segmentation: per-pixel classes as soft matte layers (the ``semantic`` engine).

``classes`` (class lists, groups, name lookup), ``catalog`` (checkpoints),
``loader`` (local-cache loading), ``segmenter`` (one image through a
``transformers`` model and its post-processing), ``tiling`` (seam-free tiled
inference), ``options`` and ``engine_semantic`` (streaming, temporal
smoothing), ``tiny`` (random-weight configs for tests and benchmarks).
"""
