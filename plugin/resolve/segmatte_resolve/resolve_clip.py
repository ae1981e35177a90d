"""The clip under the artist's playhead in Resolve: its file and the source frames it uses.

Only calls from Blackmagic's scripting README (Developer/Scripting/README.txt).
Where the README does not pin a return shape down (GetSourceStartFrame on an
image sequence: file numbers or frames from the clip's start?) the code reads
it defensively and says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from . import jobspec


class ClipError(RuntimeError):
    """Nothing usable under the playhead; the message tells the artist what to do."""


@dataclass
class ClipInfo:
    resolve: Any
    project: Any
    media_pool: Any
    timeline: Any
    item: Any
    media_item: Any
    name: str
    source: jobspec.Source
    first: int
    """First source frame number the timeline item uses."""
    last: int
    record_start: int
    """Timeline (record) frame of the item's first frame."""
    track_index: int
    size: tuple[int, int] | None
    keyframe: int
    """Source frame under the playhead (clamped into first..last)."""

    @property
    def file_path(self) -> str:
        return self.source.path


def _call(obj: Any, name: str, *args: Any) -> Any:
    """``obj.name(*args)`` or None when the method is missing (older Resolve) or fails."""
    method = getattr(obj, name, None)
    if method is None:
        return None
    try:
        return method(*args)
    except Exception:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def parse_resolution(text: Any) -> tuple[int, int] | None:
    """'1920x1080' (the Resolution clip property) → (1920, 1080)."""
    m = re.match(r"^\s*(\d+)\s*[xX×]\s*(\d+)", str(text or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def timecode_frames(tc: str, fps: float) -> int | None:
    """'01:00:10:05' → frames at ``fps`` (non-drop counting; ';' drop-frame is read the same)."""
    m = re.match(r"^(\d+)[:;](\d+)[:;](\d+)[:;.](\d+)$", str(tc or "").strip())
    if not m or fps <= 0:
        return None
    h, mi, s, f = (int(g) for g in m.groups())
    base = int(round(fps))
    return ((h * 60 + mi) * 60 + s) * base + f


def playhead_record_frame(timeline: Any) -> int | None:
    """The playhead as a timeline frame, from GetCurrentTimecode and the start timecode."""
    fps = _int(_call(timeline, "GetSetting", "timelineFrameRate")) or 0
    now = timecode_frames(_call(timeline, "GetCurrentTimecode"), fps)
    start = timecode_frames(_call(timeline, "GetStartTimecode"), fps)
    first = _int(_call(timeline, "GetStartFrame"))
    if now is None or start is None or first is None:
        return None
    return first + now - start


def source_range(item: Any, source: jobspec.Source) -> tuple[int, int]:
    """The source frame numbers the item shows: first, last (inclusive).

    GetSourceStartFrame (newer Resolve) is preferred, else GetLeftOffset (the
    frames trimmed off the clip's head). The README does not say whether an
    image sequence counts from its first file number or from 0, so a value
    below the first file number is taken as relative and shifted. Speed
    changes are not followed: the range is as long as the item.
    """
    duration = _int(_call(item, "GetDuration"))
    if not duration or duration <= 0:
        raise ClipError("the timeline item has no duration")
    first = _int(_call(item, "GetSourceStartFrame"))
    if first is None:
        first = _int(_call(item, "GetLeftOffset")) or 0
    if source.is_sequence and first < source.first_number:
        first += source.first_number
    return first, first + duration - 1


def current_clip(resolve: Any) -> ClipInfo:
    """Everything the panel needs about the current video item; raises ClipError."""
    if resolve is None:
        raise ClipError("this script runs inside DaVinci Resolve (Workspace > Scripts)")
    project = _call(_call(resolve, "GetProjectManager"), "GetCurrentProject")
    if project is None:
        raise ClipError("open a project first")
    timeline = _call(project, "GetCurrentTimeline")
    if timeline is None:
        raise ClipError("open a timeline first")
    item = _call(timeline, "GetCurrentVideoItem")
    if item is None:
        raise ClipError("put the playhead over a video clip (and select its track)")
    media_item = _call(item, "GetMediaPoolItem")
    if media_item is None:
        raise ClipError("the clip under the playhead has no media (a generator or title?)")
    path = _call(media_item, "GetClipProperty", "File Path")
    if not isinstance(path, str) or not path:
        raise ClipError("the clip under the playhead has no file path")
    source = jobspec.source_from_resolve(path)
    first, last = source_range(item, source)
    record_start = _int(_call(item, "GetStart")) or 0
    track = _call(item, "GetTrackTypeAndIndex")
    track_index = _int(track[1]) if isinstance(track, (list, tuple)) and len(track) > 1 else 1
    size = parse_resolution(_call(media_item, "GetClipProperty", "Resolution"))
    playhead = playhead_record_frame(timeline)
    keyframe = first if playhead is None else first + playhead - record_start
    keyframe = min(max(keyframe, first), last)
    name = _call(item, "GetName") or os.path.basename(path)
    return ClipInfo(resolve, project, _call(project, "GetMediaPool"), timeline, item, media_item,
                    str(name), source, first, last, record_start, track_index or 1, size, keyframe)
