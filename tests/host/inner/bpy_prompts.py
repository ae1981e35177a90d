"""Markers, masks and annotations → source-pixel prompts (top-left origin, y down)."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from conftest import render


def _clip(scene, media, start=3):
    clip = bpy.data.movieclips.load(media["green"])
    clip.frame_start = start
    scene.active_clip = clip
    scene.frame_current = start
    return clip


def _marker(clip, name, clip_frame, co):
    track = clip.tracking.objects.active.tracks.new(name=name, frame=clip_frame)
    marker = track.markers.find_frame(clip_frame, exact=True)
    marker.co = co
    return track


def _objects(scene):
    return {item.name: (item.positives, item.negatives, item.boxes)
            for item in scene.segmatte.objects}


def test_markers_become_points_with_signs_from_names(ext, scene, media):
    clip = _clip(scene, media, start=3)
    _marker(clip, "car", 1, (0.25, 0.75))
    _marker(clip, "-car", 1, (0.5, 0.5))
    _marker(clip, "neg_bg.001", 1, (0.9, 0.1))
    _marker(clip, "car.002", 2, (0.1, 0.1))  # another frame: not a prompt now
    _marker(clip, "car.003", 1, (1.2, 0.5))  # off screen: left out
    src = ext.sources.from_clip(clip)
    found = ext.prompts.Prompts(src.width, src.height)
    assert ext.prompts.add_markers(found, clip, src.clip_frame(scene.frame_current)) == 3
    car = found.objects["car"]
    assert car.points == [{"x": 40.0, "y": 30.0, "label": 1}, {"x": 80.0, "y": 60.0, "label": 0}]
    assert found.objects["bg"].points == [{"x": 144.0, "y": 108.0, "label": 0}]
    assert bpy.ops.segmatte.gather(target="CLIP") == {"FINISHED"}
    assert _objects(scene) == {"car": (1, 1, 0), "bg": (0, 1, 0)}
    objects = found.spec_objects(src.to_source(scene.frame_current))
    assert objects[0] == {"id": "car", "keyframes": [{"frame": 0, "points": car.points}]}


def test_names_make_objects_and_signs(ext):
    parse = ext.prompts.parse_name
    assert parse("car") == ("car", 1)
    assert parse("car.001") == ("car", 1)
    assert parse("-car") == ("car", 0)
    assert parse("neg_car.left") == ("car", 0)
    assert parse("NEG car") == ("car", 0)
    assert parse("negroni") == ("negroni", 1)
    assert parse("neg") == ("object", 0)
    assert parse("my hero!") == ("my_hero", 1)


def _square_mask(x0, y0, x1, y1, name="hero"):
    mask = bpy.data.masks.new(name="roto")
    layer = mask.layers.new(name=name)
    spline = layer.splines.new()
    spline.use_cyclic = True
    spline.points.add(3)
    for point, co in zip(spline.points, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), strict=True):
        point.handle_type = "FREE"
        point.co = co
        point.handle_left = co
        point.handle_right = co
    return mask, layer


def _render_mask(ext, scene, mask, w, h, name):
    scene.render.resolution_x, scene.render.resolution_y = w, h
    tree, output = ext.attach.compositor_tree(scene)
    node = tree.nodes.new("CompositorNodeMask")
    node.mask = mask
    tree.links.new(node.outputs[0], output)
    return render(scene, 1, name)[..., 0]


@pytest.mark.parametrize("w, h", [(160, 90), (90, 160)], ids=["wide", "tall"])
def test_mask_space_matches_what_blender_rasterises(ext, scene, w, h):
    mask, _ = _square_mask(0.3, 0.35, 0.6, 0.7)
    found = ext.prompts.Prompts(w, h)
    assert ext.prompts.add_mask(found, mask) == 1
    box = found.objects["hero"].boxes[0]
    inside = np.argwhere(_render_mask(ext, scene, mask, w, h, f"mask_{w}x{h}") > 0.5)
    (ry0, rx0), (ry1, rx1) = inside.min(axis=0), inside.max(axis=0) + 1
    assert abs(box["x0"] - rx0) <= 1.5 and abs(box["x1"] - rx1) <= 1.5
    assert abs(box["y0"] - ry0) <= 1.5 and abs(box["y1"] - ry1) <= 1.5


def test_mask_layers_are_objects_inverted_layers_negative(ext, scene):
    mask, layer = _square_mask(0.2, 0.2, 0.4, 0.4, name="hero")
    bg = mask.layers.new(name="shadow")
    bg.invert = True
    spline = bg.splines.new()
    spline.use_cyclic = True
    spline.points.add(3)
    for point, co in zip(spline.points, ((0.6, 0.3), (0.8, 0.3), (0.8, 0.5), (0.6, 0.5)),
                         strict=True):
        point.handle_type = "FREE"
        point.co = point.handle_left = point.handle_right = co
    found = ext.prompts.Prompts(160, 120)
    ext.prompts.add_mask(found, mask, use_boxes=True, use_points=True)
    hero = found.objects["hero"]
    assert len(hero.boxes) == 1 and hero.positives == 1
    x, y = hero.points[0]["x"], hero.points[0]["y"]
    b = hero.boxes[0]
    assert b["x0"] < x < b["x1"] and b["y0"] < y < b["y1"]
    shadow = found.objects["shadow"]
    assert shadow.boxes == [] and shadow.negatives == 1


def test_annotation_strokes_become_points(ext, scene, media):
    clip = _clip(scene, media, start=1)
    scene.frame_current = 3
    data_blocks = getattr(bpy.data, "annotations", None)
    data = (data_blocks if data_blocks is not None else bpy.data.grease_pencils).new("notes")
    if hasattr(clip, "annotation"):
        clip.annotation = data
    else:
        clip.grease_pencil = data
    pos = data.layers.new("car")
    frame = pos.frames.new(1)
    if not hasattr(frame.strokes, "new"):
        pytest.skip(f"Blender {bpy.app.version_string}'s Python cannot create annotation strokes "
                    "(reading them is the same code as on 4.2 and 5.2)")
    stroke = frame.strokes.new()
    stroke.points.add(10)
    for i, point in enumerate(stroke.points):
        point.co = (0.1 + 0.05 * i, 0.5, 0.0)
    neg = data.layers.new("neg_car")
    dab = neg.frames.new(2).strokes.new()
    dab.points.add(2)
    dab.points[0].co = (0.5, 0.25, 0.0)
    dab.points[1].co = (0.502, 0.25, 0.0)
    late = data.layers.new("late").frames.new(5).strokes.new()  # after the current frame
    late.points.add(1)
    found = ext.prompts.Prompts(160, 120)
    count = ext.prompts.add_annotations(found, ext.prompts.annotation_of(clip), 3)
    assert count == 6
    car = found.objects["car"]
    assert [p["label"] for p in car.points] == [1, 1, 1, 1, 1, 0]
    assert car.points[0] == {"x": 16.0, "y": 60.0, "label": 1}
    assert car.points[-1] == {"x": 80.16, "y": 90.0, "label": 0}
    assert "late" not in found.objects
