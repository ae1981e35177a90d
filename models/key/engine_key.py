"""The ``key`` engine: chroma and difference keys, streamed frame by frame.

No weights and no state between frames (``temporal = False``): each frame's
alpha depends on that frame alone (plus a clean plate read once in
:meth:`KeyEngine.open`), so a resumed job may skip frames already written.
The formulas live in :mod:`.keyers`; this module adds options, errors and
streaming.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field, StrictInt, field_validator, model_validator

from ..engine import PATH_OPTION, Engine, EngineError, EngineOptions
from ..frames import ClipInfo, Frame, Matte
from ..prompts import ObjectPrompts
from ..registry import register
from . import keyers
from .plate import read_plate

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
            if dom < keyers.MIN_SCREEN_DOMINANCE:
                raise ValueError(
                    f"screen colour {list(v)} has no dominant channel: one of r, g, b must "
                    f"exceed the other two by at least {keyers.MIN_SCREEN_DOMINANCE}")
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


@register
class KeyEngine(Engine):
    """Chroma key (green, blue or any screen colour) and difference key.

    Yields ``Matte(number, {"matte": alpha})`` with alpha ``H×W`` float32 in
    [0, 1]: 1 on the object, 0 on the screen or the clean background; with
    ``foreground`` also the despilled subject colour as ``foreground.R/G/B``
    (un-premultiplied, display-referred like the frames).
    Computed with torch on ``device``.
    """

    name = "key"
    description = ("chroma key (green, blue or any screen colour) and difference key "
                   "against a clean plate; no weights")
    Options = KeyOptions
    temporal = False
    needs_objects = False

    options: KeyOptions

    def __init__(self, options: KeyOptions | dict[str, Any] | None = None, *,
                 model: str | None = None, device: str = "cpu") -> None:
        super().__init__(options, model=model, device=device)
        self._plate: torch.Tensor | None = None

    # ------------------------------------------------------------------ lifecycle

    def open(self, clip: ClipInfo, objects: Sequence[ObjectPrompts] = (),
             fetch: Callable[[int], Frame] | None = None) -> None:
        super().open(clip, objects, fetch)
        if self.options.mode == "difference":
            self._plate = self._load_plate(clip)

    def close(self) -> None:
        self._plate = None
        super().close()

    def _load_plate(self, clip: ClipInfo) -> torch.Tensor:
        plate = self.options.clean_plate
        if isinstance(plate, int):
            where = f"source frame {plate}"
            if self.fetch is None:
                raise EngineError(f"the clean plate is {where}, but the engine was opened "
                                  "without a way to fetch source frames")
            try:
                image = np.asarray(self.fetch(plate).image, dtype=np.float32)
            except EngineError:
                raise
            except Exception as e:  # the reader's own error, whatever it is
                raise EngineError(f"cannot fetch the clean plate, {where}: {e}") from e
        else:
            where = repr(plate)
            image = read_plate(plate)
        if image.ndim != 3 or image.shape[2] != 3:
            raise EngineError(f"the clean plate {where} is not an RGB image "
                              f"(shape {image.shape})")
        h, w = image.shape[:2]
        if (w, h) != (clip.width, clip.height):
            raise EngineError(f"the clean plate {where} is {w}×{h} but the clip is "
                              f"{clip.width}×{clip.height}")
        return torch.from_numpy(np.ascontiguousarray(image)).to(self.device)

    # ------------------------------------------------------------------ streaming

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        self._check_opened()
        for frame in frames:
            # Per frame, not around the loop: grad mode is thread state, and the
            # consumer runs between our yields.
            with torch.inference_mode():
                layers = self.layers(self._rgb(frame), frame.number)
            yield Matte(frame.number, layers)

    def layers(self, rgb: torch.Tensor, number: int | None = None) -> dict[str, np.ndarray]:
        """``{"matte": alpha}`` (plus ``foreground.R/G/B`` when asked) as float32 numpy."""
        o = self.options
        if o.mode == "chroma" and o.keyer == "screen":
            found = self._screen_key(rgb)
            out = {"matte": found.alpha.to("cpu", torch.float32).numpy()}
            if o.foreground:
                fg = keyers.despilled_foreground(rgb, found.alpha, found.screen, self._channel(),
                                                 linear=o.linear, strength=o.despill)
                fg = fg.to("cpu", torch.float32).numpy()
                for i, c in enumerate("RGB"):
                    out[f"foreground.{c}"] = np.ascontiguousarray(fg[..., i])
            return out
        return {"matte": self.key(rgb, number).to("cpu", torch.float32).numpy()}

    def _channel(self) -> int:
        o = self.options
        return keyers.SCREEN_CHANNELS[o.screen] if isinstance(o.screen, str) else int(np.argmax(o.screen))

    def _screen_key(self, rgb: torch.Tensor) -> keyers.ScreenKey:
        o = self.options
        colour = None if isinstance(o.screen, str) else torch.tensor(o.screen, dtype=rgb.dtype,
                                                                     device=rgb.device)
        return keyers.screen_key(rgb, self._channel(), screen=colour, field=o.uses_field,
                                 linear=o.linear, balance=o.balance, gain=o.gain,
                                 tolerance=o.tolerance, softness=o.edge_softness,
                                 spill=o.spill_strength, grain_blur=o.grain_blur)

    def key(self, rgb: torch.Tensor, number: int | None = None) -> torch.Tensor:
        """Alpha (``H×W``, on ``rgb``'s device) of one ``H×W×3`` RGB tensor."""
        o = self.options
        if o.mode == "difference":
            self._check_opened()
            assert self._plate is not None
            if rgb.shape != self._plate.shape:
                raise EngineError(
                    f"frame {number} is {rgb.shape[1]}×{rgb.shape[0]} but the clean plate is "
                    f"{self._plate.shape[1]}×{self._plate.shape[0]}")
            return keyers.difference_alpha(rgb, self._plate, o.threshold, o.edge_softness)
        if o.keyer == "screen":
            return self._screen_key(rgb).alpha
        if isinstance(o.screen, str):
            channel = keyers.SCREEN_CHANNELS[o.screen]
            dom = keyers.measure_screen_dominance(keyers.dominance(rgb, channel))
        else:
            channel = int(np.argmax(o.screen))
            color = torch.tensor(o.screen, dtype=rgb.dtype, device=rgb.device)
            dom = keyers.dominance(color, channel)
        tolerance = 0.1 if o.tolerance is None else o.tolerance
        return keyers.chroma_alpha(rgb, channel, dom, tolerance, o.edge_softness, o.spill_strength)

    def _check_opened(self) -> None:
        if self.options.mode == "difference" and self._plate is None:
            raise EngineError("open the key engine on a clip before streaming: the difference "
                              "key reads its clean plate there")

    def _rgb(self, frame: Frame) -> torch.Tensor:
        image = np.asarray(frame.image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise EngineError(f"frame {frame.number} is not H×W×3 RGB (shape {image.shape})")
        image = np.ascontiguousarray(image, dtype=np.float32)
        return torch.from_numpy(image).to(self.device)
