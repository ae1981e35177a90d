"""The panel's prompt text → the client's Point/Box dataclasses (Resolve's UI has no canvas).

Resolve's UIManager offers no way to click on the picture from a script, so
prompts are typed in source pixels from the top-left, one a line. Everything
else about the spec (shape, names, checks) is ``segmatte.client.jobspec``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from segmatte.client.jobspec import Box, Point, SpecError

_NUM = r"(-?\d+(?:\.\d+)?)"
_POINT = re.compile(rf"^([+-])?\s*{_NUM}\s*[, ]\s*{_NUM}$")
_BOX = re.compile(rf"^box\s+{_NUM}[, ]+{_NUM}[, ]+{_NUM}[, ]+{_NUM}$", re.IGNORECASE)

PROMPT_HELP = ("One prompt a line, in source pixels from the top-left: '+ 640 360' includes, "
               "'- 100 80' excludes, 'box 200 100 900 700' frames the object (x0 y0 x1 y1).")


class PromptError(ValueError):
    """A prompt line that cannot be read; the message names the line."""


@dataclass
class Prompts:
    points: list[Point] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.points or self.boxes)

    def describe(self) -> str:
        parts = []
        if self.points:
            parts.append(f"{len(self.points)} point{'s' if len(self.points) > 1 else ''}")
        if self.boxes:
            parts.append(f"{len(self.boxes)} box{'es' if len(self.boxes) > 1 else ''}")
        return ", ".join(parts) or "no prompt"


def parse_prompts(text: str, size: tuple[int, int] | None = None) -> Prompts:
    """Read the panel's prompt text; raise PromptError naming the first bad line.

    With ``size`` (width, height) points and boxes outside the frame are refused
    here, where the artist can still fix them, rather than at the server.
    """
    out = Prompts()
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _BOX.match(line)
        if m:
            x0, y0, x1, y1 = (float(v) for v in m.groups())
            try:
                box = Box(x0, y0, x1, y1)
            except SpecError as exc:
                raise PromptError(f"line {number}: {exc}") from None
            _inside(number, size, (x0, y0), (x1, y1))
            out.boxes.append(box)
            continue
        m = _POINT.match(line)
        if m:
            x, y = float(m.group(2)), float(m.group(3))
            _inside(number, size, (x, y))
            out.points.append(Point(x, y, 0 if m.group(1) == "-" else 1))
            continue
        raise PromptError(f"line {number}: {line!r} is not a prompt. {PROMPT_HELP}")
    return out


def _inside(number: int, size: tuple[int, int] | None, *xy: tuple[float, float]) -> None:
    if not size:
        return
    w, h = size
    for x, y in xy:
        if not (0 <= x <= w and 0 <= y <= h):
            raise PromptError(f"line {number}: ({x:g}, {y:g}) is outside the {w}x{h} frame")


def centre_prompt(size: tuple[int, int]) -> str:
    """The 'centre of frame' shortcut: one positive point in the middle."""
    w, h = size
    return f"+ {w / 2:g} {h / 2:g}"
