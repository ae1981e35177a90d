"""The job spec the Track button sends: range, direction, prompts, output."""

from __future__ import annotations

import bpy
import pytest
from conftest import EXT, WORK

TRACK = {"name": "track", "needs_objects": True, "description": "test double"}


@pytest.fixture
def engines(ext):
    link = ext.connection.link
    saved = link.engines
    link.engines = [{"name": "key", "needs_objects": False}, TRACK]
    yield link
    link.engines = saved


@pytest.fixture
def clip(scene, media):
    clip = bpy.data.movieclips.load(media["sequence"])  # source frames 1001-1008
    clip.frame_start = 101
    scene.active_clip = clip
    scene.frame_start, scene.frame_end, scene.frame_current = 100, 200, 104
    tracks = clip.tracking.objects.active.tracks
    for name, co in (("hero", (0.5, 0.5)), ("-hero", (0.1, 0.9)), ("prop", (0.75, 0.25))):
        tracks.new(name=name, frame=4).markers.find_frame(4, exact=True).co = co
    return clip


@pytest.mark.parametrize("direction, first, last", [("FORWARD", 1004, 1008),
                                                    ("BACKWARD", 1001, 1004),
                                                    ("BOTH", 1001, 1008)])
def test_range_follows_the_direction(ext, engines, clip, direction, first, last):
    bpy.context.scene.segmatte.engine = "track"
    spec, target, _ = ext.operators.build_job(bpy.context, "CLIP", direction)
    assert spec["range"] == {"first": first, "last": last}
    assert spec["direction"] == direction.lower()
    assert spec["source"].endswith("numbered.####.png")
    assert [k["frame"] for k in spec["objects"][0]["keyframes"]] == [1004]
    assert {k: target[k] for k in ("kind", "name", "scene", "shift", "compositor")} == {
        "kind": "CLIP", "name": clip.name, "scene": "Scene", "shift": 900, "compositor": True}
    assert target["spec"] == spec and target["shapes"] is False


def test_objects_and_keyframe_on_the_current_source_frame(ext, engines, clip):
    settings = bpy.context.scene.segmatte
    settings.engine = "track"
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    hero, prop = spec["objects"]
    assert hero == {"id": "hero", "keyframes": [{"frame": 1004, "points": [
        {"x": 80.0, "y": 60.0, "label": 1}, {"x": 16.0, "y": 12.0, "label": 0}]}]}
    assert prop["id"] == "prop" and prop["keyframes"][0]["points"][0]["label"] == 1
    settings.objects["prop"].use = False  # unticked in the panel's list
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    assert [o["id"] for o in spec["objects"]] == ["hero"]


def test_markers_on_two_frames_make_two_keyframes(ext, engines, clip):
    tracks = clip.tracking.objects.active.tracks
    tracks.new(name="hero.late", frame=7).markers.find_frame(7, exact=True).co = (0.25, 0.25)
    bpy.context.scene.segmatte.engine = "track"
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "BOTH")
    hero = spec["objects"][0]
    assert [k["frame"] for k in hero["keyframes"]] == [1004, 1007]
    assert hero["keyframes"][1]["points"] == [{"x": 40.0, "y": 90.0, "label": 1}]
    # a backward job from 1004 leaves the later keyframe out
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "BACKWARD")
    assert [k["frame"] for k in spec["objects"][0]["keyframes"]] == [1004]
    hero = bpy.context.scene.segmatte.objects["hero"]
    assert (hero.frames, hero.positives, hero.negatives) == ("1004, 1007", 2, 1)
    ext.operators.store_objects(bpy.context.scene.segmatte, None)  # after a click: kept
    assert hero.frames == "1004, 1007" and hero.positives == 2


def test_engine_without_objects_gets_none(ext, engines, clip):
    settings = bpy.context.scene.segmatte
    settings.engine = "key"
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    assert "objects" not in spec and "options" not in spec
    assert spec["output"]["folder"] == str(WORK / "mattes" / "numbered_Scene")
    assert spec["output"]["name"] == "numbered"


def test_strip_refuses_channels_a(ext, engines, scene, media):
    scene.sequence_editor_create()
    strip = ext.sources.strips_of(scene).new_movie("plate", media["green"], channel=1,
                                                   frame_start=1)
    scene.sequence_editor.active_strip = strip
    scene.segmatte.engine, scene.segmatte.channels = "key", "a"
    with pytest.raises(ext.operators.JobError, match="cannot use Channels A"):
        ext.operators.build_job(bpy.context, "STRIP", "FORWARD")
    scene.segmatte.channels = "y"
    spec, _, _ = ext.operators.build_job(bpy.context, "STRIP", "FORWARD")
    assert spec["output"]["channels"] == "y"


def test_unsaved_file_asks_for_a_folder(ext, engines, clip):
    prefs = bpy.context.preferences.addons[EXT].preferences
    saved = prefs.output_folder
    try:
        prefs.output_folder = "//mattes/{source}"
        bpy.context.scene.segmatte.engine = "key"
        with pytest.raises(ext.operators.NeedsFolder, match="not saved yet: choose a Matte Folder"):
            ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
        bpy.context.scene.segmatte.matte_folder = str(WORK / "chosen")
        spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
        assert spec["output"]["folder"] == str(WORK / "chosen" / "mattes" / "numbered")
    finally:
        prefs.output_folder = saved


def test_prompts_needed_and_frame_outside_the_clip(ext, engines, clip):
    bpy.context.scene.segmatte.engine = "track"
    for track in clip.tracking.objects.active.tracks:
        track.hide = True
    with pytest.raises(ext.operators.JobError, match="needs prompts"):
        ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    bpy.context.scene.frame_current = 150
    with pytest.raises(ext.operators.JobError, match="shows no frame"):
        ext.operators.build_job(bpy.context, "CLIP", "FORWARD")


def test_output_patterns_from_preferences(ext, engines, clip):
    prefs = bpy.context.preferences.addons[EXT].preferences
    saved = prefs.output_folder, prefs.output_name
    try:
        prefs.output_folder = str(WORK / "{scene}" / "{engine}")
        prefs.output_name = "{source}_{nope}"
        with pytest.raises(ext.operators.JobError, match="unknown field"):
            ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
        prefs.output_name = "{blend}-{source}"
        spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
        assert spec["output"]["folder"] == str(WORK / "Scene" / "key")
        assert spec["output"]["name"] == "untitled-numbered"
    finally:
        prefs.output_folder, prefs.output_name = saved


def test_refine_edges_asks_for_the_guided_refine(ext, engines, clip):
    settings = bpy.context.scene.segmatte
    settings.engine = "track"
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    assert "finish" not in spec
    settings.refine_edges = True
    try:
        spec, target, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    finally:
        settings.refine_edges = False
    assert spec["finish"] == {"refine": "guided"} and target["spec"] == spec
