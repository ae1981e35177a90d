"""The clip under the artist's playhead in Resolve: its file and the source frames it uses.

Only calls from Blackmagic's scripting README. Where the README leaves a
meaning open the code reads what Resolve reports and checks it against the
clip's own properties instead of assuming:

- ``GetSourceStartFrame``: from 0 or from the clip's first frame number (its
  "Start" property / first file)? The base is the candidate that agrees with
  ``GetLeftOffset`` (timeline frames trimmed off the head, scaled by the rates).
- the playhead: ``GetCurrentTimecode`` is documented for the Cut, Edit, Color,
  Fairlight and Deliver pages only. On the Fusion page the comp's CurrentTime
  and the MediaIn's GlobalIn give the frame; elsewhere there is no playhead and
  the prompt frame is the first, said out loud.
- rates: "29.97 DF" and friends (rates.py); a clip whose FPS differs from the
  timeline's is retimed by Resolve: its source frames are counted at its own
  rate and the panel says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import fusion_nodes, rates, sources

TIMECODE_PAGES = ("cut", "edit", "color", "fairlight", "deliver")


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
    source: sources.Source
    first: int
    """First source frame number the timeline item uses."""
    last: int
    record_start: int
    """Timeline (record) frame of the item's first frame."""
    duration: int
    """Timeline frames the item lasts."""
    track_index: int
    size: tuple[int, int] | None
    keyframe: int
    """Source frame under the playhead (clamped into first..last)."""
    rate: rates.Rate
    clip_fps: float | None = None
    source_base: int | None = None
    """What GetSourceStartFrame counted from (None when Resolve has no such call)."""
    notes: list[str] = field(default_factory=list)
    """Things the artist should know (mixed rates, no playhead on this page)."""

    @property
    def file_path(self) -> str:
        return self.source.path

    @property
    def mixed_rate(self) -> bool:
        return self.clip_fps is not None and abs(self.clip_fps - self.rate.fps) > 0.01


