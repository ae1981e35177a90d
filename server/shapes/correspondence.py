"""Outlines followed through frames: which outline continues which, and from where.

Each frame's outlines are matched to the last frame's by overlap of their
filled areas (outer edges with outer edges, holes with holes). A match keeps
the track; an outline that matches nothing starts a track; a track that
matches nothing ends. A split (one outline overlapping several of the next
frame) or a merge (several overlapping one) starts a new *segment* of the
continuing track, and so does every keyframe — points are added or removed
only there.

Within a segment the start position of the points follows the shape: of all
positions along the new outline, the one whose equally spaced points lie
closest to the last frame's points (moved by the change of centroid) wins,
first on a coarse grid over the whole outline, then refined locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .contours import Contour
from .fit import Outline

MATCH_IOU = 0.2
"""Overlap (intersection over union) for an outline to continue a track."""
TOUCH = 0.1
"""Share of an outline's area another must cover to count in a split or merge."""


@dataclass
class TrackSegment:
    """The outlines of one segment of a track, by frame."""

    track: int
    index: int
    hole: bool
    outlines: dict[int, Outline] = field(default_factory=dict)


@dataclass
class _Active:
    track: int
    segment: TrackSegment
    contour: Contour


def _window(points: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int)
    return x0, y0, x1 + 1, y1 + 1


def _fill(points: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((points - [x0 + 0.5, y0 + 0.5]) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return mask


def overlap(a: Contour, b: Contour) -> tuple[float, float, float]:
    """(intersection, area of a, area of b) of the filled outlines, pixels."""
    wa, wb = _window(a.points), _window(b.points)
    box = (min(wa[0], wb[0]), min(wa[1], wb[1]), max(wa[2], wb[2]), max(wa[3], wb[3]))
    if wa[2] < wb[0] or wb[2] < wa[0] or wa[3] < wb[1] or wb[3] < wa[1]:
        return 0.0, a.area, b.area
    ma, mb = _fill(a.points, box), _fill(b.points, box)
    return float((ma & mb).sum()), float(ma.sum()), float(mb.sum())


def follow(frames: dict[int, list[Contour]], keyframes: set[int] = frozenset()) -> list[TrackSegment]:
    """Cut every frame's outlines into tracked segments (frames in ascending order)."""
    segments: list[TrackSegment] = []
    active: list[_Active] = []
    next_track = 0
    previous_frame: int | None = None
    for frame in sorted(frames):
        current = frames[frame]
        if previous_frame is None or frame != previous_frame + 1:
            active = []  # a gap in the frames ends every track
        inter = np.zeros((len(active), len(current)))
        iou = np.zeros_like(inter)
        for i, act in enumerate(active):
            for j, c in enumerate(current):
                if act.contour.hole != c.hole:
                    continue
                x, aa, ab = overlap(act.contour, c)
                iou[i, j] = x / max(aa + ab - x, 1e-9)
                inter[i, j] = x / max(min(aa, ab), 1e-9)
        touches_prev = (inter > TOUCH).sum(axis=1) if len(current) else np.zeros(len(active))
        touches_cur = (inter > TOUCH).sum(axis=0) if len(active) else np.zeros(len(current))
        pairs = sorted(((iou[i, j], i, j) for i in range(len(active)) for j in range(len(current))
                        if iou[i, j] >= MATCH_IOU), reverse=True)
        taken_i: set[int] = set()
        taken_j: set[int] = set()
        new_active: list[_Active] = []
        for _, i, j in pairs:
            if i in taken_i or j in taken_j:
                continue
            taken_i.add(i)
            taken_j.add(j)
            act, c = active[i], current[j]
            seg = act.segment
            if frame in keyframes or touches_prev[i] > 1 or touches_cur[j] > 1:
                seg = TrackSegment(act.track, seg.index + 1, c.hole)
                segments.append(seg)
            seg.outlines[frame] = Outline.of(c.points, c.feather)
            new_active.append(_Active(act.track, seg, c))
        for j, c in enumerate(current):
            if j in taken_j:
                continue
            seg = TrackSegment(next_track, 0, c.hole, {frame: Outline.of(c.points, c.feather)})
            segments.append(seg)
            new_active.append(_Active(next_track, seg, c))
            next_track += 1
        active = new_active
        previous_frame = frame
    return segments


SHAPE_WEIGHT = 1.0
"""Weight of the outline-profile match against the point displacement in align()."""
MOVE_WEIGHT = 0.05


def align(outline: Outline, n: int, previous: Outline, previous_start: float,
          anchors: np.ndarray, shift: np.ndarray) -> float:
    """The start arc length on ``outline`` that continues ``previous`` (started at ``previous_start``).

    Two terms: how well the outline's profile (distance to the centroid along
    the arc, which ignores translation and rotation) lines up with the
    previous one's from the previous start, and — with a small weight, to
    choose between symmetric candidates — how far the new points are from
    the previous ``anchors`` moved by ``shift``. Following the profile makes
    points turn with a turning shape instead of sliding to stay close to
    where they were.
    """
    length, plen = outline.span, previous.span
    m = int(np.clip(previous.length, 64, 512))
    j = np.arange(m) / m
    c_new, c_old = outline.centroid(), previous.centroid()
    ref = np.linalg.norm(previous.at_place(previous_start + plen * j) - c_old, axis=1)
    h = length / n
    k = np.arange(n)
    target = anchors + shift

    def cost(starts: np.ndarray) -> np.ndarray:
        prof = np.linalg.norm(outline.at_place(starts[:, None] + length * j[None, :]) - c_new, axis=2)
        shape = ((prof - ref[None]) ** 2).mean(axis=1)
        pts = outline.at_place(starts[:, None] + h * k[None, :])
        move = ((pts - target[None]) ** 2).sum(axis=2).mean(axis=1)
        return SHAPE_WEIGHT * shape + MOVE_WEIGHT * move

    coarse = np.linspace(0.0, length, max(128, 4 * n), endpoint=False)
    best = coarse[int(np.argmin(cost(coarse)))]
    step = length / len(coarse)
    fine = best + np.linspace(-step, step, 33)
    return float(fine[int(np.argmin(cost(fine)))] % length)
