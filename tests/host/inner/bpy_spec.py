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
    assert target == {"kind": "CLIP", "name": clip.name, "scene": "Scene", "shift": 900,
                      "compositor": True}


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


def test_engine_without_objects_gets_none_and_options_parse(ext, engines, clip):
    settings = bpy.context.scene.segmatte
    settings.engine = "key"
    settings.options = "screen=blue tolerance=0.25 'clean_plate=1001'"
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    assert "objects" not in spec
    assert spec["options"] == {"screen": "blue", "tolerance": 0.25, "clean_plate": 1001}
    assert spec["output"]["folder"] == str(WORK / "mattes" / "numbered.1001_Scene")
    assert spec["output"]["name"] == "numbered.1001"


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
        assert spec["output"]["name"] == "untitled-numbered.1001"
    finally:
        prefs.output_folder, prefs.output_name = saved
