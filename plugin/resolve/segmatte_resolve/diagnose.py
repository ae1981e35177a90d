"""``segmatte Diagnose``: print what this Resolve does where the scripting README is silent.

Run from Workspace > Scripts > segmatte Diagnose with the playhead over a clip
(ideally an image sequence, on the Edit page; run it once more on the Fusion
page). It reads the open points (the README checklist in
plugin/resolve/README.md) and runs two small experiments that it undoes:

1. AppendToTimeline: in a scratch timeline it places 5 frames of the clip
   twice (startFrame 0, then the clip's first frame number) and reads back
   what Resolve placed; the scratch timeline is deleted afterwards.
2. AddClipMattesToMediaPool: three tiny TGA stills are added as mattes of
   the clip (as a file list, then as one ``[a-b]`` name); the matte count
   is read back and the mattes deleted again.

Standard library only, no server needed. Prints lines and writes them to
``segmatte-diagnose.txt`` in the temp folder (paste that into a bug report).
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import time
from typing import Any

from . import attach, fusion_nodes, rates, resolve_clip, sources
from .resolve_clip import _call, _int

REPORT = "segmatte-diagnose.txt"


def infer_append(asked: tuple[int, int], got: dict, first_number: int) -> str:
    """What one AppendToTimeline read-back says about startFrame and endFrame."""
    start, end = asked
    parts = []
    duration, left = got.get("Duration"), got.get("LeftOffset")
    if duration == end - start + 1:
        parts.append("endFrame inclusive")
    elif duration == end - start:
        parts.append("endFrame exclusive")
    else:
        parts.append(f"endFrame unclear ({duration} frames for {start}-{end})")
    if left is not None:
        if first_number and left == start - first_number:
            parts.append("startFrame counts from the first file number")
        elif left == start:
            parts.append("startFrame counts from 0" if first_number or start else
                         "startFrame 0 is the first frame (a movie cannot tell the two readings)")
        else:
            parts.append(f"startFrame unclear (left offset {left} for startFrame {start})")
    return ", ".join(parts)


def _tga(path: str, value: int, w: int = 8, h: int = 8) -> None:
    """An uncompressed 8-bit grey TGA (the smallest image file the standard library can write)."""
    header = struct.pack("<BBBHHBHHHHBB", 0, 0, 3, 0, 0, 0, 0, 0, w, h, 8, 0)
    with open(path, "wb") as fh:
        fh.write(header + bytes([value]) * (w * h))


def _readings(resolve: Any, fusion: Any, out: list[str]) -> Any:
    out.append(f"python: {sys.version.split()[0]} ({sys.executable})")
    out.append(f"resolve: {_call(resolve, 'GetVersionString')}")
    page = _call(resolve, "GetCurrentPage")
    out.append(f"page: {page}")
    project = _call(_call(resolve, "GetProjectManager"), "GetCurrentProject")
    timeline = _call(project, "GetCurrentTimeline")
    if timeline is None:
        out.append("timeline: none open (open one and run again)")
        return None
    rate_text = _call(timeline, "GetSetting", "timelineFrameRate")
    try:
        rate = rates.parse_rate(rate_text)
        out.append(f"timelineFrameRate: {rate_text!r} -> {rate.fps:.5f} fps, timecode base "
                   f"{rate.nominal}, drop-frame {rate.drop}")
    except rates.RateError as exc:
        out.append(f"timelineFrameRate: {rate_text!r} NOT READ: {exc}")
        rate = None
    out.append(f"timeline start: frame {_call(timeline, 'GetStartFrame')}, timecode "
               f"{_call(timeline, 'GetStartTimecode')}")
    if page in resolve_clip.TIMECODE_PAGES and rate is not None:
        now = _call(timeline, "GetCurrentTimecode")
        record, why = resolve_clip.playhead_record_frame(resolve, timeline, rate)
        out.append(f"playhead: {now!r} -> timeline frame {record} {why}".rstrip())
    else:
        out.append(f"playhead: not read on the {page} page (GetCurrentTimecode is documented for "
                   f"{', '.join(resolve_clip.TIMECODE_PAGES)})")
    item = _call(timeline, "GetCurrentVideoItem")
    if item is None:
        out.append("item: none under the playhead (put it over a clip and run again)")
        return None
    got = {k: _call(item, "Get" + k) for k in ("Name", "Start", "End", "Duration", "LeftOffset",
                                              "RightOffset", "SourceStartFrame", "SourceEndFrame")}
    out.append("item: " + ", ".join(f"{k}={v!r}" for k, v in got.items()))
    if got["Start"] is not None and got["End"] is not None and got["Duration"] is not None:
        span = _int(got["End"]) - _int(got["Start"])
        out.append("GetEnd: " + ("exclusive (End - Start = Duration)" if span == _int(got["Duration"])
                                 else f"End - Start = {span}, Duration = {got['Duration']}"))
    media = _call(item, "GetMediaPoolItem")
    props = resolve_clip.clip_properties(media)
    keys = ("File Path", "Frames", "Start", "End", "FPS", "Resolution", "Start TC", "End TC")
    out.append("clip: " + ", ".join(f"{k}={props.get(k)!r}" for k in keys))
    out.append(f"fusion comps on the item: {_call(item, 'GetFusionCompCount')}")
    if rate is not None and isinstance(props.get("File Path"), str):
        try:
            clip = resolve_clip.current_clip(resolve, fusion)
            out.append(f"segmatte reads: source frames {clip.first}-{clip.last}, GetSourceStartFrame "
                       f"counts from {clip.source_base}, playhead source frame {clip.keyframe}")
            for note in clip.notes:
                out.append(f"  note: {note}")
        except resolve_clip.ClipError as exc:
            out.append(f"segmatte cannot read this clip: {exc}")
    if page == "fusion":
        comp = _call(fusion, "GetCurrentComp")
        media_in = fusion_nodes.media_in(comp) if comp is not None else None
        if media_in is not None:
            ins = {k: fusion_nodes.number(media_in, k) for k in
                   ("GlobalIn", "GlobalOut", "ClipTimeStart", "ClipTimeEnd")}
            out.append(f"fusion page: CurrentTime={fusion_nodes.current_time(comp)}, render range "
                       f"{fusion_nodes.render_range(comp)}, {fusion_nodes.tool_name(media_in)} "
                       + ", ".join(f"{k}={v}" for k, v in ins.items()))
    return project, timeline, item, media, props


def _append_experiment(project: Any, timeline: Any, media: Any, props: dict,
                       out: list[str]) -> None:
    pool = _call(project, "GetMediaPool")
    source = sources.from_resolve(str(props.get("File Path") or ""))
    first_number = source.first_number if source.is_sequence else (_int(props.get("Start")) or 0)
    scratch = _call(pool, "CreateEmptyTimeline", f"segmatte diagnose {int(time.time())}")
    if scratch is None:
        out.append("AppendToTimeline: could not make a scratch timeline; experiment skipped")
        return
    try:
        _call(project, "SetCurrentTimeline", scratch)
        record = _int(_call(scratch, "GetStartFrame")) or 0
        asks = [(0, 4)] + ([(first_number, first_number + 4)] if first_number else [])
        for asked in asks:
            placed = fusion_nodes.as_list(_call(pool, "AppendToTimeline", [{
                "mediaPoolItem": media, "startFrame": asked[0], "endFrame": asked[1],
                "mediaType": 1, "trackIndex": 1, "recordFrame": record}]))
            if not placed:
                out.append(f"AppendToTimeline startFrame {asked[0]} endFrame {asked[1]}: nothing placed")
                continue
            got = attach.read_back(placed[0])
            out.append(f"AppendToTimeline startFrame {asked[0]} endFrame {asked[1]}: "
                       + ", ".join(f"{k}={v}" for k, v in got.items()))
            out.append("  -> " + infer_append(asked, got, first_number))
            _call(scratch, "DeleteClips", placed, False)
    finally:
        _call(project, "SetCurrentTimeline", timeline)
        _call(pool, "DeleteTimelines", [scratch])
    out.append("AppendToTimeline: scratch timeline deleted")


def _matte_experiment(resolve: Any, project: Any, media: Any, out: list[str]) -> None:
    pool = _call(project, "GetMediaPool")
    storage = _call(resolve, "GetMediaStorage")
    folder = tempfile.mkdtemp(prefix="segmatte-diagnose-")
    files = [os.path.join(folder, f"diag.{n:04d}.tga") for n in (1, 2, 3)]
    for n, path in enumerate(files):
        _tga(path, 80 * (n + 1))
    ranged = os.path.join(folder, "diag.[0001-0003].tga")
    for label, paths in (("3 frame files", files), ("one [a-b] name", [ranged])):
        before = fusion_nodes.as_list(_call(pool, "GetClipMatteList", media))
        ok = _call(storage, "AddClipMattesToMediaPool", media, paths)
        after = fusion_nodes.as_list(_call(pool, "GetClipMatteList", media))
        new = [p for p in after if p not in before] or after[len(before):]
        out.append(f"AddClipMattesToMediaPool with {label}: returned {ok!r}, {len(new)} mattes "
                   f"made {new!r}")
        if new:
            _call(pool, "DeleteClipMattes", media, new)
    out.append(f"AddClipMattesToMediaPool: test mattes deleted (stills left in {folder})")


def run(resolve: Any, fusion: Any = None, experiments: bool = True) -> list[str]:
    """Every finding as a line; never raises for what Resolve answers."""
    out = ["segmatte Diagnose"]
    if resolve is None:
        return out + ["no Resolve object: run this from Workspace > Scripts inside Resolve"]
    found = _readings(resolve, fusion, out)
    if found and experiments:
        project, timeline, _item, media, props = found
        _append_experiment(project, timeline, media, props, out)
        _matte_experiment(resolve, project, media, out)
    if attach.LEARNED:
        out.append(f"learned in this session: {attach.LEARNED}")
    return out


def save(lines: list[str]) -> str:
    path = os.path.join(tempfile.gettempdir(), REPORT)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path
