"""What a source is: :class:`MediaInfo`, :func:`probe`, and the one error type.

A job's ``source`` is a video file, an image-sequence pattern
(``plate.####.exr``, ``plate.%04d.exr``, ``plate.[1001-1100].exr``), any one
file of a sequence (its siblings are found), or a single still. :func:`probe`
tells them apart and returns the facts the pipeline needs, in *source* frame
numbers: a video's frames are numbered 0..N-1 in presentation order; a
sequence's frames carry their file numbers; a still is frame 0.

Every failure is a :class:`MediaError` whose ``str()`` is one sentence the
user can act on (it reaches hosts and the CLI unchanged).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from segmatte.models.frames import ClipInfo

MAX_SIDE = 16384
"""Larger than any camera: a header claiming more is damaged, not a plate."""

Kind = Literal["video", "sequence", "still"]


class MediaError(ValueError):
    """A source that cannot be read as asked; ``str()`` is one sentence for the user."""


@dataclass(frozen=True)
class MediaInfo:
    """The facts about one source, as :func:`probe` found them.

    ``fps`` is None for sequences and stills unless a file header records a
    rate (EXR ``framesPerSecond``, DPX frame rate): image files have no
    intrinsic rate, the host decides. ``frame_count`` is ``last - first + 1``
    (a sequence's gaps are counted in it and listed in ``missing``).
    """

    path: str
    """The file (video, still) or the sequence pattern as given."""
    kind: Kind
    width: int
    height: int
    fps: float | None
    first: int
    last: int
    frame_count: int
    codec: str
    """ffmpeg codec name for video (``h264``, ``prores``); OpenImageIO format for images."""
    pix_fmt: str
    """ffmpeg pixel format for video (``yuv422p10le``); sample type for images (``half``)."""
    bit_depth: int
    """Bits per sample: 8, 10, 12, 16 (half), 32 (float)."""
    linear: bool = False
    """Scene-linear float data (EXR): the reader applies the view transform of colour.py."""
    timecode: str | None = None
    missing: tuple[int, ...] = ()
    """Frame numbers inside first..last with no file (sequences only)."""
    pattern: str | None = None
    """printf-style pattern of a sequence's files (``/shots/plate.%04d.exr``)."""
    frame_times: tuple[float, ...] = field(default=(), repr=False, compare=False)
    """Video only: presentation time in seconds of each frame, index = frame number."""
    seek_origin: float = field(default=0.0, repr=False, compare=False)
    """Video only: the container's start time, that ffmpeg's ``-ss`` counts from."""
    part: str | None = None
    """Multi-part EXR: the part read (its name, or its index when unnamed); None: one part."""
    parts: tuple[str, ...] = ()
    """Multi-part EXR: every part's name, in file order."""

    @property
    def present_count(self) -> int:
        """Frames that really exist (frame_count minus the gaps)."""
        return self.frame_count - len(self.missing)

    def frame_path(self, number: int) -> str:
        """The file of one frame of a sequence (or the still itself)."""
        if self.kind == "sequence" and self.pattern is not None:
            return self.pattern % number
        return self.path

    def clip(self, first: int | None = None, last: int | None = None,
             default_fps: float = 24.0) -> ClipInfo:
        """The :class:`ClipInfo` an engine is opened with, for a range of this source."""
        first = self.first if first is None else first
        last = self.last if last is None else last
        check_range(self, first, last)
        return ClipInfo(width=self.width, height=self.height,
                        fps=float(self.fps or default_fps), first=first, last=last)


def check_range(info: MediaInfo, first: int, last: int) -> None:
    """Raise MediaError unless ``first..last`` (inclusive) lies inside the source."""
    if last < first:
        raise MediaError(f"frame range {first}-{last} ends before it starts")
    if first < info.first or last > info.last:
        raise MediaError(
            f"frames {first}-{last} are outside {os.path.basename(info.path)}, "
            f"which has frames {info.first}-{info.last}")


def check_size(width: int, height: int, where: str) -> None:
    """Refuse zero or absurd picture sizes before any buffer is allocated."""
    if width <= 0 or height <= 0:
        raise MediaError(f"{where} reports an empty picture ({width}×{height}); the file is damaged")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise MediaError(
            f"{where} is {width}×{height}, larger than {MAX_SIDE} pixels on a side; "
            "scale it down before making mattes")


def probe(path_or_pattern: str, part: str | None = None) -> MediaInfo:
    """Find out what a source is and what frames it holds.

    Patterns and image files go to OpenImageIO (sequence.py), everything else
    to ffmpeg (video.py). ``part`` picks a part of multi-part EXR files (by
    name or index). Raises MediaError with one actionable sentence.
    """
    # Imported here: both modules import MediaError/MediaInfo from this one.
    from . import sequence, video

    source = os.path.expanduser(str(path_or_pattern).strip())
    if not source:
        raise MediaError("no source given; pass a video file, an image sequence or a still")
    if sequence.is_pattern(source):
        return sequence.probe_pattern(source, part)
    if os.path.isdir(source):
        raise MediaError(
            f"{source} is a folder; give a video file, one image of a sequence, "
            "or a pattern such as name.####.exr")
    if not os.path.exists(source):
        raise MediaError(f"there is no file at {source}")
    if sequence.is_image_file(source):
        return sequence.probe_image_file(source, part)
    if part is not None:
        raise MediaError(f"a part ({part!r}) can only be picked in multi-part EXR files, and "
                         f"{os.path.basename(source)} is a video")
    return video.probe_video(source)
