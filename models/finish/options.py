"""Finishing options, part of the job spec (``JobSpec.finish``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Combine = Literal["union", "add", "subtract", "intersect"]
Refine = Literal["none", "guided", "vitmatte"]


class FinishOptions(BaseModel):
    """Applied to every layer of every matte, in this order: combine, refine
    (soft edges from the picture), reduce chatter (temporal), threshold/softness,
    choke (+ shrinks, − grows), feather, clip black/white, invert."""

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

    refine: Refine = Field("none", description="soft edges from the picture where the matte is "
                           "unsure (its soft pixels and hard steps), core and background untouched: "
                           "guided (colour guided filter in linear light) or vitmatte (ViTMatte, "
                           "needs its weights)")
    refine_band: float | None = Field(None, ge=1.0, le=256.0, description="refine: how far a hard "
                                      "matte edge may move, pixels; unset: twice the radius")
    refine_radius: int | None = Field(None, ge=1, le=256, description="guided refine: window "
                                      "radius, pixels; unset: from the picture size (min side / 66)")
    refine_eps: float = Field(1e-5, gt=0.0, le=1.0, description="guided refine: regularisation "
                              "(linear-light colour variance)")
    refine_solve: bool = Field(True, description="guided refine: place hard matte edges (a "
                               "tracker's mask) by closed-form matting of their band, mixed with "
                               "the filter; off: the filter alone (faster: the solve runs on the "
                               "CPU, seconds a frame at 1080p)")
    refine_model: str = Field("vitmatte-small", min_length=1, description="vitmatte refine: model name")
    chatter: float = Field(0.0, ge=0.0, le=1.0, description="reduce chatter: temporal smoothing "
                           "along optical flow, strength 0 (off) to 1")
    chatter_radius: int = Field(2, ge=1, le=4, description="reduce chatter: neighbours each side")

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

    @property
    def temporal(self) -> bool:
        """A frame's result depends on its neighbours (resume must feed every frame)."""
        return self.chatter > 0
