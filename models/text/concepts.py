"""Job objects → concepts (text prompts), instance layers with stable ids, and refinements.

An object whose keyframes carry ``text`` is a *concept*: its id is the label
(``--text "red car"@1001`` → ``car``, the prompt's last word) and it expands to
the instance layers ``car_1 … car_N`` (``N`` = ``max_instances``), known before
the first frame so the pipeline can plan its sequences; instances never found
stay empty. An object named like an instance (``car_2``) with points, boxes or
a mask *refines* that instance (a negative point removes, a positive one adds;
on the keyframe where the instance was found its detection box is kept
beside the clicks). Any other object is tracked from its prompts as the track
engine would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..engine import EngineError
from ..prompts import Keyframe, ObjectPrompts

_INSTANCE = re.compile(r"^(?P<concept>.+)_(?P<n>[0-9]+)$")


def label_for(text: str) -> str:
    """The layer label of a text prompt: its last word, in layer-name characters."""
    words = re.findall(r"[A-Za-z0-9\-]+", text)
    return words[-1].lower()[:48] if words else "object"


def instance_id(concept: str, n: int) -> str:
    return f"{concept}_{n}"


@dataclass(frozen=True)
class Concept:
    """A text prompt's object: its label and its text keyframes, in frame order."""

    id: str
    keyframes: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Refinement:
    """Points / boxes / a mask for one tracker layer on one frame."""

    layer: str
    keyframe: Keyframe
    concept: str | None = None
    """The concept whose instance this refines (None: a plain object)."""


@dataclass(frozen=True)
class TextPlan:
    concepts: tuple[Concept, ...]
    refinements: tuple[Refinement, ...]
    tracked: tuple[str, ...]
    """The tracker's layers: every instance slot and every plain object, in layer order."""
    unions: dict[str, tuple[str, ...]]
    """Union layer → the instance layers it merges (only with ``union``)."""
    layers: tuple[str, ...]
    """Every layer the engine yields, in order (what the pipeline writes)."""

    def instances(self, concept: str) -> tuple[str, ...]:
        return tuple(t for t in self.tracked if _concept_of(t) == concept)


def _concept_of(layer: str) -> str | None:
    m = _INSTANCE.match(layer)
    return m.group("concept") if m else None


def plan(objects: Sequence[ObjectPrompts], max_instances: int, union: bool = False) -> TextPlan:
    """Check the objects and lay out the layers (EngineError: one sentence)."""
    concepts: list[Concept] = []
    others: list[ObjectPrompts] = []
    for obj in objects:
        texts = [kf for kf in obj.keyframes if kf.text]
        if not texts:
            others.append(obj)
            continue
        for kf in obj.keyframes:
            if not kf.text:
                raise EngineError(f"object {obj.id} has a text prompt and points/boxes/masks; "
                                  f"clicks refine one instance: put them on {obj.id}_1, "
                                  f"{obj.id}_2, ...")
            if kf.points or kf.boxes or kf.mask:
                raise EngineError(f"keyframe {kf.frame} of {obj.id}: points, boxes and masks refine "
                                  f"one instance of a text prompt; put them on {obj.id}_1, "
                                  f"{obj.id}_2, ... instead of on {obj.id}")
        if len(obj.id) > 60:
            raise EngineError(f"text object id {obj.id!r} is too long for instance ids (60 max)")
        concepts.append(Concept(obj.id, tuple(sorted((kf.frame, kf.text) for kf in texts))))
    ids = [o.id for o in objects]
    if len(set(ids)) != len(ids):
        raise EngineError("object ids must be unique (a text prompt on several keyframes is one "
                          "object with several keyframes)")
    if not concepts:
        raise EngineError("the text engine needs a text prompt (--text \"person\"@FRAME); "
                          "for points, boxes or masks alone use the track engine")
    by_id = {c.id: c for c in concepts}
    refinements: list[Refinement] = []
    plain: set[str] = set()
    for obj in others:
        m = _INSTANCE.match(obj.id)
        concept = m.group("concept") if m and m.group("concept") in by_id else None
        if concept is not None:
            n = int(m.group("n"))
            if not 1 <= n <= max_instances:
                raise EngineError(f"object {obj.id} refines instance {n} of {concept}, but "
                                  f"instances run from 1 to max_instances ({max_instances})")
        else:
            plain.add(obj.id)
        if not obj.keyframes:
            raise EngineError(f"object {obj.id} has no keyframes")
        refinements.extend(Refinement(obj.id, kf, concept) for kf in obj.keyframes)
    tracked: list[str] = []
    layers: list[str] = []
    unions: dict[str, tuple[str, ...]] = {}
    for obj in objects:
        if obj.id in by_id:
            slots = tuple(instance_id(obj.id, n) for n in range(1, max_instances + 1))
            clash = set(slots) & plain
            if clash:
                raise EngineError(f"object id {sorted(clash)[0]} clashes with an instance of {obj.id}")
            tracked.extend(slots)
            layers.extend(slots)
            if union:
                unions[obj.id] = slots
                layers.append(obj.id)
        elif obj.id in plain:
            tracked.append(obj.id)
            layers.append(obj.id)
    return TextPlan(tuple(concepts), tuple(refinements), tuple(tracked), unions, tuple(layers))
