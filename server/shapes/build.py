"""Mattes → tracked, fitted, smoothed shapes, with their quality figures.

One way through: trace every frame's outlines (contours.py), follow them
through frames into segments (correspondence.py), give each segment one
point count — the largest any of its frames needs for the tolerance — and fit
every frame from a start that follows the shape (fit.py), smooth the points
over time (smooth.py), then rasterise the result and compare it with the
thresholded matte (raster.py). Mattes are read twice (trace, then measure)
rather than held, so memory stays small on long sequences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .contours import trace
from .correspondence import TrackSegment, align, follow
from .fit import count_for, fit
from .model import ObjectShapes, Segment, ShapeSet, SplineFrame
from .raster import SIZE_FLOOR, iou, object_size, quality, rasterise, without_specks
from .smooth import smooth
from .source import MatteSequence


@dataclass
class Settings:
    threshold: float = 0.5
    """Matte level the outline follows (and the IoU is measured against)."""
    tolerance: float = 0.3
    """Largest distance, pixels, from the traced outline to the spline on any frame."""
    min_area: float = 16.0
    """Islands and holes smaller than this many pixels are dropped."""
    smooth: int = 2
    """Temporal smoothing radius in frames (0: none)."""
    keyframes: tuple[int, ...] = ()
    """Frames where every shape starts a new segment (points may be added or removed)."""
    min_points: int = 4
    max_points: int = 400
    feather_reach: float = 16.0
    """Widest soft edge measured, pixels."""

    def to_json(self) -> dict:
        d = asdict(self)
        d["keyframes"] = list(self.keyframes)
        return d


@dataclass
class Progress:
    """What build() reports as it goes (stage, object, done, total)."""

    callback: Callable[[str, str, int, int], None] | None = None

    def __call__(self, stage: str, obj: str, done: int, total: int) -> None:
        if self.callback:
            self.callback(stage, obj, done, total)


@dataclass
class ObjectResult:
    shapes: ObjectShapes
    ious: dict[int, float] = field(default_factory=dict)
    """Per frame, against the thresholded matte less the dropped specks."""
    raw: dict[int, float] = field(default_factory=dict)
    """Per frame, against the whole thresholded matte."""


def splines(seg: TrackSegment, s: Settings) -> dict[int, SplineFrame]:
    """One segment's spline on each of its frames, with one point count throughout."""
    frames = sorted(seg.outlines)
    n = max(count_for(seg.outlines[f], s.tolerance, seg.outlines[f].start(), s.min_points,
                      s.max_points) for f in frames)
    for _ in range(4):
        out: dict[int, SplineFrame] = {}
        worst = 0.0
        prev = None
        for f in frames:
            o = seg.outlines[f]
            centroid = o.centroid()
            if prev is None:
                s0 = o.start()
            else:
                p_outline, p_start, p_anchors, p_centroid = prev
                s0 = align(o, n, p_outline, p_start, p_anchors, centroid - p_centroid)
            ft = fit(o, s0, n)
            worst = max(worst, ft.error)
            out[f] = SplineFrame(ft.anchors, ft.left, ft.right, ft.feather)
            prev = (o, s0, ft.anchors, centroid)
        if worst <= s.tolerance * 1.5 or n >= s.max_points:
            return out
        n = min(s.max_points, math.ceil(n * 1.25))
    return out


def build_object(name: str, frames: list[int], read: Callable[[int], np.ndarray], s: Settings,
                 progress: Progress | None = None) -> ObjectResult:
    progress = progress or Progress()
    traced = {}
    for i, f in enumerate(frames):
        traced[f] = trace(read(f), threshold=s.threshold, min_area=s.min_area,
                          feather_reach=s.feather_reach)
        progress("trace", name, i + 1, len(frames))
    segments = []
    tracked = follow(traced, set(s.keyframes))
    for i, seg in enumerate(tracked):
        fitted = smooth(splines(seg, s), s.smooth, s.tolerance)
        segments.append(Segment(seg.track, seg.index, seg.hole, fitted))
        progress("fit", name, i + 1, len(tracked))
    obj = ObjectShapes(name, sorted(segments, key=lambda g: (g.first, g.track, g.index)))
    result = ObjectResult(obj)
    for i, f in enumerate(frames):
        matte = read(f)
        binary = matte >= s.threshold
        if object_size(binary) > SIZE_FLOOR:
            drawn = rasterise([(g.hole, g.frames[f]) for g in obj.on(f)], *binary.shape[::-1])
            result.ious[f] = iou(drawn, without_specks(binary, s.min_area))
            result.raw[f] = iou(drawn, binary)
        progress("measure", name, i + 1, len(frames))
    return result


def build(mattes: MatteSequence, s: Settings, progress: Progress | None = None) -> tuple[ShapeSet, dict[str, dict[int, float]]]:
    """Shapes of every object of ``mattes``, quality filled in; also the per-frame IoUs."""
    objects = []
    ious: dict[str, dict[int, float]] = {}
    shapes = ShapeSet(mattes.width, mattes.height, mattes.frames[0], mattes.frames[-1], [],
                      s.to_json(), source=mattes.where)
    for name in mattes.objects:
        frames = sorted(mattes.files[name]) or mattes.frames
        res = build_object(name, frames, lambda f, n=name: mattes.read(n, f), s, progress)
        objects.append(res.shapes)
        ious[name] = res.ious
        shapes.quality[name] = quality(res.shapes, res.ious, len(frames), res.raw)
    shapes.objects = objects
    return shapes, ious
