"""What a batch is made of: :class:`Shot`, read from an edit or a shot list.

An editor hands us a cut — an OpenTimelineIO file, anything OTIO's adapters
read (CMX 3600 EDL, FCP 7 XML, ...), or a plain CSV shot list — and wants a
matte for the part of each clip the cut *uses*. Edits speak in timecode on
the media's clock; the pipeline speaks in source frame numbers. The bridge is
the media itself: :func:`~segmatte.server.media.probe` tells its first frame
number, rate and start timecode, and the start timecode is the edit time of
the media's first frame. A clip that cannot become a job (media missing, range
outside the media) becomes a Shot with an ``error``, so one bad event never
stops the rest of the batch.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..media import MediaError, MediaInfo, probe
from .naming import clip_name, unique_ids

CSV_SUFFIXES = {".csv", ".tsv"}
EDL_ADAPTER = "cmx_3600"
DEFAULT_EDL_RATE = 24.0
TIMECODE = re.compile(r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2,3}")


class BatchInputError(ValueError):
    """The batch's input cannot be read at all; ``str()`` is one sentence for the user."""


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
    handles: tuple[int, int] = (0, 0)
    """Frames added before and after the used range (fewer where the media ends)."""
    edit_start: float | None = None
    """Edit time of frame ``first``, in frames at ``rate`` (for writing the timeline back)."""
    rate: float | None = None
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
    source: str | None
    start: Any  # otio RationalTime: first used frame, on the media's clock
    duration: Any
    available_start: Any | None
    image_start_frame: int | None
    placement: Placement
    origin: str


def _otio() -> Any:
    try:
        import opentimelineio as otio
    except ImportError:
        raise BatchInputError("reading edits needs OpenTimelineIO: pip install opentimelineio "
                              "otio-cmx3600-adapter otio-fcp-adapter") from None
    return otio


def read_timeline(path: Path, rate: float | None = None) -> Any:
    """Read any timeline OTIO's adapters know; EDLs at ``rate`` (see :func:`read_shots`)."""
    otio = _otio()
    kwargs = {}
    if path.suffix.lower() == ".edl":
        kwargs["rate"] = rate or DEFAULT_EDL_RATE
    try:
        result = otio.adapters.read_from_file(str(path), **kwargs)
    except Exception as exc:  # adapters raise many types; the user needs one sentence
        names = ", ".join(otio.adapters.available_adapter_names())
        raise BatchInputError(f"{path.name} could not be read as a timeline ({exc}); "
                              f"readable: {names}, or a CSV shot list") from None
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise BatchInputError(f"{path.name} holds no timeline")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise BatchInputError(f"{path.name} holds a {type(result).__name__}, not a timeline")
    return result


def _uses(timeline: Any, base: Path, media_dirs: list[Path]) -> list[_Use]:
    otio = _otio()
    uses = []
    index = _MediaIndex(media_dirs)
    for t, track in enumerate(timeline.video_tracks()):
        for i, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip) or not item.enabled:
                continue
            ref = item.media_reference
            source = _reference_path(ref, base) or _edl_source(item, base) or index.find(item)
            rng = item.trimmed_range()
            avail = getattr(ref, "available_range", None)
            start_frame = (ref.start_frame if isinstance(ref, otio.schema.ImageSequenceReference)
                           else None)
            uses.append(_Use(name=item.name or "", source=source, start=rng.start_time,
                             duration=rng.duration,
                             available_start=avail.start_time if avail is not None else None,
                             image_start_frame=start_frame, placement=Placement(t, i),
                             origin=f"track V{t + 1} clip {i + 1} ({item.name or 'unnamed'})"))
    return uses


def _reference_path(ref: Any, base: Path) -> str | None:
    otio = _otio()
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        return _local(ref.target_url, base)
    if isinstance(ref, otio.schema.ImageSequenceReference) and ref.target_url_base:
        folder = _local(ref.target_url_base, base)
        pad = max(1, ref.frame_zero_padding)
        return os.path.join(folder, f"{ref.name_prefix}%0{pad}d{ref.name_suffix}")
    return None


def _local(url: str, base: Path) -> str:
    from opentimelineio import url_utils

    path = url_utils.filepath_from_url(url) if url.startswith("file:") else url
    return str(path if os.path.isabs(path) else (base / path))


def _edl_source(clip: Any, base: Path) -> str | None:
    """CMX 3600 lists the media only in comments (``* SOURCE FILE: /path``)."""
    comments = (clip.metadata.get("cmx_3600") or {}).get("comments") or []
    for line in comments:
        key, sep, value = str(line).partition(":")
        if sep and key.strip().upper() in ("SOURCE FILE", "SOURCE FILE NAME") and value.strip():
            return _local(value.strip(), base)
    return None


