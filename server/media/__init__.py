"""Reading sources frame-exactly: video through ffmpeg, sequences and stills through OpenImageIO.

>>> info = probe("shot.mov")                   # or "plate.####.exr", or one file of it
>>> with open_reader(info, 10, 40) as frames:  # source frame numbers, inclusive
...     for frame in frames: ...               # Frame(number, float32 RGB in [0, 1])

Every failure is a :class:`MediaError` whose message is one sentence for the user.
"""

from .colour import linear_to_display, to_display
from .info import MAX_SIDE, MediaError, MediaInfo, check_frames, check_range
from .probe import probe
from .reader import FrameReader, open_reader, read_frame

__all__ = [
    "MAX_SIDE",
    "FrameReader",
    "MediaError",
    "MediaInfo",
    "check_frames",
    "check_range",
    "linear_to_display",
    "open_reader",
    "probe",
    "read_frame",
    "to_display",
]
