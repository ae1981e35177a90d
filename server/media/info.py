"""What a source is (:class:`MediaInfo`) and the one error type (:class:`MediaError`).

Their own module, imported by probe, sequence, video and reader alike, so no
module of the package needs another's half-initialised namespace (probe used to
hold these and import sequence and video, which import them back).

Every failure is a :class:`MediaError` whose ``str()`` is one sentence the
user can act on (it reaches hosts and the CLI unchanged).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal

from segmatte.models.frames import ClipInfo

MAX_SIDE = 16384
"""Larger than any camera: a header claiming more is damaged, not a plate."""

Kind = Literal["video", "sequence", "still"]


class MediaError(ValueError):
    """A source that cannot be read as asked; ``str()`` is one sentence for the user.

    ``frame`` names the source frame at fault when there is one (a gap, a frame
    that does not decode), so a job's ``failed`` event can say where it stopped;
    ``field`` names the part of a job spec at fault (``range``) when it is one.
    """

    def __init__(self, message: str, *, frame: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.frame = frame
        self.field = field


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
    hold_gaps: bool = False
    """Not a fact of the file but the job's choice, set at the door (:func:`check_frames`):
    readers hold the previous frame over missing frames instead of refusing them."""
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
        raise MediaError(f"frame range {first}-{last} ends before it starts", field="range")
    if first < info.first or last > info.last:
        raise MediaError(
            f"frames {first}-{last} are outside {os.path.basename(info.path)}, "
            f"which has frames {info.first}-{info.last}", field="range")


def check_size(width: int, height: int, where: str) -> None:
    """Refuse zero or absurd picture sizes before any buffer is allocated."""
    if width <= 0 or height <= 0:
        raise MediaError(f"{where} reports an empty picture ({width}×{height}); the file is damaged")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise MediaError(
            f"{where} is {width}×{height}, larger than {MAX_SIDE} pixels on a side; "
            "scale it down before making mattes")




def check_frames(info: MediaInfo, first: int, last: int, *, hold_gaps: bool = False) -> MediaInfo:
    """The door's check of a job's range against its source; the info its readers use.

    The range must lie inside the source (MediaError, field ``range``), and a
    sequence must have every frame of it unless ``hold_gaps`` (MediaError,
    field ``hold_gaps``, naming the option). Returns ``info`` marked to hold
    over gaps when the job asked, so every reader of the job does.
    """
    if first < info.first or last > info.last:
        raise MediaError(f"range {first}-{last} is outside {os.path.basename(info.path)}, which "
                         f"has frames {info.first}-{info.last}", field="range")
    check_range(info, first, last)
    gaps = [n for n in info.missing if first <= n <= last]
    if gaps and not hold_gaps:
        many = len(gaps) > 1
        shown = ", ".join(map(str, gaps[:10])) + (f" and {len(gaps) - 10} more"
                                                   if len(gaps) > 10 else "")
        raise MediaError(f"{os.path.basename(info.path)} has no file for frame{'s' if many else ''} "
                         f"{shown}; render {'them' if many else 'it'}, or pass --hold-gaps "
                         "(spec: \"hold_gaps\": true) to hold the previous frame over gaps",
                         frame=gaps[0], field="hold_gaps")
    return replace(info, hold_gaps=hold_gaps) if hold_gaps != info.hold_gaps else info
