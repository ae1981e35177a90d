"""Reduce chatter: temporal smoothing of mattes along optical flow, streaming.

Edges that jitter from frame to frame ("chatter", "boil") are the most
visible defect of per-frame mattes. Averaging a frame's matte with its
neighbours removes jitter but smears anything that moves — unless the
neighbours are first moved to where the current frame's content is. So, for
the frame t and each neighbour j within ``radius`` frames:

1. optical flow ``u = flow(I_t → I_j)`` (OpenCV DIS; Kroeger et al., "Fast
   Optical Flow using Dense Inverse Search", ECCV 2016), so that
   ``I_t(x) ≈ I_j(x + u(x))``;
2. warp the neighbour's matte and image to frame t:
   ``m̃_j(x) = m_j(x + u(x))``, ``Ĩ_j(x) = I_j(x + u(x))``;
3. trust the warp only where it explains the picture: the photometric error
   ``e_j = box₃(mean_c |I_t − Ĩ_j|)`` gives
   ``w_j(x) = s · (1 − |j − t|/(R + 1)) · exp(−e_j(x)² / (2σ²)) · [x + u(x) inside the frame]``
   (occlusions, flow failures, cuts → e large → w ≈ 0: no smear). Flow, error
   and weight are computed with the pictures scaled to ``flow_max_side`` on
   the long side, the weight and flow then upsampled bilinearly; the mattes
   are warped at full resolution;
4. ``m̂_t = (m_t + Σ_j w_j·m̃_j) / (1 + Σ_j w_j)``.

``strength`` s ∈ [0, 1] (0 = off); R = ``radius``; σ = ``sigma`` (default
0.04 in [0, 1] RGB units, a bit above camera noise). Every layer of a matte
is smoothed with the same flows and weights.

Streaming: :meth:`ReduceChatter.push` takes one frame's image and matte and
returns the mattes that are complete (frame t comes out once t + R has been
pushed: a latency of R frames); :meth:`ReduceChatter.flush` returns the rest
at the end of the clip. Memory holds at most 2R + 1 frames. A frame whose
number does not follow the previous one (a gap, a new run), or one pushed
with ``cut=True``, starts a new window: smoothing never crosses it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..frames import Frame, Matte


@dataclass
class _Entry:
    number: int
    small: np.ndarray  # h×w×3 float32 RGB at flow resolution (the photometric check)
    grey: np.ndarray  # h×w uint8 at flow resolution (the flow)
    matte: Matte


def _downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image, np.float32)
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(small), grey


class ReduceChatter:
    """Streaming flow-guided temporal smoothing (see the module docstring)."""

    def __init__(self, strength: float = 0.5, radius: int = 2, *, sigma: float = 0.04,
                 flow_max_side: int = 960, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if radius < 1:
            raise ValueError(f"radius must be at least 1, got {radius}")
        self.strength = float(strength)
        self.radius = int(radius)
        self.sigma = float(sigma)
        self.flow_max_side = int(flow_max_side)
        self._dis = cv2.DISOpticalFlow_create(preset)
        self._window: deque[_Entry] = deque()
        self._next_out = 0  # index into the window of the next frame to emit

    # -- public API -------------------------------------------------------
    @property
    def window_size(self) -> int:
        """Frames held now (≤ 2R + 1)."""
        return len(self._window)

    def push(self, image: np.ndarray, matte: Matte, *, cut: bool = False) -> list[Matte]:
        """Add one frame; return the mattes that can be finished now, in order."""
        out: list[Matte] = []
        if self._window and (cut or abs(matte.number - self._window[-1].number) != 1):
            out += self.flush()
        small, grey = _downscale(image, self.flow_max_side)
        self._window.append(_Entry(matte.number, small, grey, matte))
        while self._next_out < len(self._window) and \
                len(self._window) - 1 - self._next_out >= self.radius:
            out.append(self._emit(self._next_out))
            self._next_out += 1
            self._trim()
        return out

    def flush(self) -> list[Matte]:
        """Finish every frame still held (end of clip or of a run) and forget them."""
        out = [self._emit(i) for i in range(self._next_out, len(self._window))]
        self._window.clear()
        self._next_out = 0
        return out

    # -- internals --------------------------------------------------------
    def _trim(self) -> None:
        # Keep R frames of history before the next frame to emit.
        while self._next_out > self.radius:
            self._window.popleft()
            self._next_out -= 1

    def _neighbour(self, t: _Entry, j: _Entry, distance: int, full: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weight map and full-resolution sampling maps for neighbour ``j`` of ``t``.

        Flow, warp of the neighbour's picture and photometric error all run at
        flow resolution (the weight is smooth); only the mattes are warped at
        full resolution, along the upsampled flow.
        """
        flow = self._dis.calc(t.grey, j.grey, None)
        sh, sw = t.grey.shape
        xs, ys = np.meshgrid(np.arange(sw, dtype=np.float32), np.arange(sh, dtype=np.float32))
        map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
        inside = (map_x >= 0) & (map_x <= sw - 1) & (map_y >= 0) & (map_y <= sh - 1)
        warped = cv2.remap(j.small, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        diff = cv2.absdiff(warped, t.small)
        error = cv2.blur(cv2.transform(diff, np.full((1, 3), 1 / 3, np.float32)), (3, 3))
        weight = cv2.exp(error * error * np.float32(-1 / (2 * self.sigma**2)))
        weight *= np.float32(self.strength * (1.0 - distance / (self.radius + 1)))
        weight *= inside
        h, w = full
        if (sh, sw) != (h, w):
            weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= w / sw
            flow[..., 1] *= h / sh
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
        return weight, map_x, map_y

    def _emit(self, index: int) -> Matte:
        t = self._window[index]
        if self.strength == 0.0 or not t.matte.layers:
            return t.matte
        names = list(t.matte.layers)
        acc = {n: np.array(t.matte.layers[n], np.float32) for n in names}
        full = acc[names[0]].shape[:2]
        total = np.ones(full, np.float32)
        for k, j in enumerate(self._window):
            distance = abs(k - index)
            if distance == 0 or distance > self.radius:
                continue
            weight, map_x, map_y = self._neighbour(t, j, distance, full)
            total += weight
            for n in names:
                warped = cv2.remap(np.asarray(j.matte.layers[n], np.float32), map_x, map_y,
                                   cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                acc[n] += weight * warped
        layers = {n: np.clip(acc[n] / total, 0.0, 1.0) for n in names}
        return Matte(t.number, layers, dict(t.matte.scores))


def reduce_chatter_stream(pairs: Iterable[tuple[Frame, Matte]], strength: float = 0.5,
                          radius: int = 2, **kwargs: float) -> Iterator[Matte]:
    """Pipeline adapter: ``(Frame, Matte)`` pairs in, smoothed mattes out, in
    order, ``radius`` frames behind; frames whose numbers do not follow start
    a new window. Holds at most 2·radius + 1 frames."""
    rc = ReduceChatter(strength, radius, **kwargs)
    for frame, matte in pairs:
        yield from rc.push(frame.image, matte)
    yield from rc.flush()
