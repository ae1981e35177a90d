"""The job spec as a host builds it: stdlib dataclasses with ``to_dict``.

The server validates every spec with pydantic (``segmatte.server.spec``);
this module is the same shape, without pydantic, so Blender's and Resolve's
Python can build one (it is vendored into both). Hosts convert their own
coordinates first: points and boxes are in *source pixels*, top-left origin;
frames are *source frame numbers*.

A host gathers prompts on any number of frames per object
(:meth:`ObjectPrompts.add`), then :meth:`JobSpec.to_dict` gives the request
body. Checks here are the ones an artist can still fix in the panel (a
prompt outside the picture or the range, a bad name); everything else is the
server's door.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .patterns import safe_name

DIRECTIONS = ("forward", "backward", "both")
CHANNELS = ("rgba", "y", "a")
SHAPES_FORMATS = ("blender", "fusion", "nuke", "json", "svg")
_OBJECT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def text_label(text: str) -> str:
    """The object a text prompt makes, as the server names it (``models.text.concepts``):
    the prompt's last word, lower case ("red car" → ``car``; its instances ``car_1``, …)."""
    words = re.findall(r"[A-Za-z0-9\-]+", text)
    return words[-1].lower()[:48] if words else "object"


class SpecError(ValueError):
    """A spec the host cannot send; ``str()`` is one sentence for the artist."""


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: int = 1
    """1 = include, 0 = exclude."""

    def to_dict(self) -> dict[str, Any]:
        return {"x": float(self.x), "y": float(self.y), "label": 1 if self.label else 0}


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        if self.x1 <= self.x0 or self.y1 <= self.y0:
            raise SpecError(f"a box needs x1 > x0 and y1 > y0 (got {self.x0:g}, {self.y0:g}, "
                            f"{self.x1:g}, {self.y1:g})")

    def to_dict(self) -> dict[str, Any]:
        return {"x0": float(self.x0), "y0": float(self.y0), "x1": float(self.x1),
                "y1": float(self.y1)}


@dataclass
class Keyframe:
    """Prompts of one object on one source frame."""

    frame: int
    points: list[Point] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    mask: str | None = None
    text: str | None = None

    def __bool__(self) -> bool:
        return bool(self.points or self.boxes or self.mask or self.text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frame": int(self.frame)}
        if self.points:
            out["points"] = [p.to_dict() for p in self.points]
        if self.boxes:
            out["boxes"] = [b.to_dict() for b in self.boxes]
        if self.mask:
            out["mask"] = self.mask
        if self.text:
            out["text"] = self.text
        return out


@dataclass
class ObjectPrompts:
    """One object (its id names its layer and files) and its keyframes by frame."""

    id: str
    keyframes: dict[int, Keyframe] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _OBJECT_ID.match(self.id):
            raise SpecError(f"object name {self.id!r} may hold only letters, digits, '_' and '-' "
                            "(at most 64)")

    def add(self, frame: int, points: list[Point] | tuple[Point, ...] = (),
            boxes: list[Box] | tuple[Box, ...] = (), mask: str | None = None,
            text: str | None = None) -> Keyframe:
        """Add prompts on ``frame`` (merged with the frame's earlier ones)."""
        kf = self.keyframes.setdefault(int(frame), Keyframe(int(frame)))
        kf.points.extend(points)
        kf.boxes.extend(boxes)
        if mask:
            kf.mask = mask
        if text:
            kf.text = text
        return kf

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "keyframes": [kf.to_dict() for _, kf in sorted(
            self.keyframes.items()) if kf]}


@dataclass
class Output:
    folder: str
    name: str = "matte"
    channels: str = "rgba"
    overwrite: bool = False
    layers: str | None = None
    """``"files"`` (one sequence per layer) or ``"channels"``; None = the server's default."""

    def to_dict(self) -> dict[str, Any]:
        if self.channels not in CHANNELS:
            raise SpecError(f"channels must be one of {', '.join(CHANNELS)}")
        out: dict[str, Any] = {"folder": self.folder, "name": safe_name(self.name),
                               "channels": self.channels}
        if self.overwrite:
            out["overwrite"] = True
        if self.layers:
            out["layers"] = self.layers
        return out


