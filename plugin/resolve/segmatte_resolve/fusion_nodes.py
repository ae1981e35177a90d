"""Fusion comp work shared by both scripts: read a Loader/MediaIn, add the matte Loader, wire it.

Frame bookkeeping, the one thing that is easy to get wrong here: a Loader
shows clip frame ``ClipTimeStart + (t - GlobalIn)`` at comp time ``t``, and
clip frame 0 of a sequence ``shot.1001.exr`` is file 1001. The matte Loader
is placed so that comp time ``t`` shows the matte of exactly the source frame
the picture shows at ``t``.

Calls used: Comp.AddTool/FindTool/GetToolList/GetAttrs/CurrentTime/Lock/Unlock/
StartUndo/EndUndo and Tool.GetAttrs/GetInput/SetInput/ConnectInput/FindMainInput,
Input.GetConnectedOutput, Output.GetTool (Fusion Scripting Guide; HOSTS.md
lists AddTool, Clip, GlobalIn/Out, ClipTimeStart/End, ConnectInput). Lists
come back from Fusion's Python as dicts keyed 1, 2, ...: :func:`as_list` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segmatte.client.manifest import MatteSequence

from . import sources

SOURCE_TOOLS = ("Loader", "MediaIn")
PASS_THROUGH = ("Loader", "MediaIn")
"""A comp's "main node" is the tool feeding MediaOut; when that is a reader itself
(a fresh clip comp: MediaIn1 → MediaOut1) nothing processes the image, so an
EffectMask would mask nothing and a MatteControl is inserted instead."""


class FusionError(RuntimeError):
    """The comp does not hold what the script needs; the message says what to do."""


def as_list(value: Any) -> list:
    """Fusion returns tables as dicts keyed 1..n from Python; accept a list too."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return list(value)


def attr(tool: Any, key: str) -> Any:
    """One GetAttrs() entry, unwrapping a per-clip dict ({1: value}) to its first value."""
    try:
        value = (tool.GetAttrs() or {}).get(key)
    except Exception:
        return None
    if isinstance(value, dict):
        items = as_list(value)
        return items[0] if items else None
    return value


def reg_id(tool: Any) -> str:
    return str(attr(tool, "TOOLS_RegID") or "")


def tool_name(tool: Any) -> str:
    return str(attr(tool, "TOOLS_Name") or reg_id(tool) or "tool")


def number(tool: Any, input_id: str) -> int | None:
    try:
        value = tool.GetInput(input_id)
    except Exception:
        return None
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def render_range(comp: Any) -> tuple[int, int] | None:
    attrs = comp.GetAttrs() or {}
    start, end = attrs.get("COMPN_RenderStart"), attrs.get("COMPN_RenderEnd")
    if start is None or end is None:
        return None
    return int(round(start)), int(round(end))


def selected_source(comp: Any) -> Any:
    """The selected Loader or MediaIn (the active tool first); raises FusionError."""
    for tool in as_list(comp.GetToolList(True)):
        if reg_id(tool) in SOURCE_TOOLS:
            return tool
    raise FusionError("select a Loader or MediaIn node first")


@dataclass
class LoaderSource:
    """A Loader's clip and the part of it the render range shows."""

    tool: Any
    source: sources.Source
    first: int
    last: int
    """Source frame numbers to matte."""
    comp_start: int
    """Comp time that shows source frame ``first``."""
    keyframe: int
    size: tuple[int, int] | None


def read_loader(comp: Any, tool: Any) -> LoaderSource:
    """Where a Loader's picture comes from, limited to the comp's render range."""
    clip = attr(tool, "TOOLST_Clip_Name")
    if not clip:
        try:
            clip = tool.GetInput("Clip")
        except Exception:
            clip = None
    if not isinstance(clip, str) or not clip:
        raise FusionError(f"{tool_name(tool)} has no clip loaded")
    source = sources.from_frame_file(clip)
    g_in, g_out = number(tool, "GlobalIn"), number(tool, "GlobalOut")
    c_start = number(tool, "ClipTimeStart") or 0
    if g_in is None or g_out is None:
        raise FusionError(f"cannot read the frame range of {tool_name(tool)}")
    t0, t1 = g_in, g_out
    rng = render_range(comp)
    if rng:
        t0, t1 = max(t0, rng[0]), min(t1, rng[1])
    if t1 < t0:
        raise FusionError(f"{tool_name(tool)} is not in the render range")
    base = source.first_number + c_start - g_in
    now = current_time(comp)
    now = t0 if now is None else now
    width, height = attr(tool, "TOOLIT_Clip_Width"), attr(tool, "TOOLIT_Clip_Height")
    size = (int(width), int(height)) if width and height else None
    return LoaderSource(tool, source, base + t0, base + t1, t0,
                        base + min(max(now, t0), t1), size)


def current_time(comp: Any) -> int | None:
    """The comp's CurrentTime (the Fusion page's playhead), or None."""
    try:
        return int(round(float(comp.CurrentTime)))
    except (AttributeError, TypeError, ValueError):
        return None


