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


def smooth(frames: dict[int, SplineFrame], radius: int) -> dict[int, SplineFrame]:
    """Smooth runs of consecutive frames; ``radius`` frames each side (0: unchanged)."""
    if radius <= 0 or len(frames) < 4:
        return frames
    out = dict(frames)
    for run in _runs(sorted(frames)):
        window = min(2 * radius + 1, len(run) if len(run) % 2 else len(run) - 1)
        if window < 4:
            continue

        def filt(stack: np.ndarray, window: int = window) -> np.ndarray:
            return savgol_filter(stack, window, 2, axis=0, mode="interp")

        anchors = np.stack([frames[f].anchors for f in run])
        left = np.stack([frames[f].left for f in run]) - anchors
        right = np.stack([frames[f].right for f in run]) - anchors
        feather = np.stack([frames[f].feather for f in run])
        a = filt(anchors)
        lf, rt = filt(left), filt(right)
        fe = np.maximum(filt(feather), 0.0)
        for i, f in enumerate(run):
            out[f] = SplineFrame(a[i], a[i] + lf[i], a[i] + rt[i], fe[i])
    return out


def _runs(numbers: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs
