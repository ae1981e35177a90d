"""The key engine: chroma and difference keys, no weights, always available.

``keyers`` holds the formulas (torch, any device), ``plate`` reads clean-plate
images, and ``engine_key`` is the streaming engine registered as ``"key"``.
"""
