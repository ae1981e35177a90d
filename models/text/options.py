"""Options of the ``text`` engine (validated at the door with the job spec)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..engine import EngineOptions
from ..track.options import TrackOptions


class TextOptions(EngineOptions):
    model: str = Field("sam3", description="catalog name (see `segmatte models list`)")
    detection_threshold: float = Field(
        0.5, ge=0.0, le=1.0,
        description="detection score (query probability x presence) an instance needs on a text "
                    "keyframe to be tracked")
    max_instances: int = Field(
        8, ge=1, le=64,
        description="instances tracked per text prompt (the best-scoring ones); the layers "
                    "<label>_1..<label>_N are planned before the first frame and the ones never "
                    "found stay empty (flagged in the manifest)")
    nms_iou: float = Field(
        0.5, ge=0.0, le=1.0,
        description="a detection whose box overlaps a better one by more than this IoU is the "
                    "same instance found twice and is dropped")
    match_iou: float = Field(
        0.5, ge=0.0, le=1.0,
        description="on a later text keyframe, a detection whose mask overlaps a tracked "
                    "instance by at least this IoU keeps that instance's id; the others are new")
    union: bool = Field(False, description="also write <label>: the union of its instances")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="compute dtype; bfloat16 halves GPU memory on CUDA")
    mask_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="None: soft matte (sigmoid of the tracker's logits); a value: binary matte")
    upsample: Literal["bilinear", "bicubic"] = Field(
        "bilinear", description="how the tracker's low-res logits are resized to source size")
    absent_score: float = Field(
        0.5, ge=0.0, le=1.0,
        description="tracker object score below which an instance counts as absent on a frame")
    max_feature_cache: int = Field(1, ge=1, le=64,
                                   description="vision features kept (frames); 1 is enough to stream")

    def track_options(self) -> TrackOptions:
        """The tracker's share of these options (the tracking core is the track engine's)."""
        return TrackOptions(model=self.model, dtype=self.dtype, mask_threshold=self.mask_threshold,
                            upsample=self.upsample, absent_score=self.absent_score,
                            max_feature_cache=self.max_feature_cache)
