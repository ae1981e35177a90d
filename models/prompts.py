"""Prompts an artist gives an engine: points, boxes, masks and text on keyframes.

Coordinates are in *source pixels*, top-left origin, x to the right, y down —
hosts convert their own conventions before sending. These pydantic models are
part of the job spec (``segmatte.server.spec``) and are what engines receive.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Strict):
    x: float
    y: float
    label: Literal[0, 1] = Field(1, description="1 = positive (include), 0 = negative (exclude)")


class Box(_Strict):
    x0: float
    y0: float
    x1: float
    y1: float

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise ValueError(
                f"box ({self.x0}, {self.y0}, {self.x1}, {self.y1}) must have x1 > x0 and y1 > y0"
            )
        return self


class Keyframe(_Strict):
    """Prompts for one object on one source frame."""

    frame: int
    points: tuple[Point, ...] = ()
    boxes: tuple[Box, ...] = ()
    mask: str | None = Field(None, description="path of a mask image (white = object)")
    text: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Keyframe:
        if not (self.points or self.boxes or self.mask or self.text):
            raise ValueError(f"keyframe {self.frame} has no points, boxes, mask or text")
        return self


class ObjectPrompts(_Strict):
    """One object to matte: its id (the layer name) and its keyframes."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    keyframes: tuple[Keyframe, ...] = ()


def prompt_digest(objects: tuple[ObjectPrompts, ...] | list[ObjectPrompts]) -> str:
    """A short stable digest of the prompts, written into every matte's header."""
    payload = json.dumps([o.model_dump(mode="json") for o in objects], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
