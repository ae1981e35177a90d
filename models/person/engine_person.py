"""The ``person`` engine: automatic human mattes with recurrent temporal state.

Runs our implementation of Robust Video Matting (:mod:`.modeling_rvm`) frame
by frame, carrying the network's recurrent state from one frame to the next —
so the matte of a frame depends on the frames before it (``temporal = True``:
a resumed job must feed every frame again).

The state is reset (the network starts from zeros, as on a first frame):
- when the engine is opened on a clip;
- when a frame does not follow the previous one (its number is not the
  previous ± 1: a gap, a seek, a new run);
- on a detected cut, when ``reset_on_cut`` is on: the colour histograms
  (8 bins per channel, of a 64-pixel-wide thumbnail) of two consecutive frames
  differ by more than ``cut_threshold`` in total variation distance
  ``½·Σ|p − q|`` (0 = same distribution, 1 = disjoint).

Downsample ratio ``d`` (the share of the resolution the network sees; the
guided-filter refiner brings the matte back to full resolution). ``"auto"``
uses upstream's rule ``d = min(1, 512 / max(H, W))``: the network then sees
about 512 px on the long side, the scale it was trained at. Subjects that are
small in frame (full body in 4K, crowds) want a larger ratio (e.g. 0.4 in
1080p); close-ups can use less.

Licence: the Robust Video Matting weights are GPL-3.0. The engine is opt-in:
its weights are never fetched by a job, and pulling them asks to accept the
licence (``segmatte models pull rvm-mobilenetv3 --accept-licence``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ..engine import Engine, EngineError
from ..frames import ClipInfo, Frame, Matte
from ..prompts import ObjectPrompts
from ..registry import register
from .modeling_rvm import RecurrentState, RVMModel
from .options import TRAINED_LONG_SIDE, PersonCard, PersonOptions, auto_downsample_ratio  # noqa: F401
from .weights import load_weights, resolve_weights


def network_input(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """An H×W×3 frame as the network's 1×3×H×W channels-last input, without a copy on the CPU.

    The batch axis is added before the permute so the strides are the
    canonical channels-last ones ``(H·W·3, 1, W·3, 3)``: permuting first and
    unsqueezing after gives a batch stride of 3, which torch still calls
    channels-last but which made the 1080p forward ~30 % slower on the CPU
    (bench/bench_person.py).
    """
    array = np.ascontiguousarray(image, dtype=np.float32)
    return torch.from_numpy(array).unsqueeze(0).to(device).permute(0, 3, 1, 2)


def _histogram(image: np.ndarray) -> np.ndarray:
    """Normalised 8×8×8 RGB histogram of a ~64-px-wide thumbnail."""
    step = max(1, image.shape[1] // 64)
    thumb = image[::step, ::step]
    bins = np.clip((thumb * 8).astype(np.int32), 0, 7)
    idx = (bins[..., 0] * 64 + bins[..., 1] * 8 + bins[..., 2]).ravel()
    hist = np.bincount(idx, minlength=512).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance ``½·Σ|p − q|`` between two frames' colour histograms."""
    return float(0.5 * np.abs(_histogram(a) - _histogram(b)).sum())


@register
class PersonEngine(PersonCard, Engine):
    """Automatic person matting (Robust Video Matting, MobileNetV3). GPL-3.0 weights, opt-in."""

    def __init__(self, options=None, *, model: str | None = None, device: str = "cpu") -> None:
        super().__init__(options, model=model, device=device)
        self.options: PersonOptions
        self.network: RVMModel | None = None
        self._weights_path: Path | None = None
        self._state: RecurrentState | None = None
        self._previous: tuple[int, np.ndarray] | None = None
        self.resets: list[int] = []
        """Source frame numbers where the recurrent state started afresh (for the manifest)."""

    # -- lifecycle ---------------------------------------------------------
    def _device(self) -> torch.device:
        name = self.options.device or self.device or "cpu"
        try:
            device = torch.device(name)
        except RuntimeError as exc:
            raise EngineError(f"person engine: unknown device {name!r}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise EngineError(f"person engine: device {name!r} asked for, but CUDA is not available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise EngineError("person engine: device 'mps' asked for, but MPS is not available")
        return device

    def open(self, clip: ClipInfo, objects: Sequence[ObjectPrompts] = (),
             fetch: Callable[[int], Frame] | None = None) -> None:
        super().open(clip, objects, fetch)
        path = resolve_weights(self.options.weights)
        if self.network is None or path != self._weights_path:
            self.network = load_weights(path).fuse_batchnorm().eval()
            self._weights_path = path
        # Channels-last (NHWC) suits the depthwise/1×1-heavy MobileNet on CPU
        # (oneDNN) and GPU (cuDNN) alike: ~1.2–1.6× here on the CPU.
        self.network.to(self._device(), memory_format=torch.channels_last)
        self.options.ratio_for(clip.height, clip.width)  # validate early
        self.resets = []
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state: the next frame starts a new shot."""
        self._state = None
        self._previous = None

    def close(self) -> None:
        self.network = None
        self._state = None
        self._previous = None

    # -- streaming ---------------------------------------------------------
    def _should_reset(self, frame: Frame) -> bool:
        if self._previous is None:
            return True
        number, image = self._previous
        if abs(frame.number - number) != 1:
            return True
        return (self.options.reset_on_cut
                and histogram_distance(image, frame.image) > self.options.cut_threshold)

    @torch.inference_mode()
    def matte(self, frame: Frame) -> Matte:
        """One frame through the network, carrying the state from the previous call."""
        if self.network is None:
            raise EngineError("person engine: open() it on a clip first")
        if self._should_reset(frame):
            self._state = None
            self.resets.append(frame.number)
        device = next(self.network.parameters()).device
        src = network_input(frame.image, device)
        ratio = self.options.ratio_for(frame.height, frame.width)
        out = self.network(src, self._state, ratio, foreground=self.options.foreground)
        self._state = out.state
        self._previous = (frame.number, frame.image)
        alpha = out.alpha[0, 0]
        snap = self.options.snap
        if snap is not None and snap > 0:  # None: the writer's snap is the only one
            alpha = torch.where(alpha < snap, 0.0, torch.where(alpha > 1 - snap, 1.0, alpha))
        layers = {"matte": alpha.float().cpu().numpy()}
        if out.foreground is not None:
            fgr = out.foreground[0].float().cpu().numpy()
            for i, channel in enumerate("RGB"):
                layers[f"foreground.{channel}"] = fgr[i]
        return Matte(frame.number, layers)

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        for frame in frames:
            yield self.matte(frame)
