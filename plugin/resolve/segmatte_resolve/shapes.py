"""The Shapes button: a job's Fusion ``.setting`` (Polygon masks) pasted into a comp.

A job with the shapes option (``"shapes": ["fusion"]``, as ``segmatte matte
--shapes fusion``) writes ``NAME.setting`` beside ``NAME.manifest.json``. Its
keyframes are *source* frame numbers; a comp shows source frame ``f`` at comp
time ``f + offset``, so the keys are moved by ``offset`` before pasting (the
file is ours: one key a line, ``[frame] = {``).

Calls used: ``bmd.readfile(path)`` (the settings table of a file) and
``Comp.Paste(settings)`` ("pastes a tool from the clipboard or a settings
table"), both in the Fusion Scripting Guide (Composition reference; the bmd
library), with Comp.Lock/Unlock/StartUndo/EndUndo and GetToolList as in
:mod:`.fusion_nodes`.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from . import fusion_nodes

_KEY = re.compile(r"^(\s*)\[(-?\d+)\] = \{", re.MULTILINE)


class ShapesError(RuntimeError):
    """No shapes to paste; the message says what to do."""


def setting_of(manifest: str) -> str:
    """Where the job's shapes option wrote the Fusion shapes."""
    base = manifest[:-len(".manifest.json")] if manifest.endswith(".manifest.json") else manifest
    return base + ".setting"


def is_current(manifest: str) -> bool:
    """The ``.setting`` beside the manifest was made from these mattes (not older)."""
    path = setting_of(manifest)
    return os.path.isfile(path) and os.path.getmtime(path) >= os.path.getmtime(manifest)


def shift_keys(text: str, offset: int) -> str:
    """The .setting with every keyframe moved by ``offset`` frames."""
    if not offset:
        return text
    return _KEY.sub(lambda m: f"{m.group(1)}[{int(m.group(2)) + offset}] = {{", text)


def paste(comp: Any, bmd: Any, path: str, offset: int) -> list[str]:
    """Paste the Polygon masks of ``path`` into ``comp`` at ``offset``; the new masks' names."""
    if bmd is None or comp is None:
        raise ShapesError("no Fusion comp to add the shapes to: open the clip on the Fusion page")
    try:
        with open(path, encoding="utf-8") as f:
            text = shift_keys(f.read(), offset)
    except OSError as exc:
        raise ShapesError(f"cannot read {path}: {exc}") from None
    before = {fusion_nodes.tool_name(t) for t in fusion_nodes.as_list(comp.GetToolList(False))}
    with tempfile.TemporaryDirectory(prefix="segmatte-shapes-") as tmp:
        moved = os.path.join(tmp, os.path.basename(path))
        with open(moved, "w", encoding="utf-8") as f:
            f.write(text)
        settings = bmd.readfile(moved)
        if not settings:
            raise ShapesError(f"Fusion could not read {path} as a settings file")
        comp.Lock()
        comp.StartUndo("segmatte shapes")
        try:
            comp.Paste(settings)
        finally:
            comp.EndUndo(True)
            comp.Unlock()
    masks = fusion_nodes.as_list(comp.GetToolList(False, "PolylineMask"))
    return [n for n in (fusion_nodes.tool_name(t) for t in masks) if n not in before]
