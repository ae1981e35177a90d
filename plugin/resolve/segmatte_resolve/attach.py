"""Put finished mattes where the Resolve artist uses them, checking what Resolve did.

Four ways, the artist's choice: import into the ``segmatte`` bin (always; the
others start from it), a new video track above the source at the same record
frame, a clip matte of the source's media pool item, or a Loader in the
item's Fusion comp wired as a mask. Runs on the UI thread only.

The README leaves open what ``AppendToTimeline``'s startFrame/endFrame count
from (0 or the clip's first file number) and whether endFrame is inclusive,
and whether ``AddClipMattesToMediaPool`` with N frame files makes one matte
or N stills. So after each such call the result is read back (the placed
item's GetStart/GetEnd/GetDuration/GetLeftOffset/GetSourceStartFrame, the
matte list's count); a wrong result is undone and the next reading tried, and
when none fits the artist gets one message naming what differed. The reading
that worked is kept in :data:`LEARNED` (``segmatte Diagnose`` prints it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from segmatte.client.manifest import MatteSequence
from segmatte.client.patterns import name_of_file

from . import fusion_nodes
from .resolve_clip import ClipInfo, _call, _fps, _int, base_candidates, clip_properties
from .sources import Source

BIN = "segmatte"
MODES = ("track", "clip matte", "fusion", "import only")


class AttachError(RuntimeError):
    """Resolve refused a step, or did something other than asked; the message names it."""


@dataclass(frozen=True)
class AppendReading:
    """One reading of AppendToTimeline's clipInfo frames."""

    start: str
    """"zero": 0 is the clip's first frame; "file": its first file number."""
    end: str
    """"inclusive" or "exclusive"."""

    def frames(self, first_number: int, count: int) -> tuple[int, int]:
        base = 0 if self.start == "zero" else first_number
        return base, base + count - 1 + (1 if self.end == "exclusive" else 0)

    def __str__(self) -> str:
        return f"startFrame from {'0' if self.start == 'zero' else 'the first file number'}, " \
               f"endFrame {self.end}"


APPEND_READINGS = tuple(AppendReading(s, e) for s in ("zero", "file")
                        for e in ("inclusive", "exclusive"))
LEARNED: dict[str, Any] = {}
"""What this Resolve turned out to do: ``append`` (an AppendReading), ``mattes``
("files" or "range name"), ``source_base``."""


def resolve_clip_fps(item: Any) -> float | None:
    return _fps(clip_properties(item).get("FPS"))


def matte_bin(media_pool: Any) -> Any:
    """The ``segmatte`` folder under the media pool's root, made when missing."""
    root = media_pool.GetRootFolder()
    for folder in fusion_nodes.as_list(root.GetSubFolderList()):
        if folder.GetName() == BIN:
            return folder
    folder = media_pool.AddSubFolder(root, BIN)
    if not folder:
        raise AttachError(f"could not make the {BIN!r} bin in the media pool")
    return folder


def import_sequence(media_pool: Any, seq: MatteSequence) -> Any:
    """ImportMedia with FilePath/StartIndex/EndIndex: one clip for the whole sequence; read back."""
    previous = media_pool.GetCurrentFolder()
    media_pool.SetCurrentFolder(matte_bin(media_pool))
    try:
        items = media_pool.ImportMedia([{"FilePath": seq.pattern, "StartIndex": seq.first,
                                         "EndIndex": seq.last}])
    finally:
        if previous:
            media_pool.SetCurrentFolder(previous)
    items = fusion_nodes.as_list(items)
    if not items:
        raise AttachError(f"Resolve did not import {seq.pattern} [{seq.first}-{seq.last}]")
    frames = _int(clip_properties(items[0]).get("Frames"))
    if frames is not None and frames != seq.count:
        raise AttachError(f"Resolve imported {seq.pattern} [{seq.first}-{seq.last}] as {frames} "
                          f"frames, not {seq.count}")
    return items[0]