def _call(obj: Any, name: str, *args: Any) -> Any:
    """``obj.name(*args)``, or None when Resolve returns nothing or the call fails inside."""
    method = getattr(obj, name, None)
    if method is None:
        return None
    try:
        return method(*args)
    except (TypeError, ValueError, RuntimeError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def _fps(value: Any) -> float | None:
    try:
        return rates.parse_rate(value).fps
    except rates.RateError:
        return None


def parse_resolution(text: Any) -> tuple[int, int] | None:
    """'1920x1080' (the Resolution clip property) → (1920, 1080)."""
    m = re.match(r"^\s*(\d+)\s*[xX×]\s*(\d+)", str(text or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def timeline_size(timeline: Any) -> tuple[int, int] | None:
    """The timeline's resolution (``GetSetting`` "timelineResolutionWidth"/"Height": the
    size of the item's Fusion comp, where the preview Loader goes); None when unreadable."""
    w = _int(_call(timeline, "GetSetting", "timelineResolutionWidth"))
    h = _int(_call(timeline, "GetSetting", "timelineResolutionHeight"))
    return (w, h) if w and h and w > 0 and h > 0 else None


def preview_size(source: tuple[int, int] | None, comp: tuple[int, int] | None) -> int | None:
    """The session preview's long side for a source of size ``source`` shown in a comp of
    size ``comp``: the comp's long side when it is smaller and the shapes agree (the Loader
    then lines up with the clip pixel for pixel, and is cheaper to make); else None (the
    source size)."""
    if not source or not comp or min(*source, *comp) <= 0:
        return None
    if abs(source[0] / source[1] - comp[0] / comp[1]) > 0.01 * source[0] / source[1]:
        return None  # letterboxed or cropped into the comp: keep source pixels
    long_side = max(comp)
    return long_side if 16 <= long_side < max(source) else None


def timeline_rate(timeline: Any) -> rates.Rate:
    text = _call(timeline, "GetSetting", "timelineFrameRate")
    try:
        return rates.parse_rate(text)
    except rates.RateError as exc:
        raise ClipError(f"cannot read the timeline's frame rate: {exc}") from None


def clip_properties(media_item: Any) -> dict:
    """GetClipProperty() with no argument: "a dict of all clip properties" (README)."""
    props = _call(media_item, "GetClipProperty")
    return props if isinstance(props, dict) else {}


def base_candidates(props: dict, source: sources.Source) -> list[int]:
    """What GetSourceStartFrame may count from: 0, the clip's "Start", its first file number."""
    out = [0]
    for value in (_int(props.get("Start")), source.first_number if source.is_sequence else None):
        if value is not None and value not in out:
            out.append(value)
    return out


def detect_base(ssf: int, expected: float | None, frames: int | None, count: int,
                bases: list[int]) -> int | None:
    """The base under which ``ssf`` is the frame ``expected`` (the left offset in clip
    frames); without that, the one under which it is a frame inside the clip."""
    if expected is not None:
        fits = [b for b in bases if ssf - b >= 0]
        return min(fits, key=lambda b: (abs(ssf - b - expected), b)) if fits else None
    fits = [b for b in bases if ssf - b >= 0 and (frames is None or ssf - b + count <= frames)]
    return fits[0] if fits else None


@dataclass
class Span:
    rel_start: int
    """Frames from the clip's first frame to the first one the item shows."""
    count: int
    base: int | None
    notes: list[str]


def source_span(item: Any, props: dict, source: sources.Source, rate: rates.Rate,
                clip_fps: float | None) -> Span:
    """Which of the clip's frames the item shows; raises ClipError naming what disagrees.

    Same rate: ``GetLeftOffset`` frames are trimmed off the head and the item
    shows ``GetDuration`` frames. Mixed rates: Resolve retimes the clip, so
    the count is the duration scaled by the rates and the start comes from
    ``GetSourceStartFrame`` (in the clip's frames) once its base is known.
    """
    duration = _int(_call(item, "GetDuration"))
    if not duration or duration <= 0:
        raise ClipError("the timeline item has no duration")
    frames = _int(props.get("Frames"))
    mixed = clip_fps is not None and abs(clip_fps - rate.fps) > 0.01
    scale = clip_fps / rate.fps if mixed and clip_fps else 1.0
    count = max(1, int(round(duration * scale)))
    left = _int(_call(item, "GetLeftOffset"))
    ssf = _int(_call(item, "GetSourceStartFrame"))
    notes: list[str] = []
    expected = left * scale if left is not None else None
    base = None
    if ssf is not None:
        base = detect_base(ssf, expected, frames, count, base_candidates(props, source))
        if base is None:
            raise ClipError(f"GetSourceStartFrame says {ssf}, which is no frame of the clip "
                            f"(Start {props.get('Start')!r}, {frames} frames); cannot tell which "
                            "source frames the item shows")
    if mixed and ssf is not None:
        rel = ssf - base  # type: ignore[operator]
        if expected is not None and abs(rel - expected) >= 1:
            notes.append(f"GetSourceStartFrame ({ssf}) is {rel - expected:+.1f} frames off the "
                         f"left offset at the clip's rate ({expected:.1f}); Resolve is reported "
                         "to give it one frame low on mixed-rate timelines — check the first "
                         "matte frame")
    elif left is not None:
        rel = left
        if ssf is not None and ssf - base != left:  # type: ignore[operator]
            notes.append(f"GetSourceStartFrame ({ssf}, from {base}) and GetLeftOffset ({left}) "
                         "disagree; the left offset is used")
    elif ssf is not None:
        rel = ssf - base  # type: ignore[operator]
    else:
        raise ClipError("Resolve reports neither GetLeftOffset nor GetSourceStartFrame for the item")
    if frames is not None and rel + count > frames:
        if not mixed:
            raise ClipError(f"the item shows {count} frames from clip frame {rel}, past the clip's "
                            f"{frames} frames")
        count = max(1, frames - rel)
    if mixed:
        notes.append(f"mixed rates: the clip runs at {clip_fps:.3f} fps on a {rate.text} fps "
                     f"timeline; Resolve retimes it, so {count} source frames are matted for "
                     f"{duration} timeline frames and a matte track above may drift by a frame")
    return Span(rel, count, base, notes)


def playhead_record_frame(resolve: Any, timeline: Any, rate: rates.Rate) -> tuple[int | None, str]:
    """The playhead as a timeline frame where the README documents it, else (None, why)."""
    page = _call(resolve, "GetCurrentPage")
    if page not in TIMECODE_PAGES:
        return None, f"the playhead cannot be read on the {page or 'current'} page"
    now, start_tc = _call(timeline, "GetCurrentTimecode"), _call(timeline, "GetStartTimecode")
    start = _int(_call(timeline, "GetStartFrame"))
    if start is None:
        return None, "Resolve did not give the timeline's start frame"
    counted = rates.with_drop(rate, rate.drop or rates.is_drop_timecode(now))
    try:
        offset = rates.timecode_to_frames(now, counted) - rates.timecode_to_frames(start_tc, counted)
    except rates.RateError as exc:
        return None, f"cannot read the playhead ({exc})"
    return start + offset, ""


def fusion_page_frame(fusion: Any, first: int) -> tuple[int | None, str]:
    """On the Fusion page: the source frame from the comp's CurrentTime and MediaIn's GlobalIn."""
    comp = _call(fusion, "GetCurrentComp")
    media_in = fusion_nodes.media_in(comp) if comp is not None else None
    if media_in is None:
        return None, "no MediaIn in the Fusion page's comp to read the frame from"
    g_in = fusion_nodes.number(media_in, "GlobalIn")
    now = fusion_nodes.current_time(comp)
    if g_in is None or now is None:
        return None, "cannot read the comp's current time or the MediaIn's GlobalIn"
    return first + now - g_in, ""


def current_clip(resolve: Any, fusion: Any = None) -> ClipInfo:
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
    props = clip_properties(media_item)
    path = props.get("File Path")
    if not isinstance(path, str) or not path:
        raise ClipError("the clip under the playhead has no file path")
    source = sources.from_resolve(path)
    rate = timeline_rate(timeline)
    clip_fps = _fps(props.get("FPS"))
    span = source_span(item, props, source, rate, clip_fps)
    first = source.first_number + span.rel_start
    last = first + span.count - 1
    record_start = _int(_call(item, "GetStart"))
    if record_start is None:
        raise ClipError("Resolve did not say where the item starts on the timeline")
    duration = _int(_call(item, "GetDuration")) or span.count
    track = _call(item, "GetTrackTypeAndIndex")
    track_index = _int(track[1]) if isinstance(track, (list, tuple)) and len(track) > 1 else 1
    notes = list(span.notes)
    if _call(resolve, "GetCurrentPage") == "fusion":
        keyframe, why = fusion_page_frame(fusion, first)
    else:
        record, why = playhead_record_frame(resolve, timeline, rate)
        keyframe = None if record is None else first + int(round(
            (record - record_start) * ((clip_fps or rate.fps) / rate.fps)))
    if keyframe is None:
        notes.append(f"{why}: prompts go on the first frame ({first})")
        keyframe = first
    keyframe = min(max(keyframe, first), last)
    name = _call(item, "GetName") or os.path.basename(path)
    return ClipInfo(resolve, project, _call(project, "GetMediaPool"), timeline, item, media_item,
                    str(name), source, first, last, record_start, duration, track_index or 1,
                    parse_resolution(props.get("Resolution")), keyframe, rate, clip_fps,
                    span.base, notes)
