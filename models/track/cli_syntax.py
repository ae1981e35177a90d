"""Command-line prompt syntax (proposal for ``segmatte matte``).

::

    --point X,Y@FRAME[:OBJ][:neg]      a click; ``neg`` (or ``-``) excludes
    --box X0,Y0,X1,Y1@FRAME[:OBJ]      a box (top-left, bottom-right corners)
    --mask PATH@FRAME[:OBJ]            a mask image (white = object)
    --text "TEXT"@FRAME[:OBJ]          every instance of TEXT (text engine): layers
                                       OBJ_1, OBJ_2, ...; OBJ defaults to TEXT's last word

Source pixels, top-left origin; FRAME is the source frame number; OBJ is the
object (matte layer) id, ``object`` when left out. Several flags of any kind
build the objects and their keyframes with :func:`build_objects`; a point or
box on ``car_2`` refines instance 2 of ``--text "red car"@F``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..prompts import Box, Keyframe, ObjectPrompts, Point

DEFAULT_OBJECT = "object"


class PromptSyntaxError(ValueError):
    pass


def _split(text: str, what: str, example: str) -> tuple[str, int, list[str]]:
    if "@" not in text:
        raise PromptSyntaxError(f"{what} {text!r}: expected {example}")
    value, _, rest = text.rpartition("@")
    parts = rest.split(":")
    try:
        frame = int(parts[0])
    except ValueError:
        raise PromptSyntaxError(f"{what} {text!r}: frame {parts[0]!r} is not a number; "
                                f"expected {example}") from None
    return value, frame, parts[1:]


def _numbers(value: str, count: int, what: str, text: str, example: str) -> list[float]:
    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        nums = []
    if len(nums) != count:
        raise PromptSyntaxError(f"{what} {text!r}: expected {example}")
    return nums


def parse_point(text: str) -> tuple[int, str, Point]:
    example = "X,Y@FRAME[:OBJ][:neg], e.g. 640,360@1001:car"
    value, frame, rest = _split(text, "point", example)
    x, y = _numbers(value, 2, "point", text, example)
    label = 1
    if rest and rest[-1].lower() in ("neg", "-", "negative"):
        label, rest = 0, rest[:-1]
    if len(rest) > 1:
        raise PromptSyntaxError(f"point {text!r}: expected {example}")
    obj = rest[0] if rest and rest[0] else DEFAULT_OBJECT
    return frame, obj, Point(x=x, y=y, label=label)


def parse_box(text: str) -> tuple[int, str, Box]:
    example = "X0,Y0,X1,Y1@FRAME[:OBJ], e.g. 100,80,420,600@1001:car"
    value, frame, rest = _split(text, "box", example)
    x0, y0, x1, y1 = _numbers(value, 4, "box", text, example)
    if len(rest) > 1:
        raise PromptSyntaxError(f"box {text!r}: expected {example}")
    try:
        box = Box(x0=x0, y0=y0, x1=x1, y1=y1)
    except ValueError as exc:
        raise PromptSyntaxError(f"box {text!r}: corners must be top-left then bottom-right") from exc
    return frame, (rest[0] if rest and rest[0] else DEFAULT_OBJECT), box


def parse_mask(text: str) -> tuple[int, str, str]:
    example = "PATH@FRAME[:OBJ], e.g. car_1001.png@1001:car"
    value, frame, rest = _split(text, "mask", example)
    if not value or len(rest) > 1:
        raise PromptSyntaxError(f"mask {text!r}: expected {example}")
    return frame, (rest[0] if rest and rest[0] else DEFAULT_OBJECT), value


def parse_text(text: str) -> tuple[int, str, str]:
    example = 'TEXT@FRAME[:OBJ], e.g. "red car"@1001 or "red car"@1001:car'
    value, frame, rest = _split(text, "text", example)
    value = value.strip().strip("\"'").strip()
    if not value or len(rest) > 1:
        raise PromptSyntaxError(f"text {text!r}: expected {example}")
    if rest and rest[0]:
        return frame, rest[0], value
    from ..text.concepts import label_for

    return frame, label_for(value), value


def build_objects(points: Iterable[str] = (), boxes: Iterable[str] = (),
                  masks: Iterable[str] = (), texts: Iterable[str] = ()) -> list[ObjectPrompts]:
    """Group parsed flags into objects (in order of first mention) and keyframes."""
    table: dict[str, dict[int, dict]] = {}

    def slot(obj: str, frame: int) -> dict:
        return table.setdefault(obj, {}).setdefault(
            frame, {"points": [], "boxes": [], "mask": None, "text": None})

    for t in texts:
        frame, obj, value = parse_text(t)
        s = slot(obj, frame)
        if s["text"] is not None:
            raise PromptSyntaxError(f"two texts for {obj} on frame {frame}")
        s["text"] = value

    for t in points:
        frame, obj, p = parse_point(t)
        slot(obj, frame)["points"].append(p)
    for t in boxes:
        frame, obj, b = parse_box(t)
        slot(obj, frame)["boxes"].append(b)
    for t in masks:
        frame, obj, m = parse_mask(t)
        s = slot(obj, frame)
        if s["mask"] is not None:
            raise PromptSyntaxError(f"two masks for {obj} on frame {frame}")
        s["mask"] = m
    return [ObjectPrompts(id=obj, keyframes=tuple(
        Keyframe(frame=f, points=tuple(v["points"]), boxes=tuple(v["boxes"]), mask=v["mask"],
                 text=v["text"])
        for f, v in sorted(frames.items()))) for obj, frames in table.items()]
