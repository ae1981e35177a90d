"""What the server reads: a Movie Clip or a sequencer strip as a source path,
with the exact mapping between scene frames and source frame numbers.

Source frame numbers are what the server and the mattes on disk use: movie
frames count from 0, image sequences keep their file numbers. Blender shows
them at scene frames as follows (checked against Blender 4.2 … 5.2):

- Movie Clip: source = scene - clip.frame_start + clip.frame_offset
  (+ the first file number for an image sequence).
- Movie / image strip: media index = scene - strip start + animation_offset_start
  (an image strip's file is ``elements[index]``); only frames between the
  strip's handles are visible.

Tracking markers use *clip* frames (scene - frame_start + 1), see
:meth:`Source.clip_frame`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import bpy

from .client.patterns import PatternError, file_number, hashes_of_file


class SourceError(ValueError):
    """No usable source; the message says what to do."""


@dataclass(frozen=True)
class Source:
    kind: str
    """'CLIP' (a Movie Clip datablock) or 'STRIP' (a sequencer strip)."""
    name: str
    """The clip's or the strip's name."""
    path: str
    """Absolute path for the server: the movie, or ``name.####.ext`` for a sequence."""
    is_sequence: bool
    width: int
    height: int
    first: int
    """First source frame number shown."""
    last: int
    """Last source frame number shown."""
    shift: int
    """source number = scene frame + shift."""
    clip_start: int = 1
    """The clip's frame_start (markers count clip frames from it); 1 for strips."""
    scene: str = ""
    """The scene a strip belongs to."""

    def to_source(self, scene_frame: int) -> int:
        return int(scene_frame) + self.shift

    def to_scene(self, number: int) -> int:
        return int(number) - self.shift

    def contains(self, number: int) -> bool:
        return self.first <= number <= self.last

    @property
    def scene_first(self) -> int:
        return self.to_scene(self.first)

    @property
    def scene_last(self) -> int:
        return self.to_scene(self.last)

    def clip_frame(self, scene_frame: int) -> int:
        """The frame number tracking markers and clip users store for ``scene_frame``."""
        return int(scene_frame) - self.clip_start + 1

    def job_range(self, scene_first: int, scene_last: int) -> tuple[int, int]:
        """Source numbers for a range of scene frames, cut to what the source holds.

        Raises SourceError when they do not overlap.
        """
        first = max(self.first, self.to_source(scene_first))
        last = min(self.last, self.to_source(scene_last))
        if last < first:
            raise SourceError(
                f"{self.name} shows at scene frames {self.scene_first}-{self.scene_last}, "
                f"outside frames {scene_first}-{scene_last}")
        return first, last


def _hashes(path: str) -> str:
    """``/x/shot.1001.exr`` → ``/x/shot.####.exr``; SourceError without a number."""
    try:
        return hashes_of_file(path)
    except PatternError as exc:
        raise SourceError(str(exc)) from None


def _abspath(path: str, library: bpy.types.ID | None = None) -> str:
    return os.path.normpath(bpy.path.abspath(path, library=library))


# --- clips --------------------------------------------------------------------


def from_clip(clip: bpy.types.MovieClip) -> Source:
    """The source of a Movie Clip (movie file or image sequence)."""
    if clip is None:
        raise SourceError("no Movie Clip: open one in the Movie Clip Editor")
    path = _abspath(clip.filepath, clip.library)
    if not os.path.exists(path):
        raise SourceError(f"the file of clip {clip.name} is missing: {path}")
    width, height = (int(v) for v in clip.size)
    if width <= 0 or height <= 0:
        raise SourceError(f"clip {clip.name} cannot be read by Blender ({path})")
    duration = int(clip.frame_duration)
    if clip.source == "SEQUENCE":
        base = file_number(path)
        if base is None:
            raise SourceError(f"clip {clip.name} is an image sequence, but {path} has no number")
        server_path, is_seq = _hashes(path), True
    else:
        base, server_path, is_seq = 0, path, False
    shift = -int(clip.frame_start) + int(clip.frame_offset) + base
    return Source(kind="CLIP", name=clip.name, path=server_path, is_sequence=is_seq,
                  width=width, height=height, first=base, last=base + duration - 1,
                  shift=shift, clip_start=int(clip.frame_start))


