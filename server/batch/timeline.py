"""Reading an edit into an OpenTimelineIO timeline, and what each clip shows.

Any format OTIO's adapters read works (``.otio``, CMX 3600 ``.edl`` through
edl.py, FCP 7 ``.xml``, ``.fcpxml``). What a clip *shows* is OTIO's own
model: its ``visible_range()`` (the trimmed range plus the overlap of the
transitions beside it: a dissolve's outgoing tail and incoming head) mapped
through its time effects (``LinearTimeWarp``: record frame r shows source
time in + r × scalar, negative scalars running backwards; ``FreezeFrame``:
scalar 0). :class:`ClipUse` holds that in edit-time values; shots.py turns
them into media frame numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import edl
from .rates import EditRate, RateError, edit_rate, guess_rate, snap


class BatchInputError(ValueError):
    """The batch's input cannot be read at all; ``str()`` is one sentence for the user."""


def otio_module() -> Any:
    try:
        import opentimelineio as otio
    except ImportError:
        raise BatchInputError("reading edits needs OpenTimelineIO: pip install opentimelineio "
                              "otio-cmx3600-adapter otio-fcp-adapter") from None
    return otio


@dataclass(frozen=True)
class Edit:
    """An edit as read: the timeline, and for an EDL the rate it was read at."""

    timeline: Any
    rate: EditRate | None
    """EDL only (other formats carry their rates)."""
    rate_reason: str = ""
    labels: bool = False
    """EDL: times are timecode labels (frame counts), not seconds."""


def is_edl(path: Path) -> bool:
    return path.suffix.lower() == ".edl"


def read_timeline(path: Path, rate: EditRate | float | str | None = None,
                  media_rate: Fraction | None = None) -> Edit:
    """Read any timeline OTIO's adapters know; an EDL at ``rate`` (or the rate
    its media's rate and timecodes tell, see rates.guess_rate)."""
    otio = otio_module()
    if is_edl(path):
        return _read_edl(path, rate, media_rate)
    try:
        result = otio.adapters.read_from_file(str(path))
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
    _fcp_time_remaps(result)
    return Edit(result, None)


def _fcp_time_remaps(timeline: Any) -> None:
    """FCP 7 XML ``timeremap`` filters (which OTIO's reader keeps as plain effects)
    as ``LinearTimeWarp``: speed in percent, negative or ``reverse`` running backwards.
    A variable-speed remap (a speed graph) is not read: the clip is marked so its
    shot fails with that reason instead of getting the wrong frames."""
    otio = otio_module()
    for clip in timeline.find_clips():
        for i, effect in enumerate(list(clip.effects)):
            meta = metadata(effect, "fcp_xml")
            if meta.get("effectid") != "timeremap":
                continue
            raw = meta.get("parameter") or []
            params = {str(p.get("parameterid")): str(p.get("value", "")).strip()
                      for p in ([raw] if hasattr(raw, "keys") else list(raw)) if hasattr(p, "get")}
            if params.get("variablespeed", "0").upper() in ("1", "TRUE"):
                ours = metadata(clip, "segmatte")
                ours["unsupported"] = "its time remap has variable speed (a speed graph)"
                clip.metadata["segmatte"] = ours
                continue
            try:
                speed = float(params.get("speed", "100"))
            except ValueError:
                continue
            backwards = speed < 0 or params.get("reverse", "").upper() == "TRUE"
            scalar = abs(speed) / 100.0 * (-1.0 if backwards else 1.0)
            warp = otio.schema.FreezeFrame() if scalar == 0 else otio.schema.LinearTimeWarp(
                name="timeremap", time_scalar=scalar)
            clip.effects[i] = warp


def edl_rate(path: Path, rate: EditRate | float | str | None,
             media_rate: Fraction | None) -> tuple[EditRate, str]:
    """The rate an EDL is read at, and why: ``--rate`` (snapped, drop frame from
    the FCM line or ``;``), else the media's rate when the timecodes fit it, else
    the smallest common rate that holds every frames field."""
    try:
        found = edl.scan(path.read_text(encoding="utf-8-sig", errors="replace"))
    except OSError as exc:
        raise BatchInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except RateError as exc:
        raise BatchInputError(f"{path.name}: {exc}") from None
    try:
        if isinstance(rate, EditRate):
            return rate, "given"
        if rate is not None:
            chosen = edit_rate(rate, found.drop)
            edl.check_timecodes(found, chosen)
            return chosen, "--rate"
        chosen = guess_rate(found.max_frames_field, found.drop, media_rate)
    except (RateError, edl.EdlError) as exc:
        raise BatchInputError(f"{path.name}: {exc}") from None
    if media_rate is not None and chosen.fps == snap(media_rate):
        return chosen, "the media's rate"
    return chosen, f"its timecodes (frames up to {found.max_frames_field})"


