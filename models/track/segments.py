"""Keyframes are the truth, segments the unit of work: how a track job is cut up.

A job travels in *legs*: ``forward`` is one leg first → last, ``backward``
one leg last → first, ``both`` a backward leg from the first keyframe K down
to the first frame and a forward leg from K on to the last. Inside a leg the
keyframes, in travel order, cut the frames into *segments*: a segment starts
at a keyframe and runs to the frame before the next one.

What a frame's matte depends on is therefore known before anything runs: the
leg's direction and the prompts of the leg's keyframes at or before it (in
travel order). :func:`frame_provenance` names that, and the pipeline records
its digest per frame, so a changed prompt set re-tracks only the frames whose
digest changed: a click added on frame F of a forward job changes F … last,
and nothing before F.

To make "re-track from F" give exactly what a fresh run gives, the engine
computes every segment the same way whether it starts there or arrives from
the previous one (see :mod:`.engine_track`): at a keyframe the memory of the
frames before it is dropped, only the keyframes' own (conditioning) memory
is kept, and the keyframe is decoded with that memory and its prompts. A run
that starts at keyframe K_i first rebuilds K_1 … K_{i-1} (the ``prime``
frames of its :class:`~segmatte.models.engine.Pass`) with no writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ..engine import Pass, Travel
from ..prompts import ObjectPrompts


@dataclass(frozen=True)
class Leg:
    """One way of travel: ``frames`` in travel order, ``keys`` its keyframes in travel order.

    ``keys`` may hold a frame just before ``frames[0]`` (the forward leg of
    ``both`` starts from the keyframe the backward leg already wrote).
    """

    direction: Travel
    frames: tuple[int, ...]
    keys: tuple[int, ...]


def keyframe_numbers(objects: Iterable[ObjectPrompts], first: int, last: int) -> list[int]:
    return sorted({kf.frame for o in objects for kf in o.keyframes if first <= kf.frame <= last})


def legs(direction: str, first: int, last: int, keys: Sequence[int]) -> list[Leg]:
    ks = sorted(k for k in keys if first <= k <= last)
    if direction == "forward":
        return [Leg("forward", tuple(range(first, last + 1)), tuple(ks))]
    if direction == "backward":
        return [Leg("backward", tuple(range(last, first - 1, -1)), tuple(reversed(ks)))]
    if direction == "both":
        if not ks:
            raise ValueError("direction 'both' needs a keyframe inside the frame range")
        k = ks[0]
        out = [Leg("backward", tuple(range(k, first - 1, -1)), (k,))]
        if k < last:
            out.append(Leg("forward", tuple(range(k + 1, last + 1)), tuple(ks)))
        return out
    raise ValueError(f"unknown direction {direction!r}")


def _position(leg: Leg, n: int) -> int:
    """Travel position of frame ``n`` in a leg (keys before the leg's frames are negative)."""
    return (n - leg.frames[0]) if leg.direction == "forward" else (leg.frames[0] - n)


def segment_start(leg: Leg, n: int) -> int | None:
    """The keyframe whose segment holds ``n`` (None: no keyframe behind ``n`` in this leg)."""
    behind = [k for k in leg.keys if _position(leg, k) <= _position(leg, n)]
    return behind[-1] if behind else None


def _prompts_by_frame(objects: Iterable[ObjectPrompts]) -> dict[int, list]:
    out: dict[int, list] = {}
    for o in sorted(objects, key=lambda o: o.id):
        for kf in o.keyframes:
            out.setdefault(kf.frame, []).append([o.id, kf.model_dump(mode="json")])
    return out


def frame_provenance(direction: str, first: int, last: int,
                     objects: Sequence[ObjectPrompts]) -> dict[int, str]:
    """Frame → digest of what its matte comes from: leg direction and the keyframes behind it."""
    prompts = _prompts_by_frame(objects)
    out: dict[int, str] = {}
    for leg in legs(direction, first, last, keyframe_numbers(objects, first, last)):
        chain: list = []
        keys = list(leg.keys)
        for k in [k for k in keys if _position(leg, k) < 0]:  # keys before the leg's frames
            chain.append([k, prompts.get(k, [])])
        for n in leg.frames:
            if n in keys:
                chain.append([n, prompts.get(n, [])])
            payload = json.dumps([leg.direction, chain], sort_keys=True)
            out[n] = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return out


def plan_passes(direction: str, first: int, last: int, objects: Sequence[ObjectPrompts],
                todo: Collection[int]) -> list[Pass]:
    """The passes that compute every frame of ``todo``, each from its segment's keyframe.

    Frames between a pass's start and its last frame to do are computed too
    (the tracker needs them) and not written by the pipeline. A new pass
    starts where re-priming is cheaper than tracking through frames that are
    already on disk: when the next frame to do lies in a segment that starts
    after the current pass's last frame.
    """
    wanted = set(todo)
    passes: list[Pass] = []
    for leg in legs(direction, first, last, keyframe_numbers(objects, first, last)):
        current: list[int] | None = None
        prime: tuple[int, ...] = ()
        pos = {n: i for i, n in enumerate(leg.frames)}

        for n in leg.frames:
            if n not in wanted:
                continue
            start = segment_start(leg, n)
            if start is None:
                begin = n  # nothing tracked here yet: an empty matte, no model
            elif start not in pos:
                begin = leg.frames[0]  # both's forward leg: from the keyframe before it
            else:
                begin = start
            if current is not None and pos[begin] <= pos[current[-1]] + 1:
                current.extend(leg.frames[pos[current[-1]] + 1: pos[n] + 1])
                continue
            _close(passes, leg, current, prime)
            current = list(leg.frames[pos[begin]: pos[n] + 1])
            prime = tuple(k for k in leg.keys if _position(leg, k) < pos[begin])
        _close(passes, leg, current, prime)
    return passes


def _close(passes: list[Pass], leg: Leg, frames: list[int] | None, prime: tuple[int, ...]) -> None:
    if frames:
        breaks = frozenset(n for n in frames if n in leg.keys)
        passes.append(Pass(leg.direction, tuple(frames), prime, breaks))
