"""Catalog name → the SAM 3 detector and tracker, from the local cache only.

``facebook/sam3`` is one ``Sam3VideoModel`` checkpoint; ``Sam3Model`` (the
detector) and ``Sam3TrackerVideoModel`` (the tracker) each load their half of
it (transformers renames ``detector_model.vision_encoder.backbone.*`` to the
tracker's backbone), so the two ViT backbones hold the same weights: the
tracker is given the detector's, which keeps one copy in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine import EngineError
from ..hf import transformers_module
from ..weights import cache, catalog

MIN_TRANSFORMERS = "5.0.0"
"""The first stable transformers release with the SAM 3 classes."""

CLASSES = ("Sam3Model", "Sam3Processor", "Sam3TrackerVideoModel", "Sam3TrackerVideoProcessor")


@dataclass
class TextParts:
    """What the engine runs: the detector and the tracker with their processors."""

    detector: Any
    detector_processor: Any
    tracker: Any
    tracker_processor: Any


def require_classes() -> None:
    """EngineError naming the version needed when the installed transformers lacks SAM 3."""
    try:
        transformers = transformers_module()
    except ImportError:
        raise EngineError(f"the text engine needs transformers >= {MIN_TRANSFORMERS} "
                          "(not installed): pip install 'transformers>="
                          f"{MIN_TRANSFORMERS}'") from None
    missing = [name for name in CLASSES if not hasattr(transformers, name)]
    if missing:
        raise EngineError(f"the text engine needs transformers >= {MIN_TRANSFORMERS} for SAM 3 "
                          f"({', '.join(missing)}); this is transformers "
                          f"{transformers.__version__}: pip install -U "
                          f"'transformers>={MIN_TRANSFORMERS}'")


def entry_for(name: str) -> catalog.ModelEntry:
    entry = catalog.get(name)
    if entry.engine != "text":
        known = ", ".join(e.name for e in catalog.entries("text"))
        raise EngineError(f"model {name} does not take text prompts; text models: {known}")
    return entry


def load(name: str, *, dtype: str = "float32", device: str = "cpu") -> TextParts:
    from ..track.loader import DTYPES

    require_classes()
    entry = entry_for(name)
    path = cache.require(entry)
    transformers = transformers_module()

    try:
        detector = transformers.Sam3Model.from_pretrained(path, dtype=DTYPES[dtype],
                                                          local_files_only=True)
        tracker = transformers.Sam3TrackerVideoModel.from_pretrained(path, dtype=DTYPES[dtype],
                                                                     local_files_only=True)
        detector_processor = transformers.Sam3Processor.from_pretrained(path, local_files_only=True)
        tracker_processor = transformers.Sam3TrackerVideoProcessor.from_pretrained(
            path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EngineError(f"model {name} in {path} could not be loaded ({exc}); "
                          f"fetch it again with: {cache.pull_command(entry)}") from None
    share_backbone(detector, tracker)
    return TextParts(detector.to(device).eval(), detector_processor, tracker.to(device).eval(),
                     tracker_processor)


def share_backbone(detector: Any, tracker: Any) -> None:
    """Give the tracker the detector's ViT (the same weights in the checkpoint)."""
    tracker.vision_encoder.backbone = detector.vision_encoder.backbone
