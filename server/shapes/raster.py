"""Shapes back to pixels, and the figures that say how well they fit the matte.

Rasterising uses the same convention as the outlines (pixel centres at
+0.5): a pixel is inside when its centre is inside the spline, sampled as a
fine polyline and filled by an exact even-odd scanline (``cv2.fillPoly``
also colours every pixel its edges touch, which grows a shape by about half
a pixel and would bias the IoU). Outer shapes
are drawn larger first, each followed by its holes, so an island inside a
hole survives.
"""

from __future__ import annotations

import cv2
import numpy as np

from .fit import spline_polyline
from .model import ObjectShapes, Quality, SplineFrame

SIZE_FLOOR = 32
"""Objects whose thresholded matte is at most this many pixels across are not held to the IoU goal."""


def rasterise(shapes: list[tuple[bool, SplineFrame]], width: int, height: int) -> np.ndarray:
    """(H, W) bool of ``[(hole, spline), …]``, outer shapes before their holes."""
    mask = np.zeros((height, width), np.uint8)
    outers = sorted((s for h, s in shapes if not h), key=lambda s: -_extent(s))
    holes = [s for h, s in shapes if h]
    for s in outers:
        _fill(mask, s, 1)
        for hole in holes:
            if _inside(hole, s):
                _fill(mask, hole, 0)
    return mask.astype(bool)


def _extent(s: SplineFrame) -> float:
    span = s.anchors.max(axis=0) - s.anchors.min(axis=0)
    return float(span[0] * span[1])


def _inside(hole: SplineFrame, outer: SplineFrame) -> bool:
    poly = spline_polyline(outer.anchors, outer.left, outer.right, 8).astype(np.float32)
    x, y = hole.anchors[0]
    return cv2.pointPolygonTest(poly.reshape(-1, 1, 2), (float(x), float(y)), False) >= 0


def _fill(mask: np.ndarray, s: SplineFrame, value: int) -> None:
    inside = fill_polygon(spline_polyline(s.anchors, s.left, s.right), *mask.shape[::-1])
    mask[inside] = value


def fill_polygon(poly: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) bool: pixels whose centre is inside the closed polygon (even-odd rule)."""
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    lo = max(0, int(np.floor(poly[:, 1].min())))
    hi = min(height, int(np.ceil(poly[:, 1].max())) + 1)
    out = np.zeros((height, width), bool)
    if hi <= lo:
        return out
    yc = np.arange(lo, hi) + 0.5
    ya, yb = np.minimum(y0, y1), np.maximum(y0, y1)
    hit = (ya[None, :] <= yc[:, None]) & (yc[:, None] < yb[None, :])
    rows, edges = np.nonzero(hit)
    if len(rows) == 0:
        return out
    t = (yc[rows] - y0[edges]) / (y1[edges] - y0[edges])
    xs = x0[edges] + t * (x1[edges] - x0[edges])
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    first = np.searchsorted(rows, rows, side="left")
    rank = np.arange(len(rows)) - first
    col = np.clip(np.ceil(xs - 0.5).astype(np.int64), 0, width)
    diff = np.zeros((hi - lo, width + 1), np.int32)
    np.add.at(diff, (rows, col), np.where(rank % 2 == 0, 1, -1))
    out[lo:hi] = np.cumsum(diff, axis=1)[:, :width] > 0
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def without_specks(binary: np.ndarray, min_area: float) -> np.ndarray:
    """``binary`` less the islands, and with the holes filled, smaller than ``min_area``
    pixels: the matte the shapes are meant to stand for once specks are dropped."""
    if min_area <= 1:
        return binary
    out = binary.copy()
    for value, conn in ((True, 8), (False, 4)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats((out == value).astype(np.uint8),
                                                               connectivity=conn)
        small = np.nonzero(stats[1:, cv2.CC_STAT_AREA] < min_area)[0] + 1
        if len(small):
            out[np.isin(labels, small)] = not value
    return out


def object_size(binary: np.ndarray) -> int:
    """Largest side of the bounding box of the matte's pixels (0 when empty)."""
    ys, xs = np.nonzero(binary)
    if len(xs) == 0:
        return 0
    return int(max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1))


def motion(obj: ObjectShapes) -> tuple[float, float]:
    """(jitter, step) of corresponding points, pixels (see model.Quality)."""
    wobble: list[np.ndarray] = []
    steps: list[np.ndarray] = []
    for seg in obj.segments:
        for f, sf in seg.frames.items():
            prev, nxt = seg.frames.get(f - 1), seg.frames.get(f + 1)
            if prev is not None:
                steps.append(np.linalg.norm(sf.anchors - prev.anchors, axis=1))
            if prev is not None and nxt is not None:
                mid = (prev.anchors + nxt.anchors) / 2
                wobble.append(np.linalg.norm(sf.anchors - mid, axis=1))
    jitter = float(np.percentile(np.concatenate(wobble), 95)) if wobble else 0.0
    step = float(np.concatenate(steps).mean()) if steps else 0.0
    return jitter, step


def quality(obj: ObjectShapes, ious: dict[int, float], frames: int,
            raw: dict[int, float] | None = None) -> Quality:
    counts: dict[int, int] = {}
    constant = True
    for seg in obj.segments:
        sizes = {len(sf.anchors) for sf in seg.frames.values()}
        constant &= len(sizes) == 1
        for f, sf in seg.frames.items():
            counts[f] = counts.get(f, 0) + len(sf.anchors)
    jitter, step = motion(obj)
    values = list(ious.values())
    return Quality(
        iou_min=min(values) if values else None,
        iou_mean=float(np.mean(values)) if values else None,
        points_constant=constant,
        points=max(counts.values()) if counts else 0,
        jitter_px=jitter,
        step_px=step,
        segments=len(obj.segments),
        frames=frames,
        iou_raw_min=min(raw.values()) if raw else None,
    )
