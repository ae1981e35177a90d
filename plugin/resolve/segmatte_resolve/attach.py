"""Put finished mattes where the Resolve artist uses them. Runs on the UI thread only.

Four ways, the artist's choice: import into the ``segmatte`` bin (always; the
others start from it), a new video track above the source at the same record
frame, a clip matte of the source's media pool item, or a Loader in the
item's Fusion comp wired as a mask. Calls are the README's
(Developer/Scripting/README.txt); see tests/resolve/fake_resolve.py.
"""

from __future__ import annotations

from typing import Any

from . import fusion_nodes, jobspec
from .resolve_clip import ClipInfo

BIN = "segmatte"
MODES = ("track", "clip matte", "fusion", "import only")


class AttachError(RuntimeError):
    """Resolve refused a step; the message names it."""


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


def import_sequence(media_pool: Any, seq: jobspec.MatteSequence) -> Any:
    """ImportMedia with FilePath/StartIndex/EndIndex: one clip for the whole sequence."""
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
    return items[0]


def place_above(clip: ClipInfo, seq: jobspec.MatteSequence, matte_item: Any) -> Any:
    """A new video track (on top) with the matte at the source item's record frame.

    startFrame/endFrame are frames of the matte clip itself, 0 for its first
    file (the README gives them as ints without a base; this is the reading
    that lines the two clips up frame for frame).
    """
    if not clip.timeline.AddTrack("video"):
        raise AttachError("Resolve would not add a video track")
    track = int(clip.timeline.GetTrackCount("video"))
    offset = seq.first - clip.first
    placed = clip.media_pool.AppendToTimeline([{
        "mediaPoolItem": matte_item, "startFrame": 0, "endFrame": seq.last - seq.first,
        "mediaType": 1, "trackIndex": track, "recordFrame": clip.record_start + offset}])
    placed = fusion_nodes.as_list(placed)
    if not placed:
        raise AttachError(f"Resolve would not place the matte on video track {track}")
    return placed[0]


def add_clip_matte(clip: ClipInfo, seq: jobspec.MatteSequence) -> None:
    """The sequence as a clip matte of the source's media pool item (Color page mattes)."""
    storage = clip.resolve.GetMediaStorage()
    if not storage.AddClipMattesToMediaPool(clip.media_item, list(seq.files)):
        raise AttachError("Resolve refused the clip matte (AddClipMattesToMediaPool)")


def fusion_comp(clip: ClipInfo) -> Any:
    comp = clip.item.GetFusionCompByIndex(1)
    if comp is None:
        comp = clip.item.AddFusionComp()
    if comp is None:
        raise AttachError("the clip has no Fusion comp and Resolve would not add one")
    return comp


def attach_fusion(clip: ClipInfo, seq: jobspec.MatteSequence) -> str:
    """A Loader of the matte in the item's Fusion comp, lined up with MediaIn1, wired as a mask."""
    comp = fusion_comp(clip)
    media_in = comp.FindTool("MediaIn1")
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


def attach(clip: ClipInfo, sequences: list[jobspec.MatteSequence], mode: str) -> list[str]:
    """Attach every layer's sequence; returns one line per thing done for the status label."""
    if mode not in MODES:
        raise AttachError(f"unknown attach mode {mode!r}")
    done = []
    for seq in sequences:
        if mode == "clip matte":
            add_clip_matte(clip, seq)
            done.append(f"{seq.layer}: clip matte of {clip.name}")
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
