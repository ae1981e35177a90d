"""Catalog name → (model, processor), from the local cache only.

Families map to ``transformers`` classes; weights are read with
``local_files_only`` from the folder :mod:`segmatte.models.weights.cache`
resolves, so a missing model fails at the door with the pull command instead
of a download inside a job.
"""

from __future__ import annotations

from typing import Any

import torch

from ..engine import EngineError
from ..hf import transformers_module
from ..weights import cache, catalog

#: transformers model type → (model class, processor class)
FAMILIES: dict[str, tuple[str, str]] = {
    "sam2_video": ("Sam2VideoModel", "Sam2VideoProcessor"),
    "edgetam_video": ("EdgeTamVideoModel", "Sam2VideoProcessor"),
    "sam3_tracker_video": ("Sam3TrackerVideoModel", "Sam3TrackerVideoProcessor"),
}

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load(name: str, *, dtype: str = "float32", device: str = "cpu") -> tuple[Any, Any]:
    entry = catalog.get(name)
    if entry.engine != "track" or entry.family not in FAMILIES:
        raise EngineError(f"model {name} is not a tracking model; "
                          f"tracking models: {', '.join(e.name for e in catalog.entries('track'))}")
    path = cache.require(entry)
    transformers = transformers_module()

    model_cls, proc_cls = (getattr(transformers, n) for n in FAMILIES[entry.family])
    try:
        model = model_cls.from_pretrained(path, dtype=DTYPES[dtype], local_files_only=True)
        processor = proc_cls.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EngineError(f"model {name} in {path} could not be loaded ({exc}); "
                          f"fetch it again with: {cache.pull_command(entry)}") from None
    return model.to(device).eval(), processor
