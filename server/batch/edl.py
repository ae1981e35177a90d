"""CMX 3600 EDLs at any rate, through OpenTimelineIO's reader.

OTIO's ``cmx_3600`` adapter does the parsing, but on its own it cannot read
what editors' tools write every day, so this module stands around it:

* an EDL does not carry its rate: :func:`scan` collects the facts that tell
  it (the ``FCM:`` line, ``;`` separators, the largest frames field) and the
  caller picks the rate (rates.guess_rate);
* drop frame: the adapter reads ``;`` as drop frame and ``:`` as non-drop,
  whatever the ``FCM:`` line says; :func:`_normalised` writes every event
  timecode with the separator the FCM line (or any ``;``) asks for;
* 10, 12, 15 fps have no SMPTE timecode, which the adapter refuses: their
  timecodes are turned into frame counts, read at a carrier rate, and the
  timeline is re-rated afterwards (:func:`_rerate`), value for value;
* ``M2`` speed lines: the adapter drops the speed when record and source
  durations happen to match (a reverse at -100 %), ignores the entry
  timecode, and divides the speed by 29.97 where timecode counts 30 frames a
  second; :func:`_apply_events` sets the time warp from the line itself
  (speed / timecode frames per second, so ``060.0`` at 29.97 is exactly 2x);
* ``* SOURCE FILE:`` (Resolve) is left in comments, ``* FROM CLIP:`` becomes
  a reference the adapter cannot resolve: both are kept in the clip's
  ``segmatte`` metadata for relinking (relink.py).

Each video clip of the timeline is matched to its event by order within its
track (the adapter appends one clip per event, a transition event being one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rates import EditRate, RateError, edit_rate, frames_to_tc, parse_timecode, tc_to_frames

CARRIER = 60
"""Rate a non-SMPTE EDL is read at: frame counts up to 24 h at 10 fps stay valid timecode."""
_TC = re.compile(r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2,3}")
_EVENT = re.compile(r"^\d+\s")
_M2 = re.compile(r"^M2\s+(?P<reel>\S+)\s+(?P<speed>-?[0-9.]+)\s+(?P<tc>\S+)\s*$", re.I)
_CHANNELS = {"A": ["A1"], "AA": ["A1", "A2"], "B": ["V", "A1"], "A2/V": ["V", "A2"],
             "AA/V": ["V", "A1", "A2"]}
"""The adapter's channel shorthand (its ``channel_map``): which tracks an event goes to."""


class EdlError(ValueError):
    """An EDL that cannot be read; ``str()`` is one sentence."""


@dataclass
class EdlEvent:
    """What one video event says, as written (before any rate is applied)."""

    number: int
    reel: str
    tracks: list[str]
    src_in: str
    src_out: str
    rec_in: str
    rec_out: str
    transition: str = "C"
    comments: dict[str, str] = field(default_factory=dict)
    """``source_file``, ``from_clip``, ``clip_name``, ``to_clip_name``."""
    speed: float | None = None
    """``M2`` speed in frames per second (negative: reverse)."""
    entry: str | None = None
    """``M2`` entry timecode: the source frame shown at the record in."""
    freeze: bool = False


@dataclass
class EdlScan:
    """Facts about an EDL's timecode, to choose its rate."""

    events: list[EdlEvent]
    fcm_drop: bool | None
    """True: ``FCM: DROP FRAME``; False: ``NON-DROP``; None: no FCM line."""
    semicolons: bool
    max_frames_field: int

    @property
    def drop(self) -> bool | None:
        return True if self.semicolons else self.fcm_drop

    def video_events(self, track: str) -> list[EdlEvent]:
        return [e for e in self.events if track in e.tracks]


def _tracks(channel: str) -> list[str]:
    return _CHANNELS.get(channel, [channel])


def _is_video(name: str) -> bool:
    return not name.startswith("A")