class _MediaIndex:
    """Files under the media folders by name and stem, for edits that only name their clips."""

    MAX_FILES = 50_000

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._by_name: dict[str, str] | None = None

    def _build(self) -> dict[str, str]:
        found: dict[str, str] = {}
        count = 0
        for folder in self.folders:
            for root, _dirs, files in os.walk(folder):
                for f in sorted(files):
                    count += 1
                    if count > self.MAX_FILES:
                        return found
                    path = os.path.join(root, f)
                    found.setdefault(f.lower(), path)
                    found.setdefault(Path(f).stem.lower(), path)
        return found

    def find(self, clip: Any) -> str | None:
        if self._by_name is None:
            self._by_name = self._build()
        reel = (clip.metadata.get("cmx_3600") or {}).get("reel")
        for key in (clip.name, reel):
            if key and key.strip().lower() in self._by_name:
                return self._by_name[key.strip().lower()]
        return None


def _fps(media: MediaInfo, fallback: float | None) -> float:
    return float(media.fps or fallback or DEFAULT_EDL_RATE)


def media_origin(media: MediaInfo, fps: float, available_start: Any | None = None,
                 image_start_frame: int | None = None) -> int:
    """Edit time, in frames at ``fps``, of the media's first source frame.

    The media's own start timecode wins (it is what the NLE wrote into the
    EDL); then the reference's available range; then the frame number itself
    (no timecode: frame 0 of a video is 00:00:00:00, a sequence's frame 1001
    is edit time 1001).
    """
    otio = _otio()
    if media.timecode:
        try:
            tc_rate = otio.opentime.RationalTime.nearest_valid_timecode_rate(fps)
            return round(otio.opentime.from_timecode(media.timecode, tc_rate).value)
        except ValueError:
            pass
    if available_start is not None:
        start = round(available_start.value_rescaled_to(fps))
        if image_start_frame is not None:
            return start + (media.first - image_start_frame)
        return start
    return media.first


def _resolve(use: _Use, handles: int, fallback_rate: float | None) -> dict[str, Any]:
    if use.source is None:
        return {"source": "", "error": f"{use.origin}: no media found for it (the edit names "
                                        "no file; pass --media FOLDER to look it up by clip or reel name)"}
    try:
        media = probe(use.source)
    except MediaError as exc:
        return {"source": use.source, "error": f"{use.origin}: {exc}"}
    fps = _fps(media, fallback_rate)
    origin = media_origin(media, fps, use.available_start, use.image_start_frame)
    start = round(use.start.value_rescaled_to(fps))
    count = max(1, round(use.duration.value_rescaled_to(fps)))
    first = media.first + (start - origin)
    last = first + count - 1
    if first < media.first or last > media.last:
        return {"source": use.source, "error": (
            f"{use.origin}: uses source frames {first}-{last}, outside the media's frames "
            f"{media.first}-{media.last} ({os.path.basename(use.source)}; start timecode "
            f"{media.timecode or 'none'})")}
    head = min(handles, first - media.first)
    tail = min(handles, media.last - last)
    return {"source": use.source, "first": first - head, "last": last + tail,
            "handles": (head, tail), "edit_start": float(start - head), "rate": fps}


def _shots_from_timeline(path: Path, handles: int, rate: float | None,
                         media_dirs: list[Path]) -> list[Shot]:
    timeline = read_timeline(path, rate)
    base = path.parent
    dirs = media_dirs or [base]
    uses = _uses(timeline, base, dirs)
    if path.suffix.lower() == ".edl" and rate is None:
        sensed = _sensed_rate(uses)
        if sensed and abs(sensed - DEFAULT_EDL_RATE) > 1e-3:
            timeline = read_timeline(path, sensed)
            uses = _uses(timeline, base, dirs)
            rate = sensed
    drafts = [(u, _resolve(u, handles, rate)) for u in uses]
    return _merge([
        (clip_name(u.name, r.get("source")), r, u.placement, u.origin) for u, r in drafts])


def _sensed_rate(uses: list[_Use]) -> float | None:
    """An EDL does not say its rate: take the first readable clip's."""
    for use in uses:
        if use.source:
            try:
                fps = probe(use.source).fps
            except MediaError:
                continue
            if fps and _otio().opentime.RationalTime.is_valid_timecode_rate(float(fps)):
                return float(fps)
            return None  # e.g. 10 fps: no SMPTE timecode; the EDL is read at the default rate
    return None


# ------------------------------------------------------------------ CSV shot lists


CSV_COLUMNS = ("source", "in", "out", "engine", "options", "name")


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
        otio = _otio()
        fps = _fps(media, None)
        tc_rate = otio.opentime.RationalTime.nearest_valid_timecode_rate(fps)
        value = round(otio.opentime.from_timecode(cell.replace(".", ":"), tc_rate).value)
        return media.first + value - media_origin(media, fps)
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
                              draft.get("engine"), draft.get("options")], sort_keys=True)
        if key not in merged:
            merged[key] = (name, draft, [], origin)
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


def read_shots(path: str | os.PathLike[str], *, handles: int = 0, rate: float | None = None,
               media_dirs: list[str | os.PathLike[str]] | None = None) -> list[Shot]:
    """The shots of an edit or a CSV shot list; raises BatchInputError when unreadable.

    ``rate`` is an EDL's frame rate (EDLs do not say; None: the first readable
    clip's). ``media_dirs`` are searched for clips whose edit names no file
    (the EDL's folder by default). Shots that cannot run carry an ``error``.
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
