"""What a panel works on: the Resolve timeline item, or a Loader/MediaIn in a Fusion comp.

A target reads its source once (source path, source frame range, prompt frame,
size) and attaches finished mattes. The panel does not care which host it is in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from segmatte.client.manifest import MatteSequence
from segmatte.client.patterns import clip_stem

from . import attach, fusion_nodes, resolve_clip


@dataclass
class Shot:
    """The host-independent part: what goes into the spec."""

    name: str
    source: str
    first: int
    last: int
    keyframe: int
    """The source frame under the playhead: where the next prompt goes."""
    size: tuple[int, int] | None
    notes: tuple[str, ...] = ()
    comp_size: tuple[int, int] | None = None
    """Where the preview Loader goes: the timeline's resolution (None: unknown)."""

    def describe(self) -> str:
        size = f", {self.size[0]}x{self.size[1]}" if self.size else ""
        text = (f"{self.name}: source frames {self.first}-{self.last}{size}; "
                f"the playhead is on frame {self.keyframe}")
        return text + "".join(f". Note: {n}" for n in self.notes)

    def default_folder(self) -> str:
        return os.path.join(os.path.dirname(self.source) or os.path.expanduser("~"),
                            "segmatte")


class ResolveTarget:
    """The current video item of the current timeline (Workspace > Scripts > Utility)."""

    title = "segmatte — Resolve"
    modes = attach.MODES

    def __init__(self, resolve: Any, fusion: Any = None) -> None:
        self.resolve = resolve
        self.fusion = fusion
        self.clip: resolve_clip.ClipInfo | None = None

    def read(self) -> Shot:
        self.clip = clip = resolve_clip.current_clip(self.resolve, self.fusion)
        return Shot(clip.name, clip.source.path, clip.first, clip.last, clip.keyframe, clip.size,
                    tuple(clip.notes), resolve_clip.timeline_size(clip.timeline))

    def preview_comp(self) -> Any:
        """Where a preview Loader may go: the item's comp, only when it already has one."""
        item = self.clip.item if self.clip else None
        if item is None or not (resolve_clip._int(item.GetFusionCompCount()) or 0):
            return None
        return item.GetFusionCompByIndex(1)

    def comp_time(self, frame: int) -> int:
        comp = self.preview_comp()
        media_in = fusion_nodes.media_in(comp) if comp is not None else None
        g_in = fusion_nodes.number(media_in, "GlobalIn") if media_in is not None else None
        return (g_in or 0) + frame - (self.clip.first if self.clip else frame)

    def shapes_comp(self) -> tuple[Any, int]:
        """The item's Fusion comp (made when it has none) and the offset from source frame
        to comp time there."""
        item = self.clip.item if self.clip else None
        if item is None:
            raise fusion_nodes.FusionError("no clip was read")
        if resolve_clip._int(item.GetFusionCompCount()):
            comp = item.GetFusionCompByIndex(1)
        else:
            comp = item.AddFusionComp()
        if comp is None:
            raise fusion_nodes.FusionError("Resolve made no Fusion comp for the clip")
        media_in = fusion_nodes.media_in(comp)
        g_in = fusion_nodes.number(media_in, "GlobalIn") if media_in is not None else None
        return comp, (g_in or 0) - self.clip.first

    def attach(self, sequences: list, mode: str) -> list[str]:
        if self.clip is None:
            raise attach.AttachError("no clip was read")
        return attach.attach(self.clip, sequences, mode)


class FusionTarget:
    """The selected Loader (or MediaIn, whose file comes from Resolve) in the current comp."""

    title = "segmatte — Fusion"
    modes = ("mask in this comp",)

    def __init__(self, comp: Any, resolve: Any = None) -> None:
        self.comp = comp
        self.resolve = resolve
        self.tool: Any = None
        self.comp_start = 0
        self.first = 0

    def read(self) -> Shot:
        if self.comp is None:
            raise fusion_nodes.FusionError("open a Fusion comp first")
        tool = fusion_nodes.selected_source(self.comp)
        self.tool = tool
        if fusion_nodes.reg_id(tool) == "MediaIn":
            return self._read_media_in(tool)
        src = fusion_nodes.read_loader(self.comp, tool)
        self.comp_start, self.first = src.comp_start, src.first
        return Shot(clip_stem(src.source.path), src.source.path, src.first, src.last,
                    src.keyframe, src.size)

    def _read_media_in(self, tool: Any) -> Shot:
        """A MediaIn names no file: its clip is the Resolve item this comp belongs to, and
        the frame is the comp's CurrentTime against the MediaIn's GlobalIn (the timeline
        playhead is undocumented on the Fusion page)."""
        try:
            clip = resolve_clip.current_clip(self.resolve, _CompHolder(self.comp))
        except resolve_clip.ClipError as exc:
            raise fusion_nodes.FusionError(f"{fusion_nodes.tool_name(tool)}: {exc}") from None
        start = fusion_nodes.number(tool, "GlobalIn")
        if start is None:
            rng = fusion_nodes.render_range(self.comp)
            start = rng[0] if rng else 0
        self.comp_start, self.first = start, clip.first
        now = fusion_nodes.current_time(self.comp)
        key = clip.first + (now - start) if now is not None else clip.keyframe
        return Shot(clip.name, clip.source.path, clip.first, clip.last,
                    min(max(key, clip.first), clip.last), clip.size, tuple(clip.notes))

    def preview_comp(self) -> Any:
        return self.comp

    def comp_time(self, frame: int) -> int:
        return self.comp_start + frame - self.first

    def shapes_comp(self) -> tuple[Any, int]:
        return self.comp, self.comp_start - self.first

    def attach(self, sequences: list, mode: str) -> list[str]:
        done = []
        self.comp.Lock()
        self.comp.StartUndo("segmatte matte")
        try:
            for seq in sequences:
                loader = fusion_nodes.add_matte_loader(
                    self.comp, seq, self.comp_start + seq.first - self.first)
                done.append(fusion_nodes.wire_matte(self.comp, loader, image=self.tool))
        finally:
            self.comp.EndUndo(True)
            self.comp.Unlock()
        return done


class _CompHolder:
    """Stands for ``fu`` where only this comp is known (GetCurrentComp → it)."""

    def __init__(self, comp: Any) -> None:
        self.comp = comp

    def GetCurrentComp(self) -> Any:
        return self.comp


def sequences_summary(sequences: list[MatteSequence]) -> str:
    return ", ".join(f"{s.layer} {s.first}-{s.last}" for s in sequences)
