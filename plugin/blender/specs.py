"""Scene prompts → the job spec, through ``segmatte.client.jobspec`` (no bpy here).

Two kinds of prompts meet in one spec: what :mod:`.prompts` gathers from
markers, mask splines and annotations over the range, and the clicks of the
interactive tool, which live in the scene per object and per frame
(:class:`Clicked`). Each object gets one keyframe per frame that has prompts,
so prompts on two frames make one spec with both keyframes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client.jobspec import Box, JobSpec, ObjectPrompts, Output, Point, SpecError
from .prompts import Prompts


@dataclass
class Clicked:
    """The tool's prompts of one object on one source frame (as the scene stores them)."""

    object: str
    frame: int
    points: list[Point] = field(default_factory=list)
    box: Box | None = None
    text: str = ""
    """A text prompt ("red car"): the text engine finds every instance on this frame."""

    def __bool__(self) -> bool:
        return bool(self.points or self.box or self.text)


def objects_of(gathered: Prompts | None, clicked: list[Clicked],
               only: set[str] | None = None) -> list[ObjectPrompts]:
    """Every object's keyframes (clicks first on a frame, then gathered prompts)."""
    merged: dict[str, ObjectPrompts] = {}
    for c in clicked:
        if not c or (only is not None and c.object not in only):
            continue
        obj = merged.get(c.object) or merged.setdefault(c.object, ObjectPrompts(c.object))
        obj.add(c.frame, points=c.points, boxes=[c.box] if c.box else [], text=c.text or None)
    if gathered is not None:
        gathered.add_to(merged, only)
    return [o for o in merged.values() if any(o.keyframes.values())]


@dataclass
class Request:
    """What the panel asks for, in source terms (the operator fills it from the scene)."""

    source: str
    size: tuple[int, int]
    first: int
    last: int
    engine: str
    direction: str
    output: Output
    model: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    engine_info: dict[str, Any] | None = None
    """The server's ``engines`` entry (needs_objects, …), None while unknown."""
    shapes: tuple[str, ...] = ()
    """Shapes formats to write after the mattes (``blender``: the Shapes masks)."""
    finish: dict[str, Any] = field(default_factory=dict)
    """The job spec's finishing (``finish_options``)."""


def build(req: Request, objects: list[ObjectPrompts]) -> JobSpec:
    """The JobSpec for ``req``; SpecError with one sentence for what the artist must fix."""
    info = req.engine_info or {}
    needs = bool(info.get("needs_objects"))
    takes = needs or bool(info.get("takes_objects"))
    if needs and not objects:
        raise SpecError(f"the {req.engine} engine needs prompts: click on the clip with the "
                        "Prompt tool, or place markers, a mask or annotations in the range")
    kinds = set(info.get("prompts") or ())
    texts = [o.id for o in objects for kf in o.keyframes.values() if kf.text]
    if texts and info and "text" not in kinds:
        raise SpecError(f"{texts[0]} has a text prompt, which the {req.engine} engine cannot "
                        "take: choose the text engine")
    spec = JobSpec(source=req.source, first=req.first, last=req.last, engine=req.engine,
                   output=req.output, model=req.model or None, options=dict(req.options),
                   objects=list(objects) if takes else [], direction=req.direction,
                   size=req.size, shapes=tuple(req.shapes), finish=dict(req.finish))
    spec.check()
    return spec


def finish_options(refine_edges: bool) -> dict[str, Any]:
    """The finishing a job or a session's propagation asks for: ``Refine Edges`` is
    ``--refine guided`` (soft edges only where the matte is unsure)."""
    return {"refine": "guided"} if refine_edges else {}


def keyframe_frames(objects: list[ObjectPrompts]) -> dict[str, list[int]]:
    """Object → its keyframed source frames (for the object list and the timeline marks)."""
    return {o.id: sorted(n for n, kf in o.keyframes.items() if kf) for o in objects}