@dataclass
class JobSpec:
    source: str
    first: int
    last: int
    engine: str
    output: Output
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    objects: list[ObjectPrompts] = field(default_factory=list)
    direction: str = "forward"
    finish: dict[str, Any] = field(default_factory=dict)
    retrack: tuple[int, int] | None = None
    """Re-track only these source frames (from the nearest keyframe); None = what changed."""
    size: tuple[int, int] | None = None
    """(width, height) of the source, when the host knows it: prompts are checked against it."""
    shapes: tuple[str, ...] = ()
    """After the mattes, editable shapes in these formats (blender, fusion, nuke, json, svg)."""

    def object(self, object_id: str) -> ObjectPrompts:
        """The object named ``object_id``, added if new."""
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        obj = ObjectPrompts(object_id)
        self.objects.append(obj)
        return obj

    def check(self) -> None:
        """What the artist can fix in the panel: raise SpecError with one sentence."""
        if self.last < self.first:
            raise SpecError(f"frame range {self.first}-{self.last} ends before it starts")
        if self.direction not in DIRECTIONS:
            raise SpecError(f"direction must be one of {', '.join(DIRECTIONS)}")
        if not self.engine:
            raise SpecError("choose an engine")
        unknown = [f for f in self.shapes if f not in SHAPES_FORMATS]
        if unknown:
            raise SpecError(f"shapes: {unknown[0]!r} is not a format; choose from "
                            f"{', '.join(SHAPES_FORMATS)}")
        if self.retrack is not None:
            a, b = self.retrack
            if b < a or a < self.first or b > self.last:
                raise SpecError(f"re-track {a}-{b} must lie inside the range "
                                f"{self.first}-{self.last}")
        for obj in self.objects:
            for n, kf in obj.keyframes.items():
                if kf.text is not None and not kf.text.strip():
                    raise SpecError(f"{obj.id}: the text prompt on frame {n} is empty")
                if kf and not self.first <= n <= self.last:
                    raise SpecError(f"{obj.id}: the prompt on frame {n} is outside the range "
                                    f"{self.first}-{self.last}")
                if self.size:
                    self._inside(obj.id, n, kf)

    def _inside(self, obj: str, frame: int, kf: Keyframe) -> None:
        w, h = self.size  # type: ignore[misc]
        corners = [(p.x, p.y) for p in kf.points]
        corners += [xy for b in kf.boxes for xy in ((b.x0, b.y0), (b.x1, b.y1))]
        for x, y in corners:
            if not (0 <= x <= w and 0 <= y <= h):
                raise SpecError(f"{obj}: the prompt ({x:g}, {y:g}) on frame {frame} is outside "
                                f"the {w}x{h} picture")

    def to_dict(self) -> dict[str, Any]:
        """The request body the server's ``submit`` takes (checked first)."""
        self.check()
        spec: dict[str, Any] = {
            "source": self.source,
            "range": {"first": int(self.first), "last": int(self.last)},
            "engine": self.engine,
            "direction": self.direction,
            "output": self.output.to_dict(),
        }
        if self.model:
            spec["model"] = self.model
        if self.options:
            spec["options"] = dict(self.options)
        objects = [o.to_dict() for o in self.objects]
        objects = [o for o in objects if o["keyframes"]]
        if objects:
            spec["objects"] = objects
        if self.finish:
            spec["finish"] = dict(self.finish)
        if self.shapes:
            spec["shapes"] = list(self.shapes)
        if self.retrack is not None:
            spec["retrack"] = {"first": int(self.retrack[0]), "last": int(self.retrack[1])}
        return spec
