"""Frame numbers in file names: the one parser both ends and both hosts use.

Standard library only (it is vendored into the hosts). Spellings of an image
sequence, all naming the same files:

* ``plate.####.exr`` (one ``#`` or ``@`` per digit of zero padding),
* ``plate.%04d.exr`` / ``plate.%d.exr`` (printf),
* ``plate.[1001-1100].exr`` (Resolve's File Path: an explicit range; padding
  from the digits of the first number),
* any one file of it, ``plate.1001.exr`` (the last run of digits is the frame).

Mattes on disk are ``name.<frame>.exr`` (``name_<layer>.<frame>.exr`` for
several layers); :func:`group_frame_files` turns a list of such paths back
into sequences.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

STILL_EXTS = (".exr", ".sxr", ".dpx", ".cin", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".tga",
              ".bmp", ".hdr", ".webp", ".sgi", ".rgb", ".psd", ".jp2", ".j2k", ".jxl")
MOVIE_EXTS = (".mov", ".mp4", ".mxf", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".mts")

_HASH = re.compile(r"([#@]+)")
_PRINTF = re.compile(r"%(0?)(\d*)d")
_RANGE = re.compile(r"\[(\d+)-(\d+)\]")
_LAST_NUMBER = re.compile(r"(\d+)(?=\D*$)")
_FRAME_FILE = re.compile(r"^(?P<stem>.+)\.(?P<num>\d+)\.exr$")


class PatternError(ValueError):
    """A name that is not a sequence pattern; ``str()`` is one sentence."""


@dataclass(frozen=True)
class SequenceName:
    """A sequence's file name split around the frame number."""

    folder: str
    prefix: str
    suffix: str
    padding: int

    @property
    def printf(self) -> str:
        """``/x/plate.%04d.exr`` (what Resolve's ImportMedia wants)."""
        return os.path.join(self.folder, f"{self.prefix}%0{self.padding}d{self.suffix}")

    @property
    def hashes(self) -> str:
        """``/x/plate.####.exr`` (what the server reads)."""
        return os.path.join(self.folder, f"{self.prefix}{'#' * self.padding}{self.suffix}")

    def file(self, number: int) -> str:
        return os.path.join(self.folder, f"{self.prefix}{number:0{self.padding}d}{self.suffix}")

    def matches(self, digits: str) -> bool:
        """Whether a run of digits is how this padding writes its number (printf ``%0Nd``)."""
        return f"{int(digits):0{self.padding}d}" == digits


def is_pattern_text(name: str) -> bool:
    """Whether a file name is written as a pattern (``#``, ``%04d`` or ``[a-b]``)."""
    base = os.path.basename(name)
    return bool(_HASH.search(base) or _PRINTF.search(base) or _RANGE.search(base))


def parse_pattern(source: str) -> tuple[SequenceName, tuple[int, int] | None]:
    """Split a pattern into its name parts and its explicit range (``[a-b]``) if any."""
    folder, base = os.path.split(source)
    for rx in (_RANGE, _PRINTF, _HASH):
        matches = list(rx.finditer(base))
        if not matches:
            continue
        m = matches[-1]
        prefix, suffix = base[: m.start()], base[m.end():]
        if rx is _RANGE:
            a, b = m.group(1), m.group(2)
            padding = len(a) if a.startswith("0") or len(a) == len(b) else 1
            if int(b) < int(a):
                raise PatternError(f"the range [{a}-{b}] in {base} ends before it starts")
            return SequenceName(folder, prefix, suffix, padding), (int(a), int(b))
        padding = (int(m.group(2)) if m.group(2) else 1) if rx is _PRINTF else len(m.group(1))
        return SequenceName(folder, prefix, suffix, max(1, padding)), None
    raise PatternError(f"{base} is not a sequence pattern; write the frame number as #### or %04d")


def file_number(path: str) -> int | None:
    """The frame number of one file of a sequence (``shot.1001.exr`` → 1001), or None."""
    m = _LAST_NUMBER.search(os.path.basename(path))
    return int(m.group(1)) if m else None


def name_of_file(path: str) -> SequenceName:
    """``/x/shot.1001.exr`` → its SequenceName (4-padded); PatternError if it has no number."""
    folder, base = os.path.split(path)
    m = _LAST_NUMBER.search(base)
    if not m:
        raise PatternError(f"{base} has no frame number, so it is not part of an image sequence")
    return SequenceName(folder, base[:m.start()], base[m.end():], len(m.group(1)))


def hashes_of_file(path: str) -> str:
    """``/x/shot.1001.exr`` → ``/x/shot.####.exr`` (as many ``#`` as digits)."""
    return name_of_file(path).hashes


def is_still(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in STILL_EXTS


def clip_stem(name: str) -> str:
    """``shot.[1001-1100].exr``, ``shot.####.exr``, ``shot.1001.exr``, ``green.mp4`` → a stem."""
    base = os.path.basename(name or "")
    base = _RANGE.sub("", base)
    stem, ext = os.path.splitext(base)
    if ext.lower() in STILL_EXTS or ext.lower() in MOVIE_EXTS:
        base = stem
    if re.search(r"[._\-][#@\d]+$", base):
        base = re.sub(r"[._\-]*[#@\d]*$", "", base)
    return base.rstrip("._-") or base


def safe_name(text: str, fallback: str = "matte") -> str:
    """A file-name stem the server accepts (letters, digits, ``_``, ``-``, ``.``)."""
    name = re.sub(r"[^A-Za-z0-9_\-.]+", "_", text or "").strip("._")
    return name[:96] or fallback


@dataclass(frozen=True)
class FrameFiles:
    """Files of one sequence found in a list of paths: printf pattern and the numbers."""

    stem: str
    pattern: str
    """``/out/hero.%04d.exr``."""
    files: dict[int, str]

    @property
    def first(self) -> int:
        return min(self.files)

    @property
    def last(self) -> int:
        return max(self.files)


def group_frame_files(paths: list[str]) -> list[FrameFiles]:
    """Matte paths (``name.<frame>.exr``) grouped into sequences, sorted by pattern."""
    groups: dict[tuple[str, str, int], dict[int, str]] = {}
    for p in paths:
        folder, base = os.path.split(os.path.normpath(p))
        m = _FRAME_FILE.match(base)
        if m:
            key = (folder, m.group("stem"), len(m.group("num")))
            groups.setdefault(key, {})[int(m.group("num"))] = os.path.join(folder, base)
    return [FrameFiles(stem, os.path.join(folder, f"{stem}.%0{width}d.exr"), dict(sorted(f.items())))
            for (folder, stem, width), f in sorted(groups.items())]