def read_back(item: Any) -> dict[str, int | None]:
    return {key: _int(_call(item, "Get" + key)) for key in
            ("Start", "End", "Duration", "LeftOffset", "SourceStartFrame")}


def placement_differences(got: dict, record: int, count: int, bases: list[int],
                          tolerance: int = 0) -> list[str]:
    """What differs between a placed item and ``count`` frames from the first at ``record``."""
    out = []
    if got["Start"] != record:
        out.append(f"starts at {got['Start']} (asked {record})")
    duration = got["Duration"]
    if duration is None or abs(duration - count) > tolerance:
        out.append(f"lasts {duration} frames (asked {count})")
    elif got["End"] is not None and got["Start"] is not None and \
            got["End"] - got["Start"] not in (duration, duration - 1):
        out.append(f"GetEnd {got['End']} does not match GetStart + GetDuration")
    if got["LeftOffset"] not in (None, 0):
        out.append(f"begins {got['LeftOffset']} frames into the matte (left offset)")
    ssf = got["SourceStartFrame"]
    if ssf is not None and ssf not in bases:
        out.append(f"GetSourceStartFrame {ssf} is not the matte's first frame (one of {bases})")
    return out


def place_above(clip: ClipInfo, seq: MatteSequence, matte_item: Any) -> tuple[Any, AppendReading]:
    """A new video track (on top) with the matte at the record frame of its first source frame.

    Each reading of startFrame/endFrame is tried (the one learned first); what
    Resolve placed is read back and removed again when it is not the whole
    matte at the right frame. Nothing is left behind when no reading fits.
    """
    timeline, pool = clip.timeline, clip.media_pool
    if not timeline.AddTrack("video"):
        raise AttachError("Resolve would not add a video track")
    track = int(timeline.GetTrackCount("video"))
    props = clip_properties(matte_item)
    bases = base_candidates(props, Source(seq.pattern, seq.first, True))
    record = clip.record_start + seq.first - clip.first
    count, tolerance = seq.count, 0
    if clip.mixed_rate:  # the matte plays at the source's rate, so Resolve retimes it the same
        wanted = f"{clip.clip_fps:.3f}".rstrip("0").rstrip(".")
        matte_item.SetClipProperty("FPS", wanted)
        now = resolve_clip_fps(matte_item)
        if now is None or abs(now - clip.clip_fps) > 0.01:  # type: ignore[operator]
            timeline.DeleteTrack("video", track)
            raise AttachError(f"Resolve kept the matte clip at {now} fps (asked {wanted}), so it "
                              "would not line up with the retimed source; use clip matte or fusion")
        record = clip.record_start + int(round((seq.first - clip.first) * clip.rate.fps
                                               / clip.clip_fps))  # type: ignore[operator]
        count, tolerance = int(round(seq.count * clip.rate.fps / clip.clip_fps)), 1  # type: ignore[operator]
    learned = LEARNED.get("append")
    order = ([learned] if learned else []) + [r for r in APPEND_READINGS if r != learned]
    tried = []
    for slack in sorted({0, tolerance}):  # exact first; Resolve's rounding of a retime second
        for reading in order:
            start, end = reading.frames(seq.first, seq.count)
            placed = fusion_nodes.as_list(pool.AppendToTimeline([{
                "mediaPoolItem": matte_item, "startFrame": start, "endFrame": end,
                "mediaType": 1, "trackIndex": track, "recordFrame": record}]))
            if not placed:
                tried.append(f"{start}-{end}: nothing placed")
                continue
            got = read_back(placed[0])
            differ = placement_differences(got, record, count, bases, slack)
            if not differ:
                LEARNED["append"] = reading
                return placed[0], reading
            tried.append(f"{start}-{end}: " + ", ".join(differ))
            timeline.DeleteClips(placed, False)
    timeline.DeleteTrack("video", track)
    raise AttachError(f"Resolve did not place the matte's {seq.count} frames at {record} under any "
                      "reading of AppendToTimeline (asked " + "; ".join(tried) + "); the track "
                      "was removed — drag the clip from the segmatte bin by hand")


