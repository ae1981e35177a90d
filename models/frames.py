"""Data that flows between the reader, the engines, finishing and the writer.

These are the typed boundary of the streaming pipeline (reader → engine →
finish → writer). They live in ``segmatte.models`` because engines consume and
produce them and ``models`` must not import ``server``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClipInfo:
    """What an engine may know about the clip it is opened on."""

    width: int
    height: int
    fps: float
    first: int
    """First source frame number of the range the job covers."""
    last: int
    """Last source frame number (inclusive)."""

    @property
    def frame_count(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class Frame:
    """One decoded source frame.

    ``image`` is H×W×3 float32 RGB in [0, 1], display-referred (scene-linear
    plates have been through the reader's documented view transform), top-left
    origin. ``number`` is the *source* frame number, the one the matte is named
    with.
    """

    number: int
    image: np.ndarray

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass
class Matte:
    """The mattes an engine produced for one source frame.

    ``layers`` maps a layer name (the object id, a class name, or ``"matte"``
    for single-layer engines) to an H×W float32 array in [0, 1] at source
    resolution. ``scores`` optionally carries a per-layer confidence (e.g. the
    tracker's object score) that the manifest records so artists can find
    frames to fix.
    """

    number: int
    layers: dict[str, np.ndarray]
    scores: dict[str, float] = field(default_factory=dict)

    def layer(self, name: str | None = None) -> np.ndarray:
        """The named layer, or the only/first one when ``name`` is None."""
        if name is None:
            return next(iter(self.layers.values()))
        return self.layers[name]
