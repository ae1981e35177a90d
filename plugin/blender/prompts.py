"""The artist's prompts in Blender → points and boxes in source pixels.

Three kinds of Blender data become prompts, on every frame of the range
where the artist placed them (source frame numbers, see :class:`Frames`):

- Tracking markers of the clip → one point each.
- Splines of a Mask datablock → a box (the bounding box of the sampled
  Bézier curve) and/or points inside it, one object per mask layer.
- Annotation strokes drawn on the clip → a point (a dab) or a few points
  along the stroke.

Objects and signs come from names: a track, mask layer or annotation layer
named ``car``, ``car.001`` or ``car.left`` prompts the object ``car``; a name
starting with ``-`` or ``neg`` + separator (``-car``, ``neg_car``,
``neg.car``) makes *negative* points (exclude) for that object. The mask
layer's Invert toggle makes its points negative too.

Coordinates sent to the server are source pixels, origin top-left, y down.
Markers and annotations are 0–1 from the bottom-left of the frame; mask space
is 0–1 too but its shorter axis is rescaled about 0.5 (a 16:9 frame spans
y 0.22 … 0.78 of mask space).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .client.jobspec import Box, ObjectPrompts, Point

_NEGATIVE = re.compile(r"^(?:-\s*|neg(?:[\s_.:\-]+|$))", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]+")

DEFAULT_OBJECT = "object"
SAMPLES_PER_SEGMENT = 16
STROKE_POINTS = 5
"""Most points one long annotation stroke gives."""
DAB_SIZE = 0.02
"""A stroke smaller than this share of the frame is a dab: one point."""


# --- names --------------------------------------------------------------------


def parse_name(name: str) -> tuple[str, int]:
    """A track / layer name → (object id, label): label 1 = positive, 0 = negative.

    ``"car.001"`` → ("car", 1); ``"-car"`` / ``"neg_car"`` → ("car", 0);
    ``"neg"`` → ("object", 0). Ids keep only letters, digits, ``_`` and ``-``.
    """
    text = name.strip()
    label = 1
    m = _NEGATIVE.match(text)
    if m:
        label = 0
        text = text[m.end():]
    text = text.split(".", 1)[0]
    return object_id(text), label


def object_id(text: str) -> str:
    """A string made into a valid object id (1–64 of ``[A-Za-z0-9_-]``)."""
    cleaned = _UNSAFE.sub("_", text.strip()).strip("_")[:64]
    return cleaned or DEFAULT_OBJECT


# --- coordinates --------------------------------------------------------------


def normalized_to_pixels(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """0–1 bottom-left (markers, annotations) → source pixels top-left."""
    return x * width, (1.0 - y) * height


def mask_to_normalized(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Mask space → 0–1 bottom-left of the frame (the short axis is rescaled about 0.5)."""
    if width > height:
        y = (y - 0.5) * width / height + 0.5
    elif height > width:
        x = (x - 0.5) * height / width + 0.5
    return x, y


