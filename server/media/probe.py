"""Which kind of source a path is, and its facts: :func:`probe`.

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

from . import sequence, video
from .info import MAX_SIDE, Kind, MediaError, MediaInfo, check_range, check_size

__all__ = ["MAX_SIDE", "Kind", "MediaError", "MediaInfo", "check_range", "check_size", "probe"]


def probe(path_or_pattern: str, part: str | None = None) -> MediaInfo:
    """Find out what a source is and what frames it holds.

    Patterns and image files go to OpenImageIO (sequence.py), everything else
    to ffmpeg (video.py). ``part`` picks a part of multi-part EXR files (by
    name or index). Raises MediaError with one actionable sentence.
    """
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
