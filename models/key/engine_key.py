"""The ``key`` engine: chroma and difference keys, streamed frame by frame.

No weights and no state between frames (``temporal = False``): each frame's
alpha depends on that frame alone (plus a clean plate read once in
:meth:`KeyEngine.open`), so a resumed job may skip frames already written.
The formulas live in :mod:`.keyers`; this module adds options, errors and
streaming.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..engine import Engine, EngineError
from ..frames import ClipInfo, Frame, Matte
from ..prompts import ObjectPrompts
from ..registry import register
from . import keyers
from .options import DEFAULT_SOFTNESS, KeyCard, KeyOptions, Unit  # noqa: F401 (re-exported)
from .plate import read_plate


@register
class KeyEngine(KeyCard, Engine):
    """Chroma key (green, blue or any screen colour) and difference key.

    Yields ``Matte(number, {"matte": alpha})`` with alpha ``H×W`` float32 in
    [0, 1]: 1 on the object, 0 on the screen or the clean background; with
    ``foreground`` also the despilled subject colour as ``foreground.R/G/B``
    (un-premultiplied, display-referred like the frames).
    Computed with torch on ``device``.
    """

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
                                                 linear=o.linear, strength=o.despill,
                                                 keyed=found.keyed)
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
