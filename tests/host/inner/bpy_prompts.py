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


def _frames(ext, scene, clip, first, last):
    src = ext.sources.from_clip(clip)
    return src, ext.prompts.Frames(src, range(first, last + 1), scene.frame_current)


def _points(found, oid, number):
    return [p.to_dict() for p in found.objects[oid].frames[number].points]


def test_markers_become_points_with_signs_from_names(ext, scene, media):
    clip = _clip(scene, media, start=3)
    _marker(clip, "car", 1, (0.25, 0.75))
    _marker(clip, "-car", 1, (0.5, 0.5))
    _marker(clip, "neg_bg.001", 1, (0.9, 0.1))
    _marker(clip, "car.002", 2, (0.1, 0.1))  # another frame: a second keyframe
    _marker(clip, "car.003", 1, (1.2, 0.5))  # off screen: left out
    scene.frame_start, scene.frame_end = 3, 10
    src, frames = _frames(ext, scene, clip, 3, 10)
    found = ext.prompts.Prompts(src.width, src.height)
    assert ext.prompts.add_markers(found, clip, frames) == 4
    assert _points(found, "car", 0) == [{"x": 40.0, "y": 30.0, "label": 1},
                                        {"x": 80.0, "y": 60.0, "label": 0}]
    assert _points(found, "car", 1) == [{"x": 16.0, "y": 108.0, "label": 1}]
    assert _points(found, "bg", 0) == [{"x": 144.0, "y": 108.0, "label": 0}]
    assert bpy.ops.segmatte.gather(target="CLIP") == {"FINISHED"}
    assert _objects(scene) == {"car": (2, 1, 0), "bg": (0, 1, 0)}
    assert scene.segmatte.objects["car"].frames == "0, 1"
    _, early = _frames(ext, scene, clip, 3, 3)  # a range of one frame: one keyframe
    one = ext.prompts.Prompts(src.width, src.height)
    ext.prompts.add_markers(one, clip, early)
    assert sorted(one.objects["car"].frames) == [0]


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
    assert ext.prompts.add_mask(found, [(7, mask)]) == 1
    box = found.objects["hero"].frames[7].boxes[0].to_dict()
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
    ext.prompts.add_mask(found, [(0, mask)], use_boxes=True, use_points=True)
    hero = found.objects["hero"]
    assert hero.boxes == 1 and hero.positives == 1
    p, b = hero.frames[0].points[0], hero.frames[0].boxes[0]
    assert b.x0 < p.x < b.x1 and b.y0 < p.y < b.y1
    shadow = found.objects["shadow"]
    assert shadow.boxes == 0 and shadow.negatives == 1


def test_a_keyed_mask_prompts_on_each_keyed_frame(ext, scene, media):
    clip = _clip(scene, media, start=1)
    scene.frame_start, scene.frame_end, scene.frame_current = 1, 8, 1
    mask, layer = _square_mask(0.2, 0.3, 0.4, 0.5)
    points = layer.splines[0].points
    for frame, dx in ((2, 0.0), (6, 0.3)):
        for i, point in enumerate(points):
            x, y = point.co
            point.co = point.handle_left = point.handle_right = (x + dx, y)
            for attr in ("co", "handle_left", "handle_right"):
                mask.keyframe_insert(f'layers["hero"].splines[0].points[{i}].{attr}', frame=frame)
        if dx:
            for point in points:  # back for the next key
                x, y = point.co
                point.co = point.handle_left = point.handle_right = (x - dx, y)
    scene.segmatte.mask = mask
    source = ext.sources.from_clip(clip)
    with bpy.context.temp_override(scene=scene):
        found = ext.operators.gather(bpy.context, source, "CLIP", 1, 8)
    hero = found.objects["hero"]
    assert sorted(hero.frames) == [1, 5]  # scene frames 2 and 6 of a clip starting at 1
    b1, b5 = hero.frames[1].boxes[0], hero.frames[5].boxes[0]
    assert b5.x0 - b1.x0 == pytest.approx(0.3 * 160, abs=1.5)
    assert scene.frame_current == 1


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
    scene.frame_start, scene.frame_end = 1, 8
    src, frames = _frames(ext, scene, clip, 1, 8)
    found = ext.prompts.Prompts(160, 120)
    count = ext.prompts.add_annotations(found, ext.prompts.annotation_of(clip), frames)
    assert count == 7  # five along the stroke, the dab, and the later drawing on its frame
    assert _points(found, "car", 0)[0] == {"x": 16.0, "y": 60.0, "label": 1}
    assert [p["label"] for p in _points(found, "car", 0)] == [1] * 5
    assert _points(found, "car", 1) == [{"x": 80.16, "y": 90.0, "label": 0}]
    assert sorted(found.objects["late"].frames) == [4]
