"""A real job through the extension's operators against a real ``segmatte serve``.

The key engine mattes a generated green-screen clip; the mattes come back as an
image sequence wired into the compositor (clips) or a sequencer mask (strips),
and rendering the scene shows the ground-truth alpha.
"""

from __future__ import annotations

import os

import bpy
import numpy as np
import pytest
from conftest import GREEN_FRAMES, green_alpha, render, wait


def _run(ext, link, **kwargs):
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(**kwargs) == {"FINISHED"}
    job = wait(ext, lambda: (set(link.jobs) - before) or None, what="the submit reply").pop()
    watch = link.jobs[job]
    wait(ext, lambda: watch.attached, what=f"job {job}")
    assert watch.state == "done", watch.reason
    return watch


def _matte(folder: str, name: str, number: int) -> np.ndarray:
    """The matte file of source frame ``number`` as Blender reads it (top row first)."""
    image = bpy.data.images.load(os.path.join(folder, f"{name}.{number:04d}.exr"))
    try:
        w, h = image.size
        px = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(image)
    return px.reshape(h, w, 4)[::-1, :, 3]


def _check_alpha(rgba: np.ndarray, matte: np.ndarray, truth: np.ndarray) -> None:
    """The render's alpha is the matte: 0 where it is 0, 1 where it is 1, and in between."""
    alpha = rgba[..., 3]
    assert (matte == 0).any() and (matte == 1).any()
    assert alpha[matte == 0].max() < 0.5 / 255
    assert alpha[matte == 1].min() > 1 - 0.5 / 255
    assert np.abs(alpha - matte).max() < 1.0 / 255
    assert np.abs(alpha - truth).mean() < 0.02  # and the key found the disc


def test_track_needs_a_connection(ext, scene):
    ext.connection.link.disconnect()
    # An operator's ERROR report is a RuntimeError for a script (a message in the UI).
    with pytest.raises(RuntimeError, match="not connected to the segmatte server"):
        bpy.ops.segmatte.track(target="CLIP")


def test_connect_lists_the_servers_engines(ext, scene, link):
    assert "key" in [e["name"] for e in link.engines]
    ext.connection.poll()
    assert bpy.context.window_manager.segmatte.connection == "CONNECTED"
    assert "key" in [name for name, _ in ext.properties._engine_search(None, None, "")]
    track = link.engine("track")
    if track is not None:  # the tracker names its default model in its options
        assert track["needs_objects"] and ext.properties.engine_models(track)


def test_unknown_engine_is_an_error_not_a_traceback(ext, scene, link, media):
    scene.active_clip = bpy.data.movieclips.load(media["green"])
    scene.segmatte.engine = "no-such-engine"
    with pytest.raises(RuntimeError, match="the server has no engine 'no-such-engine'; it has"):
        bpy.ops.segmatte.track(target="CLIP")


def test_track_clip_wires_the_compositor(ext, scene, link, media):
    clip = bpy.data.movieclips.load(media["green"])
    scene.active_clip = clip
    scene.frame_start, scene.frame_end, scene.frame_current = 1, GREEN_FRAMES, 1
    scene.segmatte.engine = "key"
    track = clip.tracking.objects.active.tracks.new(name="disc", frame=1)
    track.markers.find_frame(1, exact=True).co = (0.3, 0.5)
    watch = _run(ext, link, target="CLIP", direction="FORWARD")
    assert [level for level, _ in watch.messages] == ["INFO"], watch.messages
    assert [item.name for item in scene.segmatte.objects] == ["disc"]

    tree, output = ext.attach.compositor_tree(scene)
    matte = tree.nodes["segmatte matte matte"]
    image = matte.image
    assert image.source == "SEQUENCE"
    assert image.colorspace_settings.name == "Non-Color"
    assert image.filepath.endswith("green.0000.exr")
    assert (matte.frame_start, matte.frame_offset, matte.frame_duration) == (1, -1, GREEN_FRAMES)
    set_alpha = tree.nodes["segmatte set alpha matte"]
    assert set_alpha.inputs["Alpha"].links[0].from_node == matte
    assert set_alpha.inputs["Image"].links[0].from_node.clip == clip
    assert output.links[0].from_node == set_alpha
    assert not [n for n in tree.nodes if n.bl_idname == "CompositorNodeRLayers"]
    folder = os.path.dirname(bpy.path.abspath(image.filepath))
    for frame in (1, 6):
        _check_alpha(render(scene, frame, "composite"), _matte(folder, "green", frame - 1),
                     green_alpha(frame - 1))


def test_track_strip_adds_a_sequencer_mask(ext, scene, link, media):
    editor = scene.sequence_editor_create()
    strips = ext.sources.strips_of(scene)
    strip = strips.new_movie("plate", media["green"], channel=1, frame_start=11)
    editor.active_strip = strip
    scene.frame_start, scene.frame_end, scene.frame_current = 1, 40, 11
    scene.segmatte.engine = "key"
    watch = _run(ext, link, target="STRIP", direction="FORWARD")
    matte = strips["plate matte"]
    assert matte.mute and matte.channel == 2
    assert ext.sources.strip_timing(matte)[:2] == (11, 11)
    assert len(matte.elements) == GREEN_FRAMES
    assert matte.colorspace_settings.name == "Non-Color"
    if ext.attach.modifiers_crash():
        assert not len(strip.modifiers)
        assert "Add Modifier > Mask" in watch.messages[-1][1]
        pytest.skip(f"Blender {bpy.app.version_string} crashes in strip.modifiers.new() from "
                    "Python; the extension adds the matte strip and tells the artist instead")
    modifier = strip.modifiers["segmatte matte"]
    assert modifier.type == "MASK" and modifier.input_mask_strip == matte
    folder = bpy.path.abspath(matte.directory)
    for frame in (11, 16):
        _check_alpha(render(scene, frame, "sequencer"), _matte(folder, "plate", frame - 11),
                     green_alpha(frame - 11))


def test_cancel_then_track_again_resumes(ext, scene, link, media):
    clip = bpy.data.movieclips.load(media["long"])
    scene.active_clip = clip
    scene.frame_start, scene.frame_end, scene.frame_current = 1, 40, 1
    scene.segmatte.engine = "key"
    scene.segmatte.use_compositor = False
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="FORWARD") == {"FINISHED"}
    job = wait(ext, lambda: (set(link.jobs) - before) or None, what="the submit reply").pop()
    watch = link.jobs[job]
    wait(ext, lambda: watch.frames, what="a first frame")  # the server writes one each 0.1 s
    assert bpy.ops.segmatte.cancel() == {"FINISHED"}
    wait(ext, lambda: watch.attached, what="the cancel")
    assert watch.state == "cancelled"
    assert "cancelled" in watch.messages[-1][1]
    assert bpy.ops.segmatte.cancel() == {"CANCELLED"}  # a warning: no job is running

    again = _run(ext, link, target="CLIP", direction="FORWARD")
    assert again.skipped >= len(watch.frames) > 0
    assert again.written + again.skipped == 40
    assert "mattes loaded as image" in again.messages[-1][1]
    assert bpy.data.images["long.0000.exr"].source == "SEQUENCE"
