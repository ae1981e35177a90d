"""Scene frame ↔ source frame number, checked against what Blender really shows.

The clips carry their frame number burnt into the picture (clipgen.numbered_image):
each check renders the scene at a frame and reads back which source frame
Blender displayed there, then compares with the extension's mapping.
"""

from __future__ import annotations

import os

import bpy
from conftest import decode, render


def _show_clip(ext, scene, clip):
    tree, output = ext.attach.compositor_tree(scene)
    node = tree.nodes.new("CompositorNodeMovieClip")
    node.clip = clip
    tree.links.new(node.outputs["Image"], output)


def _trim(strip, frames: int) -> None:
    """Skip ``frames`` of the media at the start (renamed content_trim_start in 5.2)."""
    name = "content_trim_start" if "content_trim_start" in strip.bl_rna.properties else \
        "animation_offset_start"
    setattr(strip, name, frames)


def _strips(ext, scene):
    scene.sequence_editor_create()
    return ext.sources.strips_of(scene)


def test_movie_clip_with_start_and_offset(ext, scene, media):
    clip = bpy.data.movieclips.load(media["numbered"])
    clip.frame_start = 5
    clip.frame_offset = 2
    src = ext.sources.from_clip(clip)
    assert (src.first, src.last, src.is_sequence) == (0, 11, False)
    assert src.path == os.path.normpath(media["numbered"])
    assert (src.width, src.height) == (160, 120)
    assert src.to_source(5) == 2 and src.to_scene(2) == 5
    assert src.clip_frame(5) == 1
    _show_clip(ext, scene, clip)
    for frame in (5, 9):
        assert decode(render(scene, frame, "clip_movie")) == src.to_source(frame)


def test_image_sequence_clip_from_1001(ext, scene, media):
    clip = bpy.data.movieclips.load(media["sequence"])
    clip.frame_start = 10
    src = ext.sources.from_clip(clip)
    assert src.is_sequence and src.path.endswith("numbered.####.png")
    assert (src.first, src.last) == (1001, 1008)
    assert src.to_source(10) == 1001
    _show_clip(ext, scene, clip)
    for frame in (10, 13):
        assert decode(render(scene, frame, "clip_seq")) == src.to_source(frame)
    clip.frame_offset = 1
    src = ext.sources.from_clip(clip)
    assert src.to_source(10) == 1002
    assert decode(render(scene, 12, "clip_seq_offset")) == src.to_source(12) == 1004


def test_job_range_is_cut_to_the_clip(ext, scene, media):
    clip = bpy.data.movieclips.load(media["sequence"])
    clip.frame_start = 10
    src = ext.sources.from_clip(clip)
    assert src.job_range(1, 250) == (1001, 1008)
    assert src.job_range(12, 14) == (1003, 1005)
    try:
        src.job_range(100, 120)
    except ext.sources.SourceError as exc:
        assert "outside" in str(exc)
    else:
        raise AssertionError("a range outside the clip must be refused")


def test_movie_strip_with_animation_offset(ext, scene, media):
    strip = _strips(ext, scene).new_movie("shot", media["numbered"], channel=1, frame_start=20)
    _trim(strip, 3)
    src = ext.sources.from_strip(scene, strip)
    _, left, right = ext.sources.strip_timing(strip)
    assert src.first == 3 and src.last == 11
    assert src.to_source(left) == 3
    for frame in (left, left + 4, right - 1):
        assert decode(render(scene, frame, "strip_movie")) == src.to_source(frame)


def test_image_strip_numbered_from_1001(ext, scene, media):
    folder, first = os.path.split(media["sequence"])
    strip = _strips(ext, scene).new_image("plate", media["sequence"], channel=1, frame_start=30)
    for n in range(1002, 1009):
        strip.elements.append(first.replace("1001", str(n)))
    _trim(strip, 2)
    src = ext.sources.from_strip(scene, strip)
    assert src.is_sequence and src.path == os.path.join(folder, "numbered.####.png")
    _, left, right = ext.sources.strip_timing(strip)
    assert (src.first, src.last) == (1003, 1008)
    for frame in (left, right - 1):
        assert decode(render(scene, frame, "strip_image")) == src.to_source(frame)
