"""Frame lists as render managers write them: ``1001-1010,1012,1020-1040x2``.

Used to show *exactly* which source frames a cut shows (a speed change skips
or repeats frames, a reverse runs backwards) in one short string.
"""

from __future__ import annotations

from collections.abc import Iterable


def frame_list(frames: Iterable[int]) -> str:
    """The distinct frames, ascending, as runs ``a-b`` or ``a-bxstep`` and singles."""
    todo = sorted(set(frames))
    parts: list[str] = []
    i = 0
    while i < len(todo):
        j = i
        if i + 1 < len(todo):
            step = todo[i + 1] - todo[i]
            while j + 1 < len(todo) and todo[j + 1] - todo[j] == step:
                j += 1
        if j - i >= 2 or (j - i == 1 and step == 1):
            parts.append(f"{todo[i]}-{todo[j]}" + ("" if step == 1 else f"x{step}"))
            i = j + 1
        else:
            parts.append(str(todo[i]))
            i += 1
    return ",".join(parts)


def parse_frame_list(text: str) -> list[int]:
    """The frames of a frame list (the inverse of :func:`frame_list`)."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        span, _, step = part.partition("x")
        a, sep, b = span.partition("-")
        out += list(range(int(a), int(b) + 1, int(step or 1))) if sep else [int(a)]
    return sorted(set(out))
