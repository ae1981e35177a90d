"""Finishing options, part of the job spec (``JobSpec.finish``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Combine = Literal["union", "add", "subtract", "intersect"]


class FinishOptions(BaseModel):
    """Applied to every layer of every matte, in this order: combine,
    threshold/softness, choke (+ shrinks, − grows), feather, clip black/white,
    invert."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float | None = Field(None, gt=0.0, le=1.0, description="hard cut at this level")
    softness: float = Field(0.0, ge=0.0, le=1.0, description="width of a soft ramp around threshold")
    choke: float = Field(0.0, ge=-256, le=256, description="pixels; positive shrinks, negative grows")
    feather: float = Field(0.0, ge=0.0, le=256, description="gaussian sigma in pixels")
    clip_black: float = Field(0.0, ge=0.0, le=1.0)
    clip_white: float = Field(1.0, ge=0.0, le=1.0)
    invert: bool = False
    combine: Combine | None = Field(
        None, description="merge several layers into one: union (max), add (clamped sum), "
        "subtract (first minus the rest), intersect (min)")

    @model_validator(mode="after")
    def _clip_order(self) -> FinishOptions:
        if self.clip_white <= self.clip_black:
            raise ValueError("clip_white must be above clip_black")
        if self.softness and self.threshold is None:
            raise ValueError("softness shapes the threshold's ramp: give a threshold too")
        return self

    @property
    def is_identity(self) -> bool:
        return self == FinishOptions()