def media_in(comp: Any) -> Any:
    """MediaIn1, else the first MediaIn of the comp, else None."""
    tool = comp.FindTool("MediaIn1")
    if tool is not None:
        return tool
    return next((t for t in as_list(comp.GetToolList(False)) if reg_id(t) == "MediaIn"), None)


def add_matte_loader(comp: Any, seq: MatteSequence, global_in: int) -> Any:
    """A Loader of ``seq`` showing its first file at comp time ``global_in``; read back.

    Clip first: Fusion resets the trims when the clip changes. ClipTimeStart/End
    count from the sequence's first file, so 0..n-1 shows every file once.
    The inputs come from the Fusion guide, not the Resolve README, so each is
    read back and a Loader that did not take them is removed with a message.
    """
    count = seq.count
    loader = comp.AddTool("Loader", -32768, -32768)
    if loader is None:
        raise FusionError("Fusion would not add a Loader to the comp")
    wanted = {"GlobalIn": global_in, "GlobalOut": global_in + count - 1,
              "ClipTimeStart": 0, "ClipTimeEnd": count - 1}
    loader.SetInput("Clip", seq.first_path)
    for key, value in wanted.items():
        loader.SetInput(key, value)
    got = {key: number(loader, key) for key in wanted}
    if got != wanted:
        loader.Delete()
        differ = ", ".join(f"{k} {got[k]} (asked {wanted[k]})" for k in wanted if got[k] != wanted[k])
        raise FusionError(f"the matte Loader did not take its frame range: {differ}")
    return loader


PREVIEW_NAME = "segmatte_preview"


def show_preview(comp: Any, path: str, at: int) -> Any:
    """One Loader named ``segmatte_preview`` showing ``path`` at comp time ``at`` (replaced
    on every preview, removed by :func:`remove_preview`)."""
    remove_preview(comp)
    loader = comp.AddTool("Loader", -32768, -32768)
    if loader is None:
        raise FusionError("Fusion would not add a Loader for the preview")
    loader.SetAttrs({"TOOLS_Name": PREVIEW_NAME})
    loader.SetInput("Clip", path)
    loader.SetInput("GlobalIn", at)
    loader.SetInput("GlobalOut", at)
    return loader


def remove_preview(comp: Any) -> bool:
    tool = comp.FindTool(PREVIEW_NAME)
    if tool is None:
        return False
    tool.Delete()
    return True


def main_node(comp: Any) -> tuple[Any, Any]:
    """(MediaOut, the tool feeding it) in a Resolve clip comp; (None, None) elsewhere."""
    out = comp.FindTool("MediaOut1")
    if out is None:
        for tool in as_list(comp.GetToolList(False)):
            if reg_id(tool) == "MediaOut":
                out = tool
                break
    if out is None:
        return None, None
    try:
        connected = out.FindMainInput(1).GetConnectedOutput()
        return out, (connected.GetTool() if connected is not None else None)
    except Exception:
        return out, None


def connect(tool: Any, input_id: str, source: Any) -> None:
    """``tool.ConnectInput`` (Fusion guide: returns whether it connected); FusionError if not."""
    if tool.ConnectInput(input_id, source) is False:
        raise FusionError(f"Fusion would not connect {tool_name(source)} to "
                          f"{tool_name(tool)}.{input_id}")


def matte_control(comp: Any, image: Any, loader: Any) -> Any:
    """MatteControl: the picture as Background, the matte as an inverted garbage matte,
    i.e. the picture's alpha becomes the matte (a cut-out)."""
    mc = comp.AddTool("MatteControl", -32768, -32768)
    connect(mc, "Background", image)
    connect(mc, "GarbageMatte", loader)
    mc.SetInput("InvertGarbageMatte", 1)
    return mc


def wire_matte(comp: Any, loader: Any, image: Any | None = None) -> str:
    """Connect the matte Loader; returns one sentence saying what was done.

    In a clip comp: EffectMask of the main node when it processes the picture,
    else a MatteControl inserted before MediaOut. With ``image`` (a Loader or
    MediaIn picked in the Fusion comp script) and nothing downstream known: a
    MatteControl after it, left for the artist to connect onwards.
    """
    out, main = main_node(comp)
    if image is None or (main is not None and main is image):
        if main is not None and reg_id(main) not in PASS_THROUGH:
            connect(main, "EffectMask", loader)
            return f"{tool_name(loader)} is the effect mask of {tool_name(main)}"
        if main is not None and out is not None:
            mc = matte_control(comp, main, loader)
            connect(out, "Input", mc)
            if main_node(comp)[1] is not mc:  # read back what feeds MediaOut now
                raise FusionError(f"{tool_name(out)} is not fed by {tool_name(mc)} after "
                                  "connecting it; connect the matte by hand")
            return f"{tool_name(mc)} cuts {tool_name(main)} out with {tool_name(loader)}"
        if image is None:
            raise FusionError("the comp has no MediaOut fed by a node; connect the matte by hand")
    mc = matte_control(comp, image, loader)
    return (f"{tool_name(mc)} cuts {tool_name(image)} out with {tool_name(loader)}; "
            "connect its output onwards")