def scan(text: str) -> EdlScan:
    """Read the EDL's events and timecode facts (no rate needed)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    events: list[EdlEvent] = []
    fcm: bool | None = None
    max_ff = 0
    semicolons = False
    current: EdlEvent | None = None
    for line in lines:
        upper = line.upper()
        if upper.startswith("FCM"):
            if fcm is None:
                fcm = "NON" not in upper and "DROP" in upper
            continue
        if _EVENT.match(line):
            fields = line.split()
            if len(fields) not in (8, 9):
                current = None
                continue
            tcs = fields[-4:]
            for tc in tcs:
                if _TC.fullmatch(tc):
                    _h, _m, _s, f, semi = parse_timecode(tc)
                    max_ff = max(max_ff, f)
                    semicolons = semicolons or semi
            number = int(fields[0])
            event = EdlEvent(number=number, reel=fields[1], tracks=_tracks(fields[2]),
                             src_in=tcs[0], src_out=tcs[1], rec_in=tcs[2], rec_out=tcs[3],
                             transition=fields[3])
            if current is not None and current.number == number:
                # the transition line of a dissolve/wipe: it is the clip the adapter makes
                event.comments = current.comments
                events[-1] = event
            else:
                events.append(event)
            current = event
            continue
        if current is None:
            continue
        m2 = _M2.match(line)
        if m2:
            current.speed = float(m2.group("speed"))
            current.entry = m2.group("tc") if _TC.fullmatch(m2.group("tc")) else None
            continue
        body = line.lstrip("*").strip()
        key, sep, value = body.partition(":")
        key = key.strip().upper()
        if key == "FREEZE FRAME":
            current.freeze = True
        elif sep and value.strip():
            name = {"SOURCE FILE": "source_file", "SOURCE FILE NAME": "source_file",
                    "FROM CLIP": "from_clip", "FROM FILE": "from_clip",
                    "FROM CLIP NAME": "clip_name", "TO CLIP NAME": "to_clip_name"}.get(key)
            if name:
                current.comments[name] = value.strip()
    video = [e for e in events if any(_is_video(t) for t in e.tracks)]
    return EdlScan(events=video, fcm_drop=fcm, semicolons=semicolons, max_frames_field=max_ff)


def _normalised(text: str, rate: EditRate) -> str:
    """The EDL as the adapter must see it at ``rate``: drop-frame separators as
    the FCM line says; for rates without SMPTE timecode, frame counts written as
    timecode at the carrier rate."""
    carrier = edit_rate(CARRIER)
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if _EVENT.match(stripped):
            def fix(m: re.Match[str]) -> str:
                tc = m.group(0)
                if not rate.smpte:
                    return frames_to_tc(tc_to_frames(tc, rate), carrier)
                head, sep = tc[:-3], ";" if rate.drop else ":"
                if tc[-3] in ":;.":
                    return head + sep + tc[-2:]
                return tc
            line = _TC.sub(fix, line)
        elif _M2.match(stripped):
            # the adapter's M2 pattern takes ':' only; the speed is re-read from the line anyway
            line = _TC.sub(lambda m: re.sub(r"[;.]", ":", m.group(0)), line)
        out.append(line)
    return "\n".join(out) + "\n"


def check_timecodes(found: EdlScan, rate: EditRate) -> None:
    """Raise EdlError when a timecode's frames field does not exist at ``rate``."""
    if found.max_frames_field >= rate.nominal:
        raise EdlError(f"the EDL has timecodes with frame {found.max_frames_field}, which "
                       f"{rate} does not have; pass the edit's rate with --rate")


def read(path: Path, rate: EditRate) -> tuple[Any, EdlScan]:
    """The timeline of an EDL at ``rate`` (an otio Timeline), every video clip
    carrying its event's facts in ``metadata['segmatte']`` and its speed effect."""
    import opentimelineio as otio

    text = path.read_text(encoding="utf-8-sig", errors="replace")
    found = scan(text)
    check_timecodes(found, rate)
    read_rate = rate.value if rate.smpte else float(CARRIER)
    try:
        timeline = otio.adapters.read_from_string(_normalised(text, rate), "cmx_3600",
                                                  rate=read_rate)
    except RateError as exc:
        raise EdlError(str(exc)) from None
    except Exception as exc:  # the adapter raises many types; the user needs one sentence
        raise EdlError(f"{path.name} could not be read as a CMX 3600 EDL at {rate} ({exc})") from None
    if not rate.smpte:
        _rerate(timeline, read_rate, rate.value)
    _apply_events(timeline, found, rate)
    return timeline, found


def _apply_events(timeline: Any, found: EdlScan, rate: EditRate) -> None:
    import opentimelineio as otio

    for track in timeline.video_tracks():
        events = found.video_events(track.name)
        clips = [c for c in track if isinstance(c, otio.schema.Clip)]
        if len(events) != len(clips):  # not the adapter's one clip per event: leave it as read
            continue
        for clip, event in zip(clips, events, strict=True):
            clip.metadata["segmatte"] = {"event": event.number, "reel": event.reel,
                                         **event.comments}
            rec = _count(event.rec_out, rate) - _count(event.rec_in, rate)
            start = clip.source_range.start_time
            if event.freeze:
                clip.effects[:] = [otio.schema.FreezeFrame()]
            elif event.speed is not None:
                # M2 speeds count timecode frames per second: 030.0 is normal speed at
                # 29.97 (the adapter divides by 29.97 and makes it 1.001x)
                scalar = event.speed / rate.nominal
                clip.effects[:] = [otio.schema.FreezeFrame() if scalar == 0
                                   else otio.schema.LinearTimeWarp(time_scalar=scalar)]
                if event.entry:
                    start = otio.opentime.RationalTime(_count(event.entry, rate), rate.value)
            else:
                continue
            clip.source_range = otio.opentime.TimeRange(
                start, otio.opentime.RationalTime(rec, rate.value))


def _count(field: str, rate: EditRate) -> int:
    """A timecode, or a plain frame number (which CMX 3600 allows), as a frame count."""
    return int(field) if field.isdigit() else tc_to_frames(field, rate)


def _rerate(timeline: Any, old: float, new: float) -> None:
    """Give every time of the timeline the rate ``new`` with the same frame value."""
    import opentimelineio as otio

    def rt(t: Any) -> Any:
        return otio.opentime.RationalTime(t.value, new) if t.rate == old else t

    def rng(r: Any) -> Any:
        return None if r is None else otio.opentime.TimeRange(rt(r.start_time), rt(r.duration))

    timeline.global_start_time = (None if timeline.global_start_time is None
                                  else rt(timeline.global_start_time))
    for item in [timeline.tracks, *timeline.tracks.find_children()]:
        if isinstance(item, otio.schema.Transition):
            item.in_offset, item.out_offset = rt(item.in_offset), rt(item.out_offset)
            continue
        if item.source_range is not None:
            item.source_range = rng(item.source_range)
        for marker in item.markers:
            marker.marked_range = rng(marker.marked_range)
        ref = getattr(item, "media_reference", None)
        if ref is not None and ref.available_range is not None:
            ref.available_range = rng(ref.available_range)
            if isinstance(ref, otio.schema.ImageSequenceReference):
                ref.rate = new