def active_clip(context: bpy.types.Context) -> bpy.types.MovieClip | None:
    """The clip of the Movie Clip Editor in context, else the scene's active clip."""
    space = getattr(context, "space_data", None)
    clip = getattr(space, "clip", None) if getattr(space, "type", "") == "CLIP_EDITOR" else None
    if clip is None and context.scene is not None:
        clip = context.scene.active_clip
    return clip


# --- strips -------------------------------------------------------------------


def _prop(strip: bpy.types.Strip, new: str, old: str) -> float:
    """A strip timing property under its 5.2+ name, or its older one."""
    names = strip.bl_rna.properties
    return getattr(strip, new if new in names else old)


def strip_timing(strip) -> tuple[int, int, int]:
    """(content start, left handle, right handle) in scene frames (the right one exclusive)."""
    start = int(round(_prop(strip, "content_start", "frame_start")))
    left = int(_prop(strip, "left_handle", "frame_final_start"))
    right = int(_prop(strip, "right_handle", "frame_final_end"))
    return start, left, right


def strips_of(scene: bpy.types.Scene):
    """The top-level strips of a scene's sequencer: ``strips`` (4.4+) or ``sequences`` (4.2)."""
    editor = scene.sequence_editor
    if editor is None:
        return []
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def active_strip(scene: bpy.types.Scene):
    editor = scene.sequence_editor
    return editor.active_strip if editor is not None else None


def from_strip(scene: bpy.types.Scene, strip) -> Source:
    """The source of a movie or image strip, restricted to the frames between its handles."""
    if strip is None:
        raise SourceError("no active strip: select a movie or image strip in the sequencer")
    start, left, right = strip_timing(strip)
    offset = int(_prop(strip, "content_trim_start", "animation_offset_start"))
    if strip.type == "MOVIE":
        path = _abspath(strip.filepath)
        if not os.path.exists(path):
            raise SourceError(f"the file of strip {strip.name} is missing: {path}")
        base, server_path, is_seq = 0, path, False
    elif strip.type == "IMAGE":
        names = [e.filename for e in strip.elements]
        numbers = [file_number(n) for n in names]
        if len(names) < 2 or None in numbers:
            raise SourceError(f"strip {strip.name} is a still or its files have no frame numbers")
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            raise SourceError(f"the files of strip {strip.name} are not numbered one after another")
        path = _abspath(os.path.join(strip.directory, names[0]))
        if not os.path.exists(path):
            raise SourceError(f"the files of strip {strip.name} are missing: {path}")
        base, server_path, is_seq = numbers[0], _hashes(path), True
    else:
        raise SourceError(f"strip {strip.name} is a {strip.type.lower()} strip; "
                          "mattes need a movie or image strip")
    if getattr(strip, "use_reverse_frames", False):
        raise SourceError(f"strip {strip.name} plays reversed; turn Reverse Frames off to matte it")
    # The content (after animation offsets) holds media indices offset … offset + duration - 1.
    duration = int(_prop(strip, "content_duration", "frame_duration"))
    media_first, media_last = offset, offset + duration - 1
    if strip.type == "IMAGE":
        media_last = min(media_last, len(strip.elements) - 1)
    shift = -start + offset + base
    first = max(left + shift, media_first + base)
    last = min(right - 1 + shift, media_last + base)
    if last < first:
        raise SourceError(f"strip {strip.name} shows no frames of its media")
    width, height = _strip_size(strip, path)
    return Source(kind="STRIP", name=strip.name, path=server_path, is_sequence=is_seq,
                  width=width, height=height, first=first, last=last, shift=shift,
                  scene=scene.name)


def _strip_size(strip, path: str) -> tuple[int, int]:
    elem = strip.elements[0] if len(strip.elements) else None
    if elem is not None and elem.orig_width > 0 and elem.orig_height > 0:
        return int(elem.orig_width), int(elem.orig_height)
    # Not read yet: ask the image loader (movies through a temporary clip).
    if strip.type == "MOVIE":
        clip = bpy.data.movieclips.load(path)
        try:
            return int(clip.size[0]), int(clip.size[1])
        finally:
            bpy.data.movieclips.remove(clip)
    image = bpy.data.images.load(path, check_existing=True)
    return int(image.size[0]), int(image.size[1])