def range_name(seq: MatteSequence) -> str:
    """``/out/hero.[0003-0008].exr``: how Resolve itself names an imported sequence."""
    name = name_of_file(seq.first_path)
    return os.path.join(name.folder, f"{name.prefix}[{seq.first:0{name.padding}d}-"
                                     f"{seq.last:0{name.padding}d}]{name.suffix}")


def add_clip_matte(clip: ClipInfo, seq: MatteSequence) -> str:
    """The sequence as one clip matte of the source's media pool item (Color page mattes).

    First the frame files; if Resolve made N still mattes of them (or none)
    they are deleted again and the sequence's ``[a-b]`` name is tried.
    """
    pool, item = clip.media_pool, clip.media_item
    storage = clip.resolve.GetMediaStorage()
    before = fusion_nodes.as_list(pool.GetClipMatteList(item))
    forms = [("files", [seq.files[n] for n in sorted(seq.files)]), ("range name", [range_name(seq)])]
    learned = LEARNED.get("mattes")
    forms.sort(key=lambda f: f[0] != learned)
    tried = []
    for label, paths in forms:
        ok = storage.AddClipMattesToMediaPool(item, paths)
        after = fusion_nodes.as_list(pool.GetClipMatteList(item))
        new = [p for p in after if p not in before] or after[len(before):]
        if ok and len(new) == 1:
            LEARNED["mattes"] = label
            return f"{seq.layer}: clip matte of {clip.name}"
        if new:
            pool.DeleteClipMattes(item, new)
        tried.append(f"{len(paths)} path{'s' if len(paths) > 1 else ''} ({label}): "
                     f"{'accepted' if ok else 'refused'}, {len(new)} mattes made")
    raise AttachError("Resolve did not make one clip matte of the sequence (" + "; ".join(tried)
                      + "); nothing was left attached — in the Media Pool right-click the source "
                      "and use Add as Matte on " + range_name(seq))


def fusion_comp(clip: ClipInfo) -> Any:
    """The item's first Fusion comp, made when it has none (the count is checked first)."""
    count = _int(clip.item.GetFusionCompCount()) or 0
    comp = clip.item.GetFusionCompByIndex(1) if count >= 1 else None
    if comp is None:
        comp = clip.item.AddFusionComp()
    if comp is None:
        raise AttachError("the clip has no Fusion comp and Resolve would not add one")
    return comp


def attach_fusion(clip: ClipInfo, seq: MatteSequence) -> str:
    """A Loader of the matte in the item's Fusion comp, lined up with its MediaIn, wired as a mask."""
    comp = fusion_comp(clip)
    media_in = fusion_nodes.media_in(comp)
    start = fusion_nodes.number(media_in, "GlobalIn") if media_in is not None else None
    if start is None:
        rng = fusion_nodes.render_range(comp)
        start = rng[0] if rng else 0
    comp.Lock()
    comp.StartUndo("segmatte matte")
    try:
        loader = fusion_nodes.add_matte_loader(comp, seq, start + seq.first - clip.first)
        return fusion_nodes.wire_matte(comp, loader)
    finally:
        comp.EndUndo(True)
        comp.Unlock()


def attach(clip: ClipInfo, sequences: list[MatteSequence], mode: str) -> list[str]:
    """Attach every layer's sequence; returns one line per thing done for the status label."""
    if mode not in MODES:
        raise AttachError(f"unknown attach mode {mode!r}")
    done = []
    for seq in sequences:
        if mode == "clip matte":
            done.append(add_clip_matte(clip, seq))
            continue
        if mode == "fusion":
            done.append(attach_fusion(clip, seq))
            continue
        matte_item = import_sequence(clip.media_pool, seq)
        if mode == "track":
            place_above(clip, seq, matte_item)
            done.append(f"{seq.layer}: on a new track above {clip.name}")
        else:
            done.append(f"{seq.layer}: imported into the {BIN} bin")
    return done