def _read_edl(path: Path, rate: EditRate | float | str | None,
              media_rate: Fraction | None) -> Edit:
    chosen, why = edl_rate(path, rate, media_rate)
    try:
        timeline, _found = edl.read(path, chosen)
    except (edl.EdlError, RateError) as exc:
        raise BatchInputError(str(exc)) from None
    return Edit(timeline, chosen, why, labels=True)


# ------------------------------------------------------------------ what a clip shows


@dataclass(frozen=True)
class ClipUse:
    """The edit-time values (at ``rate``) of the source frames a clip shows, in record order."""

    rate: Fraction
    start: float
    """Edit time of the source at the clip's record in (its trimmed in point)."""
    values: tuple[float, ...]
    head: int
    """Record frames shown before the in point (an incoming transition's overlap)."""
    tail: int
    """Record frames shown after the out point (an outgoing transition's overlap)."""
    scalar: float
    """Speed: 1 normal, 2 double, -1 reverse, 0 freeze."""

    def value_at(self, record_offset: float) -> float:
        return self.start + record_offset * self.scalar


def time_scalar(clip: Any) -> float:
    """The product of the clip's time effects (LinearTimeWarp, FreezeFrame = 0)."""
    otio = otio_module()
    scalar = 1.0
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):  # FreezeFrame is one, scalar 0
            scalar *= float(effect.time_scalar)
    return scalar


def clip_use(clip: Any) -> ClipUse:
    """What ``clip`` (a child of a track) shows, in OTIO's model."""
    trimmed = clip.trimmed_range()
    visible = clip.visible_range() if clip.parent() is not None else trimmed
    rate = trimmed.start_time.rate
    head = max(0, round((trimmed.start_time - visible.start_time).value_rescaled_to(rate)))
    count = round(visible.duration.value_rescaled_to(rate))
    duration = round(trimmed.duration.value_rescaled_to(rate))
    tail = max(0, count - head - duration)
    scalar = time_scalar(clip)
    start = float(trimmed.start_time.value)
    values = tuple(start + r * scalar for r in range(-head, count - head))
    return ClipUse(rate=snap(rate), start=start, values=values, head=head, tail=tail,
                   scalar=scalar)


def shown_frame(value: float) -> int:
    """The frame on screen at an edit time value (nearest below; 1e-6 absorbs float error)."""
    return math.floor(value + 1e-6)


def clip_names(clip: Any, base: Path) -> list[tuple[str, str]]:
    """The names an edit gives for a clip's media, most trusted first (see relink.find)."""
    otio = otio_module()
    ref = clip.media_reference
    names: list[tuple[str, str]] = []
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        names.append(("path", ref.target_url))
    elif isinstance(ref, otio.schema.ImageSequenceReference) and ref.target_url_base:
        pad = max(1, ref.frame_zero_padding)
        folder = ref.target_url_base.rstrip("/\\")
        names.append(("path", f"{folder}/{ref.name_prefix}%0{pad}d{ref.name_suffix}"))
        names.append(("sequence name", f"{ref.name_prefix.rstrip('._-')}{ref.name_suffix}"))
    ours = metadata(clip, "segmatte")
    cmx = metadata(clip, "cmx_3600")
    for line in cmx.get("comments") or []:
        key, sep, value = str(line).partition(":")
        if sep and key.strip().upper() in ("SOURCE FILE", "SOURCE FILE NAME"):
            names.append(("SOURCE FILE", value.strip()))
    if ours.get("source_file"):
        names.append(("SOURCE FILE", str(ours["source_file"])))
    if ours.get("from_clip"):
        names.append(("FROM CLIP", str(ours["from_clip"])))
    if clip.name:
        names.append(("clip name", clip.name))
    reel = ours.get("reel") or cmx.get("reel")
    if reel and reel not in ("AX", "BL", "BLACK"):
        names.append(("reel", str(reel)))
    seen: set[str] = set()
    out = []
    for what, value in names:
        if value not in seen:
            seen.add(value)
            out.append((what, value))
    return out


def metadata(item: Any, key: str) -> dict[str, Any]:
    """One namespace of an OTIO item's metadata as a plain dict (empty when absent)."""
    value = item.metadata.get(key)
    return dict(value) if hasattr(value, "keys") else {}
