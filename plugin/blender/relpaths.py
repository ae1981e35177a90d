"""Paths of our mattes stored relative (``//``) to the .blend file once it is saved.

Mattes attached while the file was unsaved carry absolute paths (there is no
file to be relative to). On save, the images and matte strips segmatte made
are rewritten relative to the file's new folder, so the project moves as a
whole.
"""

from __future__ import annotations

import os

import bpy


def _relative(path: str, blend: str) -> str:
    if not path or path.startswith("//"):
        return path
    try:
        return "//" + os.path.relpath(path, os.path.dirname(blend)).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return path


def make_relative(blend: str) -> int:
    """Rewrite our absolute paths relative to ``blend``; how many."""
    n = 0
    for image in bpy.data.images:
        if image.get("segmatte") and image.filepath and not image.filepath.startswith("//"):
            image.filepath = _relative(bpy.path.abspath(image.filepath), blend)
            n += 1
    for scene in bpy.data.scenes:
        editor = scene.sequence_editor
        if editor is None:
            continue
        strips = editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all
        for strip in strips:
            if strip.type == "IMAGE" and strip.get("segmatte") and \
                    not strip.directory.startswith("//"):
                strip.directory = _relative(bpy.path.abspath(strip.directory), blend) + "/"
                n += 1
    return n


@bpy.app.handlers.persistent
def _on_save_pre(*args) -> None:
    blend = next((a for a in args if isinstance(a, str) and a), "") or bpy.data.filepath
    if blend and bpy.context.preferences.filepaths.use_relative_paths:
        make_relative(blend)


def register() -> None:
    if _on_save_pre not in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.append(_on_save_pre)


def unregister() -> None:
    if _on_save_pre in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.remove(_on_save_pre)
