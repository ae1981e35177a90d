"""Synthetic mattes of known shapes for the shapes tests: discs, stars, a shape that splits.

Each generator returns an H×W float32 matte, anti-aliased by 4×4 supersampling
(soft edges like a real matte's, one pixel wide) or, with ``soft``, a linear
ramp of that many pixels across the edge (for the feather measurement).
Coordinates follow server/shapes/model.py: pixel centres at +0.5.
"""

from __future__ import annotations

import numpy as np

SUPER = 4


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    o = (np.arange(SUPER) + 0.5) / SUPER
    xs = (np.arange(w)[:, None] + o[None, :]).reshape(-1)
    ys = (np.arange(h)[:, None] + o[None, :]).reshape(-1)
    return np.meshgrid(xs, ys)


def _down(inside: np.ndarray, w: int, h: int) -> np.ndarray:
    return inside.reshape(h, SUPER, w, SUPER).mean(axis=(1, 3)).astype(np.float32)


def signed_disc(x: np.ndarray, y: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    return r - np.hypot(x - cx, y - cy)


def discs(w: int, h: int, circles: list[tuple[float, float, float]], soft: float = 0.0) -> np.ndarray:
    """Union of discs (cx, cy, r)."""
    if soft > 0:
        yy, xx = np.mgrid[0:h, 0:w] + 0.5
        d = np.max([signed_disc(xx, yy, *c) for c in circles], axis=0)
        return np.clip(d / soft + 0.5, 0, 1).astype(np.float32)
    x, y = _grid(w, h)
    d = np.max([signed_disc(x, y, *c) for c in circles], axis=0)
    return _down(d > 0, w, h)


def ring(w: int, h: int, cx: float, cy: float, r_out: float, r_in: float) -> np.ndarray:
    """A disc with a round hole."""
    x, y = _grid(w, h)
    d = np.hypot(x - cx, y - cy)
    return _down((d < r_out) & (d > r_in), w, h)


def star(w: int, h: int, cx: float, cy: float, r_out: float, r_in: float, tips: int = 5,
         angle: float = 0.0) -> np.ndarray:
    """A star polygon with ``tips`` points, turned by ``angle`` radians."""
    import cv2

    k = np.arange(2 * tips)
    rad = np.where(k % 2 == 0, r_out, r_in)
    a = angle + np.pi * k / tips - np.pi / 2
    poly = np.stack([cx + rad * np.cos(a), cy + rad * np.sin(a)], axis=1)
    big = np.zeros((h * SUPER, w * SUPER), np.uint8)
    pts = np.round((poly * SUPER - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(big, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return big.reshape(h, SUPER, w, SUPER).mean(axis=(1, 3)).astype(np.float32)


def splitting(w: int, h: int, t: float) -> np.ndarray:
    """Two discs joined by a neck that thins and breaks as ``t`` goes 0 → 1 (at t ≈ 0.5)."""
    x, y = _grid(w, h)
    gap = 0.3 * w * t
    c1, c2 = (w / 2 - 12 - gap / 2, h / 2), (w / 2 + 12 + gap / 2, h / 2)
    r = min(w, h) * 0.22
    d = np.maximum(signed_disc(x, y, *c1, r), signed_disc(x, y, *c2, r))
    neck_half = 8 * (1 - 2 * t)
    bar = (np.abs(y - h / 2) < neck_half) & (x > c1[0]) & (x < c2[0])
    return _down((d > 0) | bar, w, h)
