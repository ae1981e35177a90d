"""The order in which the pipeline feeds source frames to the track engine.

The engine reads the direction of travel from the order frames arrive in
(a frame number lower than the previous one means backward), so one streaming
interface covers every direction:

- ``forward``: first … last. Frames before the first keyframe come out empty.
- ``backward``: last … first. Frames after the last keyframe come out empty.
- ``both``: from the first keyframe K back to the start (K, K-1, …, first),
  then on from K+1 to the end. Every frame is fed once and the matte of each
  is yielded as it arrives, so memory stays flat; the later keyframes are met
  (and their conditioning used) on the forward run. The forward run starts
  next to K, whose neighbourhood the session keeps, so it reads the same
  memory ``transformers``' own "propagate, then propagate in reverse" would.

The engine also accepts any order made of such monotone runs (e.g. a
re-propagation from a corrected frame).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Direction = Literal["forward", "backward", "both"]


def plan_order(direction: Direction, first: int, last: int, keyframes: Iterable[int]) -> list[int]:
    keys = sorted({k for k in keyframes if first <= k <= last})
    if direction == "forward":
        return list(range(first, last + 1))
    if direction == "backward":
        return list(range(last, first - 1, -1))
    if direction == "both":
        if not keys:
            raise ValueError("direction 'both' needs a keyframe inside the frame range")
        k = keys[0]
        return list(range(k, first - 1, -1)) + list(range(k + 1, last + 1))
    raise ValueError(f"unknown direction {direction!r}")
