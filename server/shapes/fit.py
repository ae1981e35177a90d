"""Cubic Bézier splines fitted to closed outlines, with points placed by arc length.

Points sit at equal steps of a placement parameter — arc length plus a
little for every radian the outline turns, so corners get more points than
straight runs — from a start position ``s0``. That is what keeps
correspondence across frames: with the same count and a start that follows
the shape (see correspondence.py), point k of one frame lands where point k
of the last one moved to. Between two points the span is a
cubic whose end tangents follow the outline and whose handle lengths are the
least-squares fit to the outline between them (Schneider's fitting with the
tangents fixed), so handles stay aligned (smooth points, editable like hand
roto). The count is the smallest that keeps the fit within the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

CURVATURE_WEIGHT = 4.0
"""Pixels of placement added per radian the outline turns (0: plain arc length)."""
PLACE_SIGMA = 2.0
"""Smoothing, in outline samples (about a pixel each), before the turning is measured."""
CURVE_SAMPLES = 24
"""Polyline samples per span used to measure a fit's distance to the outline."""


@dataclass
class Outline:
    """A closed outline with two parameters: its arc length, and the placement parameter.

    Points are placed at equal steps of the *placement* parameter: arc length
    weighted by how sharply the outline turns (curvature of a smoothed copy,
    itself smoothed along the outline), so corners get points and straight
    runs few, and pixel noise neither adds points nor slides them from frame
    to frame. Start positions (``s0``) are in placement units.
    """

    points: np.ndarray
    feather: np.ndarray
    cum: np.ndarray
    """(M+1,) arc length at each point, cum[0] = 0, cum[M] = length."""
    place: np.ndarray
    """(M+1,) placement parameter at each point."""

    @classmethod
    def of(cls, points: np.ndarray, feather: np.ndarray | None = None) -> Outline:
        pts = np.asarray(points, np.float64)
        f = np.zeros(len(pts)) if feather is None else np.asarray(feather, np.float64)
        cum = _cum(pts)
        return cls(pts, f, cum, _placement(pts, cum))

    @property
    def length(self) -> float:
        return float(self.cum[-1])

    @property
    def span(self) -> float:
        """Total of the placement parameter."""
        return float(self.place[-1])

    def raw(self, c: np.ndarray) -> np.ndarray:
        """Arc length at placement values ``c`` (unwrapped: monotonic in ``c``)."""
        c = np.asarray(c, np.float64)
        turns = np.floor(c / self.span)
        return np.interp(c - turns * self.span, self.place, self.cum) + turns * self.length

    def at(self, s: np.ndarray) -> np.ndarray:
        """Positions at arc lengths ``s`` (any shape; taken modulo the length)."""
        s = np.mod(np.asarray(s, np.float64), self.length)
        closed = np.vstack([self.points, self.points[:1]])
        x = np.interp(s, self.cum, closed[:, 0])
        y = np.interp(s, self.cum, closed[:, 1])
        return np.stack([x, y], axis=-1)

    def at_place(self, c: np.ndarray) -> np.ndarray:
        return self.at(self.raw(c))

    def feather_at(self, s: np.ndarray) -> np.ndarray:
        s = np.mod(np.asarray(s, np.float64), self.length)
        return np.interp(s, self.cum, np.append(self.feather, self.feather[:1]))

    def centroid(self) -> np.ndarray:
        x, y = self.points[:, 0], self.points[:, 1]
        xn, yn = np.roll(x, -1), np.roll(y, -1)
        cross = x * yn - xn * y
        a = cross.sum() / 2
        if abs(a) < 1e-9:
            return self.points.mean(axis=0)
        return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6 * a)

    def start(self) -> float:
        """A canonical start for a new segment (placement units): the topmost point, then leftmost."""
        i = int(np.lexsort((self.points[:, 0], np.round(self.points[:, 1], 3)))[0])
        return float(self.place[i])


def _cum(pts: np.ndarray) -> np.ndarray:
    closed = np.vstack([pts, pts[:1]])
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])


def _placement(pts: np.ndarray, cum: np.ndarray) -> np.ndarray:
    if len(pts) <= 8 or CURVATURE_WEIGHT <= 0:
        return cum.copy()
    calm = gaussian_filter1d(pts, PLACE_SIGMA, axis=0, mode="wrap")
    d = np.roll(calm, -1, axis=0) - np.roll(calm, 1, axis=0)
    angle = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs(np.angle(np.exp(1j * (np.roll(angle, -1) - angle))))  # per sample, radians
    step = np.diff(cum)
    turn = gaussian_filter1d(turn, PLACE_SIGMA * 2, mode="wrap")
    w = step + CURVATURE_WEIGHT * turn
    return np.concatenate([[0.0], np.cumsum(w)])


@dataclass
class Fit:
    anchors: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feather: np.ndarray
    error: float
    """Largest distance, pixels, from the outline to the spline."""


