"""An interactive session as the extension follows it (no bpy here).

The server holds the model's memory of the clip; this side remembers what
the artist sees: the latest preview of each (object, frame) after a click,
the mattes a propagation wrote, and which of the two is newer, so the
overlay on frame F shows a fresh click's preview over an older propagated
matte and the propagated matte once a later propagation rewrote F.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any

_seq = itertools.count(1)

PREVIEW_MIN = 64
"""The smallest preview asked for (long side, px): a clip shown smaller is a thumbnail."""


def preview_size(display: tuple[float, float], width: int, height: int) -> int | None:
    """The ``preview_size`` for a clip of ``width`` x ``height`` shown ``display`` (w, h)
    pixels large: its long side on screen, rounded up, at least :data:`PREVIEW_MIN`; None
    (source size) when nothing was drawn yet or the screen shows the clip at source size or
    larger. The overlay is drawn scaled over the clip's frame, so any size aligns."""
    long_side = math.ceil(max(abs(display[0]), abs(display[1])) - 1e-6)
    if long_side <= 0 or width <= 0 or height <= 0:
        return None
    long_side = max(long_side, PREVIEW_MIN)
    return long_side if long_side < max(width, height) else None


@dataclass
class SessionWatch:
    clip: str
    scene: str
    source: str
    """The source path the session was opened on."""
    shift: int
    """source number = scene frame + shift."""
    id: str = ""
    state: str = "opening"
    """opening, open, propagating, closed, failed."""
    width: int = 0
    height: int = 0
    first: int = 0
    last: int = 0
    model: str = ""
    previews: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    """(object, source frame) → (sequence, preview EXR path)."""
    scores: dict[tuple[str, int], float] = field(default_factory=dict)
    mattes: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)
    """(object, source frame) → (sequence, written matte path)."""
    objects: list[str] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)
    job: str = ""
    """The propagation job under way or last run."""
    prompted: list[tuple[str, int]] = field(default_factory=list)
    """(object, frame) of each click, in order (the server propagates from the last)."""
    propagated: bool = False
    error: str = ""
    sent: dict[tuple[str, int], tuple] = field(default_factory=dict)
    """(object, frame) → the prompts last sent for it (to resend after an undo)."""
    frame: int | None = None
    """The source frame under the playhead when the session was opened (embedded then)."""
    display: tuple[float, float] = (0.0, 0.0)
    """The clip's frame on screen (w, h region pixels), as the overlay last drew it."""
    engine: str = "track"
    """``track`` (clicks) or ``text`` (a text prompt finds instances; clicks refine them)."""
    instances: dict[str, list[str]] = field(default_factory=dict)
    """A text session: label (``disc``) → the instances its text found (``disc_1``, …)."""
    texts: dict[str, tuple[int, str]] = field(default_factory=dict)
    """A text session: label → (source frame, text) of the text prompt sent for it."""

    @property
    def preview_size(self) -> int | None:
        """The preview's long side for a click now (None: source size)."""
        return preview_size(self.display, self.width, self.height)

    def preview(self, obj: str, frame: int, path: str, score: float | None) -> None:
        self.previews[(obj, int(frame))] = (next(_seq), path)
        if score is not None:
            self.scores[(obj, int(frame))] = float(score)
        if obj not in self.objects:
            self.objects.append(obj)
        self.prompted.append((obj, int(frame)))

    def found(self, label: str, frame: int, text: str, instances: list[dict]) -> list[str]:
        """A text prompt's reply: each instance's preview becomes its overlay (one object,
        one colour each); the label is the prompt the propagation starts from."""
        ids = []
        for inst in instances:
            obj = str(inst["object"])
            self.previews[(obj, int(frame))] = (next(_seq), str(inst["path"]))
            if inst.get("score") is not None:
                self.scores[(obj, int(frame))] = float(inst["score"])
            if obj not in self.objects:
                self.objects.append(obj)
            ids.append(obj)
        self.instances[label] = ids
        self.texts[label] = (int(frame), text)
        self.prompted.append((label, int(frame)))
        return ids

    def instance_label(self, obj: str) -> str | None:
        """The label whose text found ``obj`` (None: not an instance)."""
        return next((lb for lb, ids in self.instances.items() if obj in ids), None)

    def forget_preview(self, obj: str, frame: int) -> None:
        self.previews.pop((obj, int(frame)), None)

    def written(self, frame: int, paths: list[str] | tuple[str, ...]) -> None:
        """A propagation's frame event: which object each path is (by its file name)."""
        for path in paths:
            obj = self.object_of(path)
            if obj is not None:
                self.mattes[(obj, int(frame))] = (next(_seq), path)

    def object_of(self, path: str) -> str | None:
        name = self.output.get("name", "matte")
        base = os.path.basename(path)
        for obj in self.objects:
            if base.startswith(f"{name}_{obj}."):
                return obj
        return self.objects[0] if len(self.objects) == 1 and base.startswith(f"{name}.") \
            else None

    def path_at(self, obj: str, frame: int) -> str | None:
        """What the overlay shows for ``obj`` on source ``frame``: the newer of its preview
        and its written matte, or None."""
        got = [x for x in (self.previews.get((obj, frame)), self.mattes.get((obj, frame))) if x]
        return max(got)[1] if got else None

    @property
    def last_prompt(self) -> tuple[str, int] | None:
        return self.prompted[-1] if self.prompted else None

    @property
    def correction(self) -> int | None:
        """The frame of the last click when it corrects an already propagated frame."""
        last = self.last_prompt
        if last is None or not self.propagated:
            return None
        return last[1] if any((o, last[1]) in self.mattes for o in self.objects) else None

    def keyframes(self) -> dict[str, list[int]]:
        out: dict[str, set[int]] = {}
        for obj, frame in self.prompted:
            out.setdefault(obj, set()).add(frame)
        return {k: sorted(v) for k, v in out.items()}
