"""Host file names → the source the server reads, through ``segmatte.client.patterns``.

Resolve names an image sequence ``/a/shot.[1001-1100].exr`` (File Path clip
property); a Fusion Loader names one of its files, ``/a/shot.1001.exr``. The
server wants ``/a/shot.####.exr`` and source frame numbers (file numbers for
a sequence, 0-based frames for a movie).
"""

from __future__ import annotations

from dataclasses import dataclass

from segmatte.client import patterns


@dataclass(frozen=True)
class Source:
    path: str
    """What the spec's ``source`` gets: a movie, or a ``####`` pattern."""
    first_number: int = 0
    """First file number of an image sequence (0 for a movie)."""
    is_sequence: bool = False


def from_resolve(path: str) -> Source:
    """Resolve's File Path (``/a/shot.[1001-1100].exr`` for a sequence) → a Source."""
    if patterns.is_pattern_text(path):
        try:
            name, rng = patterns.parse_pattern(path)
        except patterns.PatternError:
            return Source(path)
        return Source(name.hashes, rng[0] if rng else 0, True)
    return Source(path)


def from_frame_file(path: str) -> Source:
    """One file of a sequence (a Loader's Clip) → its ``####`` pattern; a movie stays as is."""
    number = patterns.file_number(path)
    if patterns.is_still(path) and number is not None:
        return Source(patterns.hashes_of_file(path), number, True)
    return Source(path)
