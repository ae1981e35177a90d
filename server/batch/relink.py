"""Finding a clip's media: the path the edit gives, or a file of that name under ``--media``.

Edits travel: an XML or OTIO file written on a Mac names ``/Volumes/RAID/A001.mov``,
one from Windows ``D:/footage/A001.mov``, an Avid EDL only the clip or reel
name, a Resolve EDL ``* SOURCE FILE: A001.mov``. :func:`find` tries the names
an edit gives for a clip, in order: any that is a file here (absolute, or
relative to the edit's folder) wins; then each name's *basename* is looked up
in the ``--media`` folders (by file name, then by name without extension;
image sequences by their name without the frame number). Two different files
answering the same name is an error that names both: guessing would matte the
wrong plate.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .naming import MEDIA_SUFFIXES

MAX_FILES = 50_000
"""Files looked at under the media folders (a whole RAID is not a media folder)."""
_FRAME = re.compile(r"^(?P<prefix>.*?)[._-]?(?P<digits>\d+)(?P<suffix>\.[^.]+)$")
_SEQUENCE_SUFFIXES = {".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".dng"}


@dataclass(frozen=True)
class Found:
    """Where a clip's media is, or why it was not found."""

    path: str | None
    note: str = ""
    """How it was found when it was not the path the edit gives (for the report)."""
    error: str | None = None


def basename(name: str) -> str:
    """The file name of a path from any machine (``/Volumes/x/A.mov``, ``D:\\x\\A.mov``, a URL)."""
    text = name.strip()
    if text.lower().startswith("file:"):
        text = re.sub(r"^file:/*", "/", text)
    return re.split(r"[\\/]", text.rstrip("/\\"))[-1]


def _foreign(path: str) -> bool:
    """A path of another machine: a Windows drive, a UNC share, or an absolute path not here."""
    return bool(re.match(r"^[A-Za-z]:[\\/]", path) or path.startswith("\\\\") or "\\" in path)


class MediaIndex:
    """Media files under the ``--media`` folders by name, stem and sequence name."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._keys: dict[str, dict[str, str]] | None = None

    def _build(self) -> dict[str, dict[str, str]]:
        keys: dict[str, dict[str, str]] = {}

        def add(key: str, identity: str, path: str) -> None:
            keys.setdefault(key.lower(), {}).setdefault(identity, path)

        count = 0
        for folder in self.folders:
            for root, dirs, files in os.walk(folder):
                dirs.sort()
                for f in sorted(files):
                    suffix = Path(f).suffix.lower()
                    if suffix not in MEDIA_SUFFIXES or f.startswith("."):
                        continue
                    count += 1
                    if count > MAX_FILES:
                        return keys
                    path = os.path.join(root, f)
                    m = _FRAME.match(f) if suffix in _SEQUENCE_SUFFIXES else None
                    if m:  # one entry per sequence, whichever frame names it
                        identity = os.path.join(root, m.group("prefix") + "#" + m.group("suffix"))
                        add(f, identity, path)
                        add(m.group("prefix") + m.group("suffix"), identity, path)
                        add(m.group("prefix"), identity, path)
                    else:
                        add(f, path, path)
                        add(Path(f).stem, path, path)
        return keys

    def lookup(self, name: str) -> list[str]:
        """Files answering to ``name`` (a file name, or a name without extension)."""
        if self._keys is None:
            self._keys = self._build()
        key = basename(name).lower()
        if not key:
            return []
        hits = self._keys.get(key, {})
        return sorted(hits.values())


def _local(value: str, base: Path) -> str | None:
    """``value`` as a file here: absolute or relative to the edit's folder; None if not."""
    text = value.strip()
    if text.lower().startswith("file:"):
        from opentimelineio import url_utils

        text = url_utils.filepath_from_url(text)
    if not text or _foreign(text):
        return None
    path = text if os.path.isabs(text) else str(base / text)
    if os.path.exists(path):
        return path
    from ..media.sequence import is_pattern

    return path if is_pattern(path) and os.path.isdir(os.path.dirname(path)) else None


def find(names: list[tuple[str, str]], base: Path, index: MediaIndex) -> Found:
    """The media of a clip from the names its edit gives, as (what, name) pairs in
    order of trust: ``("path", "/Volumes/x/A.mov")``, ``("clip name", "A")``, ..."""
    names = [(what, value) for what, value in names if value and value.strip()]
    for _what, value in names:
        path = _local(value, base)
        if path is not None:
            return Found(path)
    if not index.folders:
        return Found(None, error=_missing(names))
    for what, value in names:
        hits = index.lookup(value)
        if len(hits) == 1:
            return Found(hits[0], note=f"relinked by {what} '{value}' to {hits[0]}")
        if len(hits) > 1:
            shown = ", ".join(hits[:5]) + (f" and {len(hits) - 5} more" if len(hits) > 5 else "")
            return Found(None, error=f"its {what} '{value}' matches several files in --media "
                                     f"({shown}); keep one or pass a narrower --media folder")
    return Found(None, error=_missing(names))


def _missing(names: list[tuple[str, str]]) -> str:
    if not names:
        return ("no media found for it (the edit names no file; pass --media FOLDER to look "
                "it up by clip or reel name)")
    tried = "; ".join(f"{what} '{value}'" for what, value in names)
    return f"no media found for it (tried {tried}; pass --media FOLDER that holds it)"
