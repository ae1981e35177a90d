"""An interactive session as the extension follows it (no bpy here).

The server holds the model's memory of the clip; this side remembers what
the artist sees: the latest preview of each (object, frame) after a click,
the mattes a propagation wrote, and which of the two is newer, so the
overlay on frame F shows a fresh click's preview over an older propagated
matte and the propagated matte once a later propagation rewrote F.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

_seq = itertools.count(1)


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

    def preview(self, obj: str, frame: int, path: str, score: float | None) -> None:
        self.previews[(obj, int(frame))] = (next(_seq), path)
        if score is not None:
            self.scores[(obj, int(frame))] = float(score)
        if obj not in self.objects:
            self.objects.append(obj)
        self.prompted.append((obj, int(frame)))

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
        return self.objects[0] if len(self.objects) == 1 else None

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
