"""Prompts checked at the door: one function for jobs, sessions and batch.

Everything that can be wrong with a prompt is known before a frame is read:
the engine takes that kind of prompt (text on the tracker fails here, not
after the progress bar started), the keyframe lies on a frame of the range,
points and boxes lie inside the picture, object names are unique. Each
problem is one sentence naming the object and the frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from segmatte.models.prompts import Box, Keyframe, ObjectPrompts, Point

from .spec import SpecError

KIND_WORDS = {"points": "points", "boxes": "boxes", "mask": "a mask", "text": "text"}


def keyframe_kinds(kf: Keyframe) -> list[str]:
    return [k for k, present in (("points", kf.points), ("boxes", kf.boxes),
                                 ("mask", kf.mask), ("text", kf.text)) if present]


def _takes(kinds: Iterable[str]) -> str:
    words = [KIND_WORDS[k] for k in sorted(kinds)]
    if not words:
        return "no prompts"
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def check_inside(what: str, x: float, y: float, width: int, height: int) -> None:
    if not (0 <= x <= width and 0 <= y <= height):
        raise SpecError(f"{what} ({x:g}, {y:g}) lies outside the {width}x{height} picture")


def check_shapes(where: str, points: Sequence[Point], boxes: Sequence[Box], width: int,
                 height: int) -> None:
    for p in points:
        check_inside(f"{where}: point", p.x, p.y, width, height)
    for b in boxes:
        check_inside(f"{where}: box corner", b.x0, b.y0, width, height)
        check_inside(f"{where}: box corner", b.x1, b.y1, width, height)


def check_kinds(objects: Sequence[ObjectPrompts], *, engine: str, takes: frozenset[str]) -> None:
    """The engine takes each kind of prompt given (cheap: before the model or media is looked at)."""
    for obj in objects:
        for kf in obj.keyframes:
            refused = [k for k in keyframe_kinds(kf) if k not in takes]
            if refused:
                hint = "; text prompts need --engine text" if refused[0] == "text" else ""
                raise SpecError(f"object {obj.id}, frame {kf.frame}: the {engine} engine takes "
                                f"{_takes(takes)}, not {KIND_WORDS[refused[0]]}{hint}")


def check_prompts(objects: Sequence[ObjectPrompts], *, engine: str, takes: frozenset[str],
                  width: int, height: int, first: int, last: int) -> None:
    """Raise SpecError with one sentence for the first prompt that cannot run."""
    check_kinds(objects, engine=engine, takes=takes)
    ids = [o.id for o in objects]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise SpecError(f"objects: the name {dup!r} is used twice; each object needs its own")
    for obj in objects:
        if not obj.keyframes and takes:
            raise SpecError(f"object {obj.id} has no keyframes")
        frames = [kf.frame for kf in obj.keyframes]
        twice = next((f for f in frames if frames.count(f) > 1), None)
        if twice is not None:
            raise SpecError(f"object {obj.id}: frame {twice} has two keyframes; put its prompts "
                            "in one")
        for kf in obj.keyframes:
            where = f"object {obj.id}, frame {kf.frame}"
            refused = [k for k in keyframe_kinds(kf) if k not in takes]
            if refused:
                raise SpecError(f"{where}: the {engine} engine takes {_takes(takes)}, not "
                                f"{KIND_WORDS[refused[0]]}")
            if not first <= kf.frame <= last:
                raise SpecError(f"{where}: the keyframe is outside the frame range {first}-{last}")
            check_shapes(where, kf.points, kf.boxes, width, height)