def bernstein(t: np.ndarray) -> np.ndarray:
    """(…, 4) cubic Bernstein weights."""
    u = 1.0 - t
    return np.stack([u ** 3, 3 * u * u * t, 3 * u * t * t, t ** 3], axis=-1)


def spline_polyline(anchors: np.ndarray, left: np.ndarray, right: np.ndarray,
                    per_span: int = CURVE_SAMPLES) -> np.ndarray:
    """The closed spline as a polyline, ``per_span`` samples per span (no repeat at the end)."""
    p0, p1 = anchors, right
    p2, p3 = np.roll(left, -1, axis=0), np.roll(anchors, -1, axis=0)
    b = bernstein(np.arange(per_span) / per_span)  # (S, 4)
    ctrl = np.stack([p0, p1, p2, p3], axis=1)  # (N, 4, 2)
    return np.einsum("sk,nkd->nsd", b, ctrl).reshape(-1, 2)


def fit(outline: Outline, s0: float, n: int) -> Fit:
    """The spline of ``n`` points from placement ``s0``, handles fitted to the outline."""
    s = outline.raw(s0 + outline.span / n * np.arange(n + 1))
    h = np.diff(s)  # each span's arc length
    s = s[:-1]
    a = outline.at(s)
    delta = np.clip(0.4 * np.minimum(h, np.roll(h, 1)), 1.0, 6.0)[:, None]
    tang = outline.at(s + delta[:, 0]) - outline.at(s - delta[:, 0])
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-9)
    j = int(np.clip(np.ceil(h.max()), 6, 200))
    t = np.arange(1, j + 1) / (j + 1)
    q = outline.at(s[:, None] + h[:, None] * t[None, :])  # (n, j, 2)
    b = bernstein(t)  # (j, 4)
    a1 = np.roll(a, -1, axis=0)
    t1 = np.roll(tang, -1, axis=0)
    base = (b[:, 0] + b[:, 1])[None, :, None] * a[:, None, :] + \
        (b[:, 2] + b[:, 3])[None, :, None] * a1[:, None, :]
    r = q - base
    u = b[None, :, 1, None] * tang[:, None, :]
    w = -b[None, :, 2, None] * t1[:, None, :]
    uu, uw, ww = (u * u).sum((1, 2)), (u * w).sum((1, 2)), (w * w).sum((1, 2))
    ur, wr = (u * r).sum((1, 2)), (w * r).sum((1, 2))
    det = uu * ww - uw * uw
    chord = np.linalg.norm(a1 - a, axis=1)
    safe = np.abs(det) > 1e-12
    alpha = np.where(safe, (ur * ww - wr * uw) / np.where(safe, det, 1.0), chord / 3)
    beta = np.where(safe, (wr * uu - ur * uw) / np.where(safe, det, 1.0), chord / 3)
    top = np.maximum(chord, 1e-6)
    alpha = np.clip(alpha, 0.02 * top, top)
    beta = np.clip(beta, 0.02 * top, top)
    right = a + alpha[:, None] * tang
    left = np.roll(a1 - beta[:, None] * t1, 1, axis=0)
    err = _distance(q, a, right, np.roll(left, -1, axis=0), a1)
    return Fit(a, left, right, outline.feather_at(s), err)


def _distance(q: np.ndarray, p0, p1, p2, p3) -> float:
    """Largest distance of the samples ``q`` (n, j, 2) to their span's curve (a fine polyline)."""
    b = bernstein(np.linspace(0.0, 1.0, CURVE_SAMPLES + 1))
    ctrl = np.stack([p0, p1, p2, p3], axis=1)
    c = np.einsum("sk,nkd->nsd", b, ctrl)  # (n, S+1, 2)
    a0, seg = c[:, :-1], np.diff(c, axis=1)  # (n, S, 2)
    rel = q[:, :, None, :] - a0[:, None, :, :]  # (n, j, S, 2)
    ll = np.maximum((seg * seg).sum(-1), 1e-12)[:, None, :]
    tt = np.clip((rel * seg[:, None]).sum(-1) / ll, 0.0, 1.0)
    d = np.linalg.norm(rel - tt[..., None] * seg[:, None], axis=-1).min(axis=2)
    return float(d.max()) if d.size else 0.0


def count_for(outline: Outline, tolerance: float, s0: float = 0.0, least: int = 4,
              most: int | None = None) -> int:
    """The smallest point count whose fit from ``s0`` stays within ``tolerance`` pixels."""
    top = max(least, most if most is not None else int(outline.length / 2))
    if fit(outline, s0, least).error <= tolerance:
        return least
    lo, hi = least, least
    while hi < top:
        hi = min(top, hi * 2)
        if fit(outline, s0, hi).error <= tolerance:
            break
        lo = hi
    else:
        return top
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fit(outline, s0, mid).error <= tolerance:
            hi = mid
        else:
            lo = mid
    return hi