def mask_to_pixels(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    return normalized_to_pixels(*mask_to_normalized(x, y, width, height), width, height)


def bezier(p0, p1, p2, p3, n: int = SAMPLES_PER_SEGMENT) -> list[tuple[float, float]]:
    """``n`` points of a cubic Bézier segment, its start included, its end not."""
    out = []
    for i in range(n):
        t = i / n
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def inside(polygon: list[tuple[float, float]], x: float, y: float) -> bool:
    """Even-odd rule."""
    hit = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            hit = not hit
        j = i
    return hit


def _edge_distance(polygon: list[tuple[float, float]], x: float, y: float) -> float:
    best = math.inf
    for i in range(len(polygon)):
        (ax, ay), (bx, by) = polygon[i - 1], polygon[i]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        best = min(best, math.hypot(x - ax - t * dx, y - ay - t * dy))
    return best


def interior_point(polygon: list[tuple[float, float]], grid: int = 24) -> tuple[float, float] | None:
    """The point of a coarse grid inside ``polygon`` farthest from its edge, or None."""
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    best, where = -1.0, None
    for i in range(grid):
        for j in range(grid):
            x = min(xs) + (max(xs) - min(xs)) * (i + 0.5) / grid
            y = min(ys) + (max(ys) - min(ys)) * (j + 0.5) / grid
            if inside(polygon, x, y):
                d = _edge_distance(polygon, x, y)
                if d > best:
                    best, where = d, (x, y)
    return where


# --- what is gathered ---------------------------------------------------------


@dataclass
class FramePrompts:
    """One object's prompts on one source frame (source pixels, top-left origin)."""

    points: list[Point] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    """Where each prompt came from (for the UI)."""


@dataclass
class Gathered:
    """One object's prompts, keyed by source frame number."""

    id: str
    frames: dict[int, FramePrompts] = field(default_factory=dict)

    def at(self, frame: int) -> FramePrompts:
        return self.frames.setdefault(int(frame), FramePrompts())

    @property
    def positives(self) -> int:
        return sum(1 for f in self.frames.values() for p in f.points if p.label == 1)

    @property
    def negatives(self) -> int:
        return sum(1 for f in self.frames.values() for p in f.points if p.label == 0)

    @property
    def boxes(self) -> int:
        return sum(len(f.boxes) for f in self.frames.values())

    @property
    def origins(self) -> list[str]:
        return [o for f in self.frames.values() for o in f.origins]


class Prompts:
    """Prompts gathered over a range of frames, grouped by object id (first-seen order)."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.objects: dict[str, Gathered] = {}

    def _object(self, oid: str) -> Gathered:
        return self.objects.setdefault(oid, Gathered(oid))

    def point(self, oid: str, frame: int, x: float, y: float, label: int, origin: str) -> bool:
        """Add a point on source ``frame``; one outside the picture (a marker off screen) is
        left out."""
        if not (0.0 <= x <= self.width and 0.0 <= y <= self.height):
            return False
        at = self._object(oid).at(frame)
        at.points.append(Point(round(x, 3), round(y, 3), 1 if label else 0))
        at.origins.append(origin)
        return True

    def box(self, oid: str, frame: int, x0: float, y0: float, x1: float, y1: float,
            origin: str) -> bool:
        x0, x1 = max(0.0, min(x0, x1)), min(float(self.width), max(x0, x1))
        y0, y1 = max(0.0, min(y0, y1)), min(float(self.height), max(y0, y1))
        if x1 - x0 < 1 or y1 - y0 < 1:
            return False
        at = self._object(oid).at(frame)
        at.boxes.append(Box(round(x0, 3), round(y0, 3), round(x1, 3), round(y1, 3)))
        at.origins.append(origin)
        return True

    def frames(self) -> list[int]:
        return sorted({n for o in self.objects.values() for n in o.frames})

    def add_to(self, spec_objects: dict[str, ObjectPrompts], only: set[str] | None = None) -> None:
        """Merge these prompts into ``spec_objects`` (id → jobspec ObjectPrompts), every frame."""
        for obj in self.objects.values():
            if only is not None and obj.id not in only:
                continue
            for number, at in sorted(obj.frames.items()):
                if not (at.points or at.boxes):
                    continue
                target = spec_objects.get(obj.id) or spec_objects.setdefault(
                    obj.id, ObjectPrompts(obj.id))
                # a box is at most one per keyframe (the tracker takes one): the first wins
                boxes = [] if target.keyframes.get(number) and target.keyframes[number].boxes \
                    else at.boxes[:1]
                target.add(number, points=at.points, boxes=boxes)


# --- Blender data → prompts ---------------------------------------------------


class Frames:
    """The scene frames to read and how they map to source and clip frames.

    ``to_source(scene_frame)`` and ``clip_frame(scene_frame)`` come from
    ``sources.Source`` (any object with those two methods will do).
    """

    def __init__(self, source, scene_frames: Iterable[int], current: int) -> None:
        self.source = source
        self.scene_frames = list(scene_frames)
        self.current = int(current)

    def __contains__(self, scene_frame: int) -> bool:
        return bool(self.scene_frames) and self.scene_frames[0] <= scene_frame <= self.scene_frames[-1]

    def to_source(self, scene_frame: int) -> int:
        return int(self.source.to_source(scene_frame))

    def scene_of_clip(self, clip_frame: int) -> int:
        """The scene frame of a clip frame (markers count clip frames)."""
        return int(clip_frame) + int(getattr(self.source, "clip_start", 1)) - 1


def add_markers(prompts: Prompts, clip, frames: Frames, keyed_only: bool = True) -> int:
    """Markers of every tracking object on every frame of ``frames`` (not muted, track shown).

    ``keyed_only``: only markers the artist placed (keyframed), not every tracked one:
    a track followed over 100 frames would otherwise make 100 keyframes.
    """
    count = 0
    for tracking_object in clip.tracking.objects:
        for track in tracking_object.tracks:
            if track.hide:
                continue
            oid, label = parse_name(track.name)
            for marker in track.markers:
                scene_frame = frames.scene_of_clip(marker.frame)
                if marker.mute or scene_frame not in frames:
                    continue
                if keyed_only and not getattr(marker, "is_keyed", True):
                    continue
                x, y = normalized_to_pixels(marker.co[0], marker.co[1], prompts.width,
                                            prompts.height)
                count += prompts.point(oid, frames.to_source(scene_frame), x, y, label,
                                       f"marker {track.name} @{scene_frame}")
    return count


def spline_polygon(spline, width: int, height: int) -> list[tuple[float, float]]:
    """A mask spline sampled along its Béziers, in source pixels."""
    points = list(spline.points)
    if not points:
        return []
    segments = len(points) if spline.use_cyclic else len(points) - 1
    samples: list[tuple[float, float]] = []
    for i in range(segments):
        a, b = points[i], points[(i + 1) % len(points)]
        samples += bezier(a.co, a.handle_right, b.handle_left, b.co)
    if not spline.use_cyclic or not samples:
        samples.append(tuple(points[-1].co))
    return [mask_to_pixels(x, y, width, height) for x, y in samples]


def mask_key_frames(mask, frames: Frames) -> list[int]:
    """Scene frames of the range where the mask's splines are keyframed (its action's
    keys); the current frame when it is not animated there."""
    keyed: set[int] = set()
    action = getattr(getattr(mask, "animation_data", None), "action", None)
    for fcurve in _fcurves(action):
        for key in fcurve.keyframe_points:
            frame = int(round(key.co[0]))
            if frame in frames:
                keyed.add(frame)
    return sorted(keyed) or [frames.current]


def _fcurves(action) -> list:
    """An action's F-curves: ``action.fcurves`` (≤ 4.x) or those of its layered channelbags."""
    if action is None:
        return []
    if hasattr(action, "fcurves") and not hasattr(action, "layers"):
        return list(action.fcurves)
    out = list(getattr(action, "fcurves", []) or [])
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                out += list(bag.fcurves)
    return out


