"""Temporal smoothing of corresponding points (Savitzky–Golay over frames).

A quadratic Savitzky–Golay filter removes frame-to-frame wobble of the points
while keeping steady motion (constant velocity and acceleration pass through
unchanged), so a moving shape does not lag or shrink the way a plain average
would. Handles are smoothed as offsets from their anchor, so smoothing never
turns a smooth point into a cusp.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from .model import SplineFrame

ORDER = 2
"""Polynomial order of the Savitzky–Golay filter."""


def smooth(frames: dict[int, SplineFrame], radius: int,
           limit: float = np.inf) -> dict[int, SplineFrame]:
    """Smooth runs of consecutive frames; ``radius`` frames each side (0: unchanged).

    No point moves more than ``limit`` pixels from where the fit put it: the
    filter takes out wobble up to that size and leaves real (fast, non-uniform)
    motion — a limb swinging — to the fit, so smoothing never costs fidelity
    beyond the tolerance."""
    if radius <= 0 or len(frames) < 4:
        return frames
    out = dict(frames)
    for run in _runs(sorted(frames)):
        window = min(2 * radius + 1, len(run) if len(run) % 2 else len(run) - 1)
        if window < 4:
            continue

        def filt(stack: np.ndarray, window: int = window) -> np.ndarray:
            return savgol_filter(stack, window, ORDER, axis=0, mode="interp")

        anchors = np.stack([frames[f].anchors for f in run])
        left = np.stack([frames[f].left for f in run]) - anchors
        right = np.stack([frames[f].right for f in run]) - anchors
        feather = np.stack([frames[f].feather for f in run])
        tangent = right - left
        tangent /= np.maximum(np.linalg.norm(tangent, axis=-1, keepdims=True), 1e-9)
        a = anchors + _normal_clamp(filt(anchors) - anchors, tangent, limit)
        lf, rt = left + _clamp(filt(left) - left, limit), right + _clamp(filt(right) - right, limit)
        fe = np.maximum(filt(feather), 0.0)
        for i, f in enumerate(run):
            out[f] = SplineFrame(a[i], a[i] + lf[i], a[i] + rt[i], fe[i])
    return out


def _normal_clamp(delta: np.ndarray, tangent: np.ndarray, limit: float) -> np.ndarray:
    """Keep the part of ``delta`` along the outline; shorten the part across it to ``limit``.

    Sliding along the outline does not change the shape, so the filter may
    take out all of that wobble (noise in the outline's length slides points
    along it); across the outline it may only remove what the tolerance allows."""
    along = (delta * tangent).sum(axis=-1, keepdims=True) * tangent
    return along + _clamp(delta - along, limit)


def _clamp(delta: np.ndarray, limit: float) -> np.ndarray:
    """Shorten (…, 2) displacement vectors to at most ``limit``."""
    if not np.isfinite(limit):
        return delta
    length = np.linalg.norm(delta, axis=-1, keepdims=True)
    return delta * np.minimum(1.0, limit / np.maximum(length, 1e-12))


def _runs(numbers: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs
