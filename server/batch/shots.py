"""What a batch is made of: :class:`Shot`, read from an edit or a shot list.

An editor hands us a cut — an OpenTimelineIO file, anything OTIO's adapters
read (CMX 3600 EDL, FCP 7 XML, ...), or a plain CSV shot list — and wants a
matte for every frame the cut *shows* of each clip: the trimmed range, the
overlap of dissolves and wipes, and what speed effects reach (timeline.py).
Edits speak in timecode on the media's clock; the pipeline speaks in source
frame numbers. The bridge is the media itself: :func:`~segmatte.server.media.probe`
tells its first frame number, rate and start timecode, and the start
timecode is the edit time of the media's first frame. Timecode counts
frames: an edit at 24 on 23.976 media (or 30 on 29.97) lines up frame for
frame; a true mismatch (24 on 25) is converted and reported on the shot. A
clip that cannot become a job (media missing or ambiguous, range outside the
media) becomes a Shot with an ``error``, so one bad event never stops the
rest of the batch.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..media import MediaError, MediaInfo, probe
from . import prompts as pr
from .naming import clip_name, unique_ids
from .rates import EditRate, RateError, edit_rate, frames_to_tc, same_clock, snap, tc_to_frames
from .relink import Found, MediaIndex, find
from .timeline import (
    BatchInputError,
    ClipUse,
    Edit,
    clip_names,
    clip_use,
    is_edl,
    metadata,
    otio_module,
    read_timeline,
    shown_frame,
)

CSV_SUFFIXES = {".csv", ".tsv"}
TIMECODE = re.compile(r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2,3}")

__all__ = ["BatchInputError", "Placement", "Shot", "read_shots", "read_timeline", "with_error"]


@dataclass(frozen=True)
class Placement:
    """Where a shot sits in the input timeline: a video track and an item of it."""

    track: int
    """Index among the timeline's video tracks (0 = bottom)."""
    index: int
    """Index of the clip among the track's children."""


@dataclass(frozen=True)
class Shot:
    """One matte job of a batch, in source frame numbers (handles included)."""

    id: str
    """Unique in the batch; the shot's folder under the output folder."""
    name: str
    """The sequence name: ``<name>.####.exr``."""
    source: str
    first: int | None = None
    last: int | None = None
    """Inclusive source frame numbers; None = the whole clip."""
    engine: str | None = None
    """None: the batch's engine."""
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    """Engine options laid over the batch's."""
    objects: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    """Prompts for the track engine (spec JSON), from a CSV column or the clip's markers."""
    handles: tuple[int, int] = (0, 0)
    """Frames added before and after the used range (fewer where the media ends)."""
    edit_start: float | None = None
    """Edit time of frame ``first``, in frames at ``rate`` (for writing the timeline back)."""
    rate: float | None = None
    """The edit's rate for this clip (exact rational as a float)."""
    drop: bool = False
    """The edit's timecode is drop frame (29.97 / 59.94 DF)."""
    shown: tuple[int, ...] = field(default=(), hash=False, compare=False)
    """Every source frame the cut shows, in record order (no handles): speed effects
    repeat or skip frames, a reverse runs backwards."""
    notes: tuple[str, ...] = ()
    """What was assumed or relinked, for the report (rate mismatch, relinked media)."""
    placements: tuple[Placement, ...] = ()
    error: str | None = None
    """Why this shot cannot run; None when it can."""
    origin: str = ""
    """Where it came from in the input ("event 3", "line 5"), for messages."""

    @property
    def frames(self) -> int:
        return 0 if self.first is None or self.last is None else self.last - self.first + 1


# ------------------------------------------------------------------ edits (OTIO)


@dataclass(frozen=True)
class _Use:
    """One clip as the edit uses it, before the media is consulted."""

    name: str
    found: Found
    use: ClipUse
    available_start: Any | None
    image_start_frame: int | None
    placement: Placement
    origin: str
    objects: tuple[tuple[float, str], ...] = ()
    """(record offset, prompt text) of the clip's ``segmatte:`` markers."""
    unsupported: str = ""
    """What of the clip is not read (the shot fails with it rather than matte wrong frames)."""


def _uses(edit: Edit, base: Path, index: MediaIndex) -> list[_Use]:
    otio = otio_module()
    uses = []
    for t, track in enumerate(edit.timeline.video_tracks()):
        for i, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip) or not item.enabled:
                continue
            if isinstance(item.media_reference, otio.schema.GeneratorReference):
                continue  # black, bars: nothing to matte
            ref = item.media_reference
            rng = item.trimmed_range()
            avail = getattr(ref, "available_range", None)
            start_frame = (ref.start_frame if isinstance(ref, otio.schema.ImageSequenceReference)
                           else None)
            markers = []
            # EDL locators (* LOC:) carry record timecode, not the clip's: no prompts from them
            for marker in ([] if edit.labels else item.markers):
                text = pr.marker_text(marker)
                if text is not None:
                    offset = (marker.marked_range.start_time - rng.start_time).value_rescaled_to(
                        rng.start_time.rate)
                    markers.append((offset, text))
            event = metadata(item, "segmatte").get("event")
            where = f"event {event}" if event is not None else f"track V{t + 1} clip {i + 1}"
            uses.append(_Use(name=item.name or "", found=find(clip_names(item, base), base, index),
                             use=clip_use(item),
                             available_start=avail.start_time if avail is not None else None,
                             image_start_frame=start_frame, placement=Placement(t, i),
                             origin=f"{where} ({item.name or 'unnamed'})", objects=tuple(markers),
                             unsupported=str(metadata(item, "segmatte").get("unsupported", ""))))
    return uses


def media_origin(media: MediaInfo, fps: float | Fraction, available_start: Any | None = None,
                 image_start_frame: int | None = None) -> int:
    """Edit time, in frames counted at ``fps``, of the media's first source frame.

    The media's own start timecode wins (it is what the NLE wrote into the
    edit); then the reference's available range; then the frame number itself
    (no timecode: frame 0 of a video is 00:00:00:00, a sequence's frame 1001
    is edit time 1001). Timecode is counted as frames (drop frame when it
    says ``;``), also at rates without SMPTE timecode (10, 12, 15 fps).
    """
    rate = snap(fps)
    if media.timecode:
        try:
            return tc_to_frames(media.timecode, EditRate(rate))
        except RateError:
            pass
    if available_start is not None:
        if same_clock(snap(available_start.rate), rate):
            start = round(available_start.value)
        else:
            start = round(available_start.value_rescaled_to(float(rate)))
        if image_start_frame is not None:
            return start + (media.first - image_start_frame)
        return start
    return media.first


@dataclass(frozen=True)
class _Clock:
    """Edit time values → media counts, and back (see the module docstring)."""

    start: float
    base: float
    factor: float

    def to_media(self, value: float) -> float:
        return self.base + (value - self.start) * self.factor

    def to_edit(self, count: float) -> float:
        return self.start + (count - self.base) / self.factor


def _clock(u: _Use, media: MediaInfo, edit: Edit) -> tuple[_Clock, Fraction, str | None]:
    er = u.use.rate
    mr = snap(media.fps) if media.fps else None
    if mr is None or mr == er:
        return _Clock(u.use.start, u.use.start, 1.0), er, None
    if same_clock(er, mr):
        return _Clock(u.use.start, u.use.start, 1.0), mr, (
            f"edit at {edit_rate(er)}, media at {edit_rate(mr)}: timecode frames counted as "
            "they are (the same timecode clock)")
    factor = float(mr / er)
    if edit.labels:
        label = frames_to_tc(round(u.use.start), edit.rate or EditRate(er))
        try:
            base = float(tc_to_frames(label, EditRate(mr)))
        except RateError:
            base = u.use.start * factor
        note = (f"edit at {edit_rate(er)}, media at {edit_rate(mr)}: source timecode {label} "
                "read on the media's clock, record frames played in real time")
    else:
        base = u.use.start * factor
        note = f"edit at {edit_rate(er)}, media at {edit_rate(mr)}: edit times converted by real time"
    return _Clock(u.use.start, base, factor), mr, note


def _resolve(u: _Use, handles: int, edit: Edit) -> dict[str, Any]:
    if u.unsupported:
        return {"source": u.found.path or "", "error": f"{u.origin}: {u.unsupported}, which is "
                                                       "not read; make its speed constant"}
    if u.found.path is None:
        return {"source": "", "error": f"{u.origin}: {u.found.error}"}
    source = u.found.path
    notes = [u.found.note] if u.found.note else []
    try:
        media = probe(source)
    except MediaError as exc:
        return {"source": source, "error": f"{u.origin}: {exc}"}
    clock, count_rate, note = _clock(u, media, edit)
    if note:
        notes.append(note)
    origin = media_origin(media, count_rate, u.available_start, u.image_start_frame)
    shown = [media.first + shown_frame(clock.to_media(v)) - origin for v in u.use.values]
    lo, hi = min(shown), max(shown)
    if lo < media.first or hi > media.last:
        return {"source": source, "notes": tuple(notes), "error": (
            f"{u.origin}: shows source frames {lo}-{hi}, outside the media's frames "
            f"{media.first}-{media.last} ({os.path.basename(source)}; start timecode "
            f"{media.timecode or 'none'})")}
    head = min(handles, lo - media.first)
    tail = min(handles, media.last - hi)
    first, last = lo - head, hi + tail
    draft: dict[str, Any] = {
        "source": source, "first": first, "last": last, "handles": (head, tail),
        "edit_start": clock.to_edit(first - media.first + origin),
        "rate": float(u.use.rate), "drop": bool(edit.rate.drop) if edit.rate else False,
        "shown": tuple(shown), "notes": tuple(notes)}
    if u.objects:
        try:
            objects = []
            for offset, text in u.objects:
                frame = media.first + shown_frame(clock.to_media(u.use.value_at(offset))) - origin
                objects += pr.parse(text, frame)
            draft["objects"] = tuple(pr.merge(objects))
        except pr.PromptError as exc:
            return {**draft, "error": f"{u.origin}: marker {exc}"}
    return draft


def _first_media_rate(path: Path, base: Path, index: MediaIndex) -> Fraction | None:
    """An EDL does not say its rate: the first clip whose media is found and has a rate."""
    from . import edl

    try:
        found = edl.scan(path.read_text(encoding="utf-8-sig", errors="replace"))
    except (OSError, ValueError):
        return None
    for event in found.events:
        c = event.comments
        names = [("SOURCE FILE", c.get("source_file", "")), ("FROM CLIP", c.get("from_clip", "")),
                 ("clip name", c.get("to_clip_name") or c.get("clip_name", "")),
                 ("reel", event.reel if event.reel not in ("AX", "BL", "BLACK") else "")]
        hit = find(names, base, index)
        if hit.path:
            try:
                fps = probe(hit.path).fps
            except MediaError:
                continue
            if fps:
                return snap(fps)
    return None


def _shots_from_timeline(path: Path, handles: int, rate: float | str | None,
                         media_dirs: list[Path]) -> list[Shot]:
    base = path.parent
    index = MediaIndex(media_dirs or [base])
    media_rate = _first_media_rate(path, base, index) if is_edl(path) and rate is None else None
    edit = read_timeline(path, rate, media_rate)
    uses = _uses(edit, base, index)
    drafts = [(u, _resolve(u, handles, edit)) for u in uses]
    return _merge([
        (clip_name(u.name, r.get("source")), r, u.placement, u.origin) for u, r in drafts])


# ------------------------------------------------------------------ CSV shot lists


CSV_COLUMNS = ("source", "in", "out", "engine", "options", "name", "prompts")


def _shots_from_csv(path: Path, handles: int) -> list[Shot]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BatchInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    rows = list(csv.reader(text.splitlines(), dialect=dialect))
    lines = [(n, r) for n, r in enumerate(rows, 1) if r and any(c.strip() for c in r)
             and not r[0].lstrip().startswith("#")]
    if not lines:
        raise BatchInputError(f"{path.name} lists no shots")
    header = [c.strip().lower() for c in lines[0][1]]
    if "source" not in header:
        raise BatchInputError(f"{path.name}: the first row must name the columns "
                              f"({', '.join(CSV_COLUMNS)}); 'source' is required")
    unknown = [c for c in header if c and c not in CSV_COLUMNS]
    if unknown:
        raise BatchInputError(f"{path.name}: unknown column {unknown[0]!r}; "
                              f"known: {', '.join(CSV_COLUMNS)}")
    drafts = []
    for number, row in lines[1:]:
        cells = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h}
        origin = f"line {number}"
        draft = _csv_row(cells, path.parent, handles, origin)
        drafts.append((clip_name(cells.get("name"), cells["source"]), draft, None, origin))
    return _merge(drafts)


def _csv_row(cells: dict[str, str], base: Path, handles: int, origin: str) -> dict[str, Any]:
    source = cells.get("source", "")
    draft: dict[str, Any] = {"source": source, "engine": cells.get("engine") or None}
    if not source:
        return {**draft, "error": f"{origin}: no source"}
    if not os.path.isabs(os.path.expanduser(source)):
        source = str(base / source)
        draft["source"] = source
    if cells.get("options"):
        try:
            options = json.loads(cells["options"])
        except json.JSONDecodeError as exc:
            return {**draft, "error": f"{origin}: options are not JSON ({exc.msg})"}
        if not isinstance(options, dict):
            return {**draft, "error": f"{origin}: options must be a JSON object"}
        draft["options"] = options
    if cells.get("prompts"):
        try:
            draft["objects"] = tuple(pr.merge(pr.parse(cells["prompts"])))
        except pr.PromptError as exc:
            return {**draft, "error": f"{origin}: {exc}"}
    a, b = cells.get("in", ""), cells.get("out", "")
    if not a and not b:
        return draft
    try:
        media = probe(source)
    except MediaError as exc:
        return {**draft, "error": f"{origin}: {exc}"}
    try:
        first = _csv_frame(a, media) if a else media.first
        last = _csv_frame(b, media) if b else media.last
    except ValueError as exc:
        return {**draft, "error": f"{origin}: {exc}"}
    if last < first:
        return {**draft, "error": f"{origin}: out {last} comes before in {first}"}
    if first < media.first or last > media.last:
        return {**draft, "error": f"{origin}: frames {first}-{last} are outside the media's frames "
                                  f"{media.first}-{media.last}"}
    head, tail = min(handles, first - media.first), min(handles, media.last - last)
    return {**draft, "first": first - head, "last": last + tail, "handles": (head, tail)}


def _csv_frame(cell: str, media: MediaInfo) -> int:
    """A source frame number, or a timecode on the media's clock (inclusive)."""
    if cell.lstrip("-").isdigit():
        return int(cell)
    if TIMECODE.fullmatch(cell):
        rate = snap(media.fps or 24)
        try:
            value = tc_to_frames(cell, EditRate(rate))
        except RateError as exc:
            raise ValueError(str(exc)) from None
        return media.first + value - media_origin(media, rate)
    raise ValueError(f"{cell!r} is neither a frame number nor a timecode (HH:MM:SS:FF)")


# ------------------------------------------------------------------ both


def _merge(drafts: list[tuple[str, dict[str, Any], Placement | None, str]]) -> list[Shot]:
    """One Shot per distinct (name, media, range, engine, options): a clip cut in
    twice with the same range is made once and placed twice."""
    merged: dict[str, tuple[str, dict[str, Any], list[Placement], str]] = {}
    for name, draft, placement, origin in drafts:
        if draft.get("error"):
            key = f"error:{origin}"
        else:
            key = json.dumps([name, draft.get("source"), draft.get("first"), draft.get("last"),
                              draft.get("engine"), draft.get("options"), draft.get("objects")],
                             sort_keys=True)
        if key not in merged:
            merged[key] = (name, dict(draft), [], origin)
        elif draft.get("shown"):  # the same range cut in twice: one shot shows both uses
            kept = merged[key][1]
            have = set(kept.get("shown", ()))
            kept["shown"] = tuple(kept.get("shown", ())) + tuple(
                f for f in draft["shown"] if f not in have)
            kept["notes"] = tuple(dict.fromkeys(kept.get("notes", ()) + draft.get("notes", ())))
        if placement is not None:
            merged[key][2].append(placement)
    items = list(merged.values())
    good = [(n, d) for n, d, _p, _o in items if not d.get("error")]
    ids = iter(unique_ids([(n, d.get("first"), d.get("last")) for n, d in good]))
    shots = []
    seen: set[str] = set()
    for name, draft, placements, origin in items:
        # shots that cannot run do not take part in naming: their name must not
        # change the folders of the ones that can
        sid = name if draft.get("error") else next(ids)
        base, n = sid, 2
        while sid in seen:  # same name and range but other engine/options, or a failed twin
            sid, n = f"{base}_{n}", n + 1
        seen.add(sid)
        shots.append(Shot(id=sid, name=name, placements=tuple(placements), origin=origin,
                          **{k: v for k, v in draft.items() if v is not None}))
    return shots


def read_shots(path: str | os.PathLike[str], *, handles: int = 0,
               rate: float | str | EditRate | None = None,
               media_dirs: list[str | os.PathLike[str]] | None = None) -> list[Shot]:
    """The shots of an edit or a CSV shot list; raises BatchInputError when unreadable.

    ``rate`` is an EDL's frame rate (EDLs do not say; None: the first found
    clip's when the timecodes fit it, else what the timecodes allow; 23.976,
    29.97, 59.94, 47.952 are snapped to the exact NTSC rationals).
    ``media_dirs`` are searched for clips the edit names without a file here
    (the edit's folder by default). Shots that cannot run carry an ``error``.
    """
    p = Path(path).expanduser().absolute()  # sources become absolute: the server has its own cwd
    if not p.is_file():
        raise BatchInputError(f"there is no file at {p}")
    if handles < 0:
        raise BatchInputError("handles cannot be negative")
    if p.suffix.lower() in CSV_SUFFIXES:
        shots = _shots_from_csv(p, handles)
    else:
        shots = _shots_from_timeline(p, handles, rate, [Path(d).expanduser().absolute() for d in media_dirs or []])
    if not shots:
        raise BatchInputError(f"{p.name} holds no video clips")
    return shots


def with_error(shot: Shot, error: str) -> Shot:
    return replace(shot, error=error)
