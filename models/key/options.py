"""The key engine's card: its options and what the door checks, without torch.

:mod:`.engine_key` (torch) subclasses :class:`KeyCard`; clients that only
check a job (``segmatte batch`` through a server) import this module alone.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, StrictInt, field_validator, model_validator

from ..engine import PATH_OPTION, EngineCard, EngineOptions

SCREEN_CHANNELS = {"green": 1, "blue": 2}

MIN_SCREEN_DOMINANCE = 0.05
"""A screen colour must exceed its other two channels by at least this much."""

Unit = Annotated[float, Field(ge=0.0, le=1.0)]

DEFAULT_SOFTNESS = {"chroma": 0.8, "difference": 0.1}
"""Softness when the options leave it unset: chroma edges are soft by nature
(alpha follows screen coverage), a difference key's ramp only needs to cover
noise."""


class KeyOptions(EngineOptions):
    """Options of the key engine. Fields of the other mode are ignored."""

    mode: Literal["chroma", "difference"] = Field(
        "chroma", description="chroma: key out a coloured screen; "
        "difference: key out what matches a clean plate of the same shot")
    screen: Literal["green", "blue"] | tuple[Unit, Unit, Unit] = Field(
        "green", description="chroma: the screen, 'green', 'blue' (its strength is measured on "
        "each frame) or an [r, g, b] colour in 0-1 that must exceed its other two channels in "
        "one channel (its strength is then fixed)")
    keyer: Literal["screen", "simple"] = Field(
        "screen", description="chroma: 'screen' (Keylight/IBK-like: linear light, a screen colour "
        "field estimated from the frame's screen pixels, grain-aware tolerance, core + edge "
        "mattes) or 'simple' (one screen strength per frame, code values)")
    tolerance: float | None = Field(
        None, ge=0.0, lt=1.0, description="chroma: how much weaker than the screen a pixel's "
        "screen colour may be and still key out fully, as a share of the screen's strength; "
        "unset: twice the measured grain (screen keyer, at most 0.3) or 0.1 (simple)")
    screen_field: bool | None = Field(
        None, description="chroma, screen keyer: estimate the screen's colour per region from "
        "its pixels (uneven light); unset: on for 'green'/'blue', off for a given colour")
    balance: Unit = Field(
        1.0, description="chroma, screen keyer: screen balance, how the other two channels are "
        "weighed: 1 their max (safest for skin and neutrals), 0 their mean (keys more)")
    gain: float = Field(
        1.0, ge=0.5, le=2.0, description="chroma, screen keyer: screen gain; above 1 keys more "
        "(cleaner background, thinner edges), below 1 less")
    grain_blur: float | None = Field(
        None, ge=0.0, le=4.0, description="chroma, screen keyer: blur (pixels) of the screen "
        "difference against grain; unset: from the measured grain, 0 on a clean screen")
    linear: bool = Field(
        True, description="chroma, screen keyer: key in linear light (frames decoded from "
        "sRGB/Rec.709), where soft edges mix linearly")
    foreground: bool = Field(
        False, description="chroma, screen keyer: also write the subject's despilled colour "
        "(screen light unmixed, screen channel limited) as an RGBA premultiplied EXR "
        "sequence beside the matte (name_foreground.####.exr)")
    despill: Unit = Field(
        1.0, description="chroma, screen keyer with foreground: despill strength, 0-1")
    softness: float | None = Field(
        None, ge=0.0, le=1.0, description="width of the soft edge ramp from keyed to opaque, in "
        "screen strength (chroma) or colour difference (difference); 0 gives a hard edge; "
        "unset: 0.8 for chroma, 0.1 for difference")
    spill: float | None = Field(
        None, ge=0.0, le=1.0, description="chroma: strength of spill-aware edges, 0-1; higher "
        "keeps foreground tinted by screen spill opaque, at the price of slightly harder edges; "
        "unset: 0 for the screen keyer (its core matte does this), 0.2 for simple")
    clean_plate: StrictInt | Annotated[str, Field(min_length=1)] | None = Field(
        None, description="difference: the clean plate, a source frame number or the path of an "
        "image file (RGB, same size as the clip)", json_schema_extra=PATH_OPTION)
    threshold: float = Field(
        0.1, ge=0.0, lt=1.0, description="difference: colour differences up to this (RGB "
        "distance / sqrt 3) are background: noise and grain")

    @field_validator("screen")
    @classmethod
    def _screen_has_dominant_channel(cls, v: Any) -> Any:
        if isinstance(v, tuple):
            c = int(np.argmax(v))
            dom = v[c] - max(v[i] for i in range(3) if i != c)
            if dom < MIN_SCREEN_DOMINANCE:
                raise ValueError(
                    f"screen colour {list(v)} has no dominant channel: one of r, g, b must "
                    f"exceed the other two by at least {MIN_SCREEN_DOMINANCE}")
        return v

    @model_validator(mode="after")
    def _difference_needs_plate(self) -> KeyOptions:
        # A validator, not a check in the engine, so a job fails at the door.
        if self.mode == "difference" and self.clean_plate is None:
            raise ValueError("the difference key needs a clean_plate: a source frame number "
                             "or the path of an image")
        return self

    @model_validator(mode="after")
    def _foreground_needs_screen_keyer(self) -> KeyOptions:
        if self.foreground and not (self.mode == "chroma" and self.keyer == "screen"):
            raise ValueError("foreground (the despilled subject colour) comes from the chroma "
                             "screen keyer: set mode=chroma and keyer=screen, or drop foreground")
        return self

    @property
    def edge_softness(self) -> float:
        """``softness``, or the mode's default when unset."""
        return DEFAULT_SOFTNESS[self.mode] if self.softness is None else self.softness

    @property
    def spill_strength(self) -> float:
        return (0.0 if self.keyer == "screen" else 0.2) if self.spill is None else self.spill

    @property
    def uses_field(self) -> bool:
        return isinstance(self.screen, str) if self.screen_field is None else self.screen_field


class KeyCard(EngineCard):
    name = "key"
    description = ("chroma key (green, blue or any screen colour) and difference key "
                   "against a clean plate; no weights")
    Options = KeyOptions
    temporal = False
    needs_objects = False