def add_mask(prompts: Prompts, shapes, use_boxes: bool = True, use_points: bool = False) -> int:
    """Each visible layer of a mask is an object: a box per spline and/or a point inside it.

    ``shapes``: (source frame, the mask as evaluated on that frame) pairs, one
    per keyframe of the mask (see :func:`mask_key_frames`). A negative layer
    (by name or Invert) gives negative points and no boxes: a box can only include.
    """
    count = 0
    for number, mask in shapes:
        for layer in mask.layers:
            if layer.hide:
                continue
            oid, label = parse_name(layer.name)
            if layer.invert:
                label = 0
            for index, spline in enumerate(layer.splines):
                polygon = spline_polygon(spline, prompts.width, prompts.height)
                if len(polygon) < 2:
                    continue
                origin = f"mask {mask.name}/{layer.name} spline {index + 1} @{number}"
                xs = [p[0] for p in polygon]
                ys = [p[1] for p in polygon]
                if label == 1 and use_boxes:
                    count += prompts.box(oid, number, min(xs), min(ys), max(xs), max(ys), origin)
                if use_points or label == 0:
                    inner = interior_point(polygon) if len(polygon) > 2 else None
                    if inner is not None:
                        count += prompts.point(oid, number, inner[0], inner[1], label, origin)
    return count


def annotation_of(clip):
    """The clip's annotation datablock: ``annotation`` (5.0+) or ``grease_pencil`` (≤ 4.5)."""
    return getattr(clip, "annotation", None) if hasattr(clip, "annotation") else \
        getattr(clip, "grease_pencil", None)


def stroke_points(coords: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """0–1 stroke points → the prompt points: the centre of a dab, else a few along it."""
    if not coords:
        return []
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    if len(coords) <= 2 or max(max(xs) - min(xs), max(ys) - min(ys)) < DAB_SIZE:
        return [(sum(xs) / len(xs), sum(ys) / len(ys))]
    n = min(STROKE_POINTS, len(coords))
    return [coords[round(i * (len(coords) - 1) / (n - 1))] for i in range(n)]


def add_annotations(prompts: Prompts, data, frames: Frames) -> int:
    """Strokes of each visible annotation layer: each drawn frame of the range prompts there.

    A layer drawn only before the range prompts on the current frame with its
    latest drawing (an annotation holds until the next one).
    """
    if data is None:
        return 0
    count = 0
    for layer in data.layers:
        if getattr(layer, "annotation_hide", False) or getattr(layer, "hide", False):
            continue
        name = getattr(layer, "info", None) or getattr(layer, "name", "")
        oid, label = parse_name(name)
        drawn = [f for f in layer.frames if f.frame_number in frames and len(f.strokes)]
        if not drawn:
            held = [f for f in layer.frames if f.frame_number <= frames.current]
            drawn = [max(held, key=lambda f: f.frame_number)] if held else []
            where = {id(f): frames.current for f in drawn}
        else:
            where = {id(f): f.frame_number for f in drawn}
        for frame in drawn:
            scene_frame = where[id(frame)]
            number = frames.to_source(scene_frame)
            for index, stroke in enumerate(frame.strokes):
                coords = [(p.co[0], p.co[1]) for p in stroke.points]
                for x, y in stroke_points(coords):
                    px, py = normalized_to_pixels(x, y, prompts.width, prompts.height)
                    count += prompts.point(oid, number, px, py, label,
                                           f"annotation {name} stroke {index + 1} @{scene_frame}")
    return count
