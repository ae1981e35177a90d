"""Names on disk for a batch's shots.

An editor recognises a shot by its clip name, so the matte folder and the
sequence are named after the clip (``<out>/<clip>/<clip>.####.exr``) and the
frames carry the source frame numbers. Names must also satisfy the job spec's
rule for sequence names (letters, digits, ``_ - .``, no leading dot).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import PurePath

MEDIA_SUFFIXES = {
    ".mov", ".mp4", ".m4v", ".mxf", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".mts", ".m2ts",
    ".r3d", ".braw", ".ari", ".dng", ".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg",
}
MAX_NAME = 100


def clip_name(raw: str | None, source: str | None = None) -> str:
    """A safe sequence name from a clip's name (or, failing that, its media's file name).

    The media extension is dropped (``A001_C002.mov`` → ``A001_C002``) and
    any character a spec name may not hold becomes ``_``.
    """
    text = (raw or "").strip()
    if not text and source:
        text = PurePath(source).name
        for cut in ("%", "#", "["):
            text = text.split(cut)[0] or text
    suffix = PurePath(text).suffix.lower()
    if suffix in MEDIA_SUFFIXES:
        text = text[: -len(suffix)]
    clean = re.sub(r"[^A-Za-z0-9_\-.]+", "_", text).strip("._-")
    return (clean or "clip")[:MAX_NAME]


def unique_ids(keys: list[tuple[str, int | None, int | None]]) -> list[str]:
    """Folder ids for ``(name, first, last)`` keys, in order: the name alone when
    it is unique, else ``name_first-last`` so two uses of one clip never share
    a folder (each folder holds one job's manifest)."""
    ranges: dict[str, set[tuple[int | None, int | None]]] = defaultdict(set)
    for name, first, last in keys:
        ranges[name].add((first, last))
    out = []
    for name, first, last in keys:
        if len(ranges[name]) == 1:
            out.append(name)
        else:
            out.append(f"{name}_{first if first is not None else 'all'}-{last if last is not None else 'all'}")
    return out
