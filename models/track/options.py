"""Options of the ``track`` engine (validated at the door with the job spec)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..engine import EngineOptions


class TrackOptions(EngineOptions):
    model: str = Field("sam2.1-tiny", description="catalog name (see `segmatte models list`)")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="compute dtype; bfloat16 halves GPU memory on CUDA")
    torch_compile: bool = Field(
        False, description="torch.compile the image encoder (batch jobs only: the first frames "
                           "pay the compile; never used on the interactive path)")
    mask_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="None: soft matte (sigmoid of the logits); a value: binary matte at that "
                    "probability")
    upsample: Literal["bilinear", "bicubic"] = Field(
        "bilinear", description="how the low-res logits are resized to source size before the "
                                "sigmoid (bilinear = the processor's post_process_masks)")
    absent_score: float = Field(
        0.5, ge=0.0, le=1.0,
        description="object score (sigmoid of the model's object logit) below which the object "
                    "counts as absent: its matte is empty and the manifest flags the frame")
    max_feature_cache: int = Field(1, ge=1, le=64,
                                   description="vision features kept (frames); 1 is enough to stream")
