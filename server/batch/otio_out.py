"""Write the cut back with its mattes: one matte track above each video track.

Each matte clip has the same source range as the clip below it and an
``ImageSequenceReference`` whose available range starts at the edit time of
the shot's first matte frame (handles included), with ``start_frame`` = that
frame's source number. So an NLE that imports the timeline (Resolve, via
OTIO) lines every matte frame up with the picture frame it was made from.
Shots that failed leave a gap, so the tracks stay in sync. The matte clip
keeps the picture clip's speed effects and the matte track the picture
track's transitions, so the matte plays exactly as the picture does (the
matte sequence holds every frame the picture shows, overlaps and handles
included). Any rate the reader takes is written back, 10 fps and drop frame
included: an ``.otio`` file stores rates, not timecode.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from .manifest import BatchManifest
from .rates import EditRate, snap
from .shots import Placement, Shot, read_timeline


class WriteBackError(RuntimeError):
    """The matte timeline could not be written; ``str()`` is one sentence."""


def matte_timeline(input_path: str | os.PathLike[str], shots: list[Shot],
                   manifest: BatchManifest, *, rate: float | None = None,
                   padding: int = 4) -> Any:
    """The input timeline with a matte track above each video track (an otio Timeline)."""
    import opentimelineio as otio

    edit_rate: EditRate | float | None = rate
    if rate is None and Path(input_path).suffix.lower() == ".edl":
        shot = next((s for s in shots if s.rate), None)  # the rate the shots were read at
        edit_rate = EditRate(snap(shot.rate), shot.drop) if shot and shot.rate else None
    source = read_timeline(Path(input_path), edit_rate).timeline
    timeline = copy.deepcopy(source)
    timeline.name = f"{source.name or Path(input_path).stem} mattes"
    where: dict[Placement, Shot] = {p: s for s in shots for p in s.placements}
    tracks = list(timeline.tracks)
    video = [t for t in tracks if t.kind == otio.schema.TrackKind.Video]
    out_tracks = []
    for track in tracks:
        out_tracks.append(track)
        if track.kind != otio.schema.TrackKind.Video:
            continue
        t = video.index(track)
        matte = otio.schema.Track(name=f"{track.name or f'V{t + 1}'} matte",
                                  kind=otio.schema.TrackKind.Video)
        for i, item in enumerate(list(track)):
            if isinstance(item, otio.schema.Transition):
                matte.append(copy.deepcopy(item))
                continue
            shot = where.get(Placement(t, i))
            record = manifest.shots.get(shot.id) if shot else None
            if (shot is None or record is None or record.state != "done"
                    or shot.edit_start is None or not isinstance(item, otio.schema.Clip)):
                matte.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    duration=item.duration())))
                continue
            matte.append(_matte_clip(otio, item, shot, record.folder, padding))
        out_tracks.append(matte)
    timeline.tracks[:] = []
    for track in out_tracks:
        timeline.tracks.append(track if track.parent() is None else copy.deepcopy(track))
    return timeline


def _matte_clip(otio: Any, clip: Any, shot: Shot, folder: str, padding: int) -> Any:
    rate = float(shot.rate or clip.trimmed_range().start_time.rate)
    used = clip.trimmed_range()
    available = otio.opentime.TimeRange(
        start_time=otio.opentime.RationalTime(shot.edit_start, rate).rescaled_to(used.start_time.rate),
        duration=otio.opentime.RationalTime(shot.frames, rate).rescaled_to(used.duration.rate))
    ref = otio.schema.ImageSequenceReference(
        target_url_base=otio.url_utils.url_from_filepath(folder.rstrip("/") + "/"),
        name_prefix=f"{shot.name}.", name_suffix=".exr", start_frame=shot.first or 0,
        frame_step=1, rate=rate, frame_zero_padding=padding, available_range=available)
    out = otio.schema.Clip(name=f"{shot.name} matte", media_reference=ref, source_range=used,
                           metadata={"segmatte": {"shot": shot.id, "first": shot.first,
                                                  "last": shot.last}})
    out.effects[:] = [copy.deepcopy(e) for e in clip.effects]
    return out


def write_matte_timeline(input_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                         shots: list[Shot], manifest: BatchManifest, *,
                         rate: float | None = None) -> Path:
    """Write :func:`matte_timeline` with the adapter the suffix names (``.otio`` keeps
    image-sequence references; other formats may drop them)."""
    import opentimelineio as otio

    path = Path(out_path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        timeline = matte_timeline(input_path, shots, manifest, rate=rate)
        path.parent.mkdir(parents=True, exist_ok=True)
        otio.adapters.write_to_file(timeline, str(tmp))
        os.replace(tmp, path)
    except Exception as exc:  # adapters and the file system raise many types
        if os.path.isdir(path.parent):
            tmp.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise WriteBackError(f"the matte timeline could not be written to {path} ({reason})") from exc
    return path
