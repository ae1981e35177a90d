"""The shapes' data: what every exporter reads and the JSON file holds.

Coordinates are source pixels with the origin at the image's top-left corner,
x to the right and y down; pixel (row i, column j) covers [j, j+1] × [i, i+1],
so its centre is (j + 0.5, i + 0.5). Each shape is a closed cubic Bézier
spline: per point the anchor, the incoming handle (``left``) and the outgoing
handle (``right``) as absolute positions, and the feather (the matte's soft
edge width at that point, in pixels).

A *track* is one outline followed through frames (an outer edge or a hole);
it is cut into *segments* at keyframes and where its topology changes (a
split, a merge). Within a segment the point count is constant and point k of
one frame corresponds to point k of the next, so hosts can keyframe the
points and interpolate between frames like hand roto.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SplineFrame:
    """One segment's spline on one frame: arrays of shape (N, 2) and (N,)."""

    anchors: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feather: np.ndarray

    def copy(self) -> SplineFrame:
        return SplineFrame(self.anchors.copy(), self.left.copy(), self.right.copy(),
                           self.feather.copy())


@dataclass
class Segment:
    """Frames ``first..last`` of a track with a constant point count."""

    track: int
    index: int
    hole: bool
    frames: dict[int, SplineFrame] = field(default_factory=dict)

    @property
    def first(self) -> int:
        return min(self.frames)

    @property
    def last(self) -> int:
        return max(self.frames)

    @property
    def points(self) -> int:
        return len(next(iter(self.frames.values())).anchors)

    @property
    def name(self) -> str:
        """Unique within the object: ``s<track>`` or ``s<track>.<index>``, holes ``h…``."""
        base = f"{'h' if self.hole else 's'}{self.track}"
        return base if self.index == 0 else f"{base}.{self.index}"


@dataclass
class ObjectShapes:
    """All segments of one object (one matte layer)."""

    name: str
    segments: list[Segment] = field(default_factory=list)

    def on(self, frame: int) -> list[Segment]:
        """Segments present on ``frame``, outer shapes before holes, larger first."""
        found = [s for s in self.segments if frame in s.frames]
        return sorted(found, key=lambda s: (s.hole, -_area(s.frames[frame].anchors)))


@dataclass
class Quality:
    """How well the shapes stand for the matte (see raster.py, metrics)."""

    iou_min: float | None
    """Lowest per-frame IoU over frames where the object is larger than the size floor,
    against the thresholded matte less the specks ``min_area`` drops."""
    iou_mean: float | None
    points_constant: bool
    """Every segment keeps one point count (true by construction; checked)."""
    points: int
    """Points on the busiest frame, all segments together."""
    jitter_px: float
    """95th percentile of |p_t − (p_{t−1} + p_{t+1})/2| over corresponding points."""
    step_px: float
    """Mean frame-to-frame displacement of corresponding points (motion + jitter)."""
    segments: int
    frames: int
    iou_raw_min: float | None = None
    """Lowest per-frame IoU against the whole thresholded matte, specks included."""


@dataclass
class ShapeSet:
    """Everything ``segmatte shapes`` made from one matte sequence."""

    width: int
    height: int
    first: int
    last: int
    objects: list[ObjectShapes]
    settings: dict
    quality: dict[str, Quality] = field(default_factory=dict)
    source: str = ""


def _area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def signed_area(points: np.ndarray) -> float:
    """Shoelace area; positive when the outline turns clockwise on screen (y down)."""
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def feather_offsets(sf: SplineFrame, hole: bool) -> np.ndarray:
    """(N, 2) per-point feather vectors: the normal away from the object × the feather.

    For an outer shape that is away from its inside; for a hole, into the hole
    (which is also away from the object's pixels)."""
    t = sf.right - sf.left
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    n = np.stack([t[:, 1], -t[:, 0]], axis=1)
    centre = sf.anchors.mean(axis=0)
    outward = float(np.mean(((sf.anchors - centre) * n).sum(axis=1))) > 0
    if outward == hole:
        n = -n
    return n * sf.feather[:, None]
