"""Inside Blender (PyPI ``bpy``): the extension's Shapes operator makes animated Mask splines.

Started by tests/host/test_blender_shapes.py with:
- ``SEGMATTE_HOST_ZIP``: the built extension zip for this Blender
- ``SEGMATTE_SHAPES_DIR``: ``shapes.shapes.json`` (from ``segmatte shapes --to blender``)
  and ``mattes.npz`` (the mattes it was made from, by source frame)
- ``BLENDER_USER_RESOURCES``: a temporary Blender user folder

The Mask is rendered through the compositor (Mask → Set Alpha over white) on
every frame; the render's alpha must be the matte.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import bpy
import numpy as np
import pytest

EXT = "bl_ext.user_default.segmatte"
DATA = Path(os.environ["SEGMATTE_SHAPES_DIR"])
VERSION = bpy.app.version


@pytest.fixture(scope="module")
def ext():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.extensions.package_install_files(
        filepath=os.environ["SEGMATTE_HOST_ZIP"], repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    yield importlib.import_module(EXT)


@pytest.fixture(scope="module")
def shapes():
    return json.loads((DATA / "shapes.shapes.json").read_text())


@pytest.fixture(scope="module")
def mattes():
    with np.load(DATA / "mattes.npz") as z:
        return {int(k[1:]): z[k] for k in z.files}


@pytest.fixture
def scene(ext, shapes):
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    sc = bpy.context.scene
    sc.render.resolution_x, sc.render.resolution_y = shapes["width"], shapes["height"]
    sc.render.resolution_percentage = 100
    sc.render.image_settings.file_format = "PNG"
    sc.render.image_settings.color_mode = "RGBA"
    sc.view_settings.view_transform = "Standard"
    sc.frame_start, sc.frame_end = 1, shapes["last"] - shapes["first"] + 1
    return sc


def _compositor(scene, mask):
    """Mask → Set Alpha (over white) → the compositor's output, 4.x tree or 5.x node group."""
    if VERSION >= (5, 0, 0):
        tree = bpy.data.node_groups.new("shapes test", "CompositorNodeTree")
        scene.compositing_node_group = tree
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        out = tree.nodes.new("NodeGroupOutput").inputs[0]
    else:
        scene.use_nodes = True
        tree = scene.node_tree
        for node in list(tree.nodes):
            tree.nodes.remove(node)
        out = tree.nodes.new("CompositorNodeComposite").inputs["Image"]
    node = tree.nodes.new("CompositorNodeMask")
    node.mask = mask
    set_alpha = tree.nodes.new("CompositorNodeSetAlpha")
    if hasattr(set_alpha, "mode"):
        set_alpha.mode = "REPLACE_ALPHA"
    else:
        set_alpha.inputs["Type"].default_value = "Replace Alpha"
    set_alpha.inputs["Image"].default_value = (1.0, 1.0, 1.0, 1.0)
    tree.links.new(node.outputs[0], set_alpha.inputs["Alpha"])
    tree.links.new(set_alpha.outputs[0], out)


def _render_alpha(scene, frame: int, tmp: Path) -> np.ndarray:
    scene.frame_set(frame)
    path = str(tmp / f"shapes_{VERSION[0]}{VERSION[1]}_{frame}.png")
    scene.render.filepath = path
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(path)
    try:
        w, h = image.size
        px = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(image)
    return px.reshape(h, w, 4)[::-1, :, 3]


def test_operator_makes_one_layer_per_shape_with_every_point(ext, scene, shapes):
    assert bpy.ops.segmatte.shapes_mask(filepath=str(DATA / "shapes.shapes.json"),
                                        frame_start=1) == {"FINISHED"}
    obj = shapes["objects"][0]
    mask = bpy.data.masks[f"segmatte {obj['name']}"]
    layers = {layer.name: layer for layer in mask.layers}
    assert set(layers) == {s["id"] for s in obj["shapes"]}
    for s in obj["shapes"]:
        layer = layers[s["id"]]
        assert layer.blend == ("MERGE_SUBTRACT" if s["hole"] else "MERGE_ADD")
        assert len(layer.splines) == 1 and len(layer.splines[0].points) == s["points"]
        assert layer.splines[0].use_cyclic


def test_points_are_keyframed_in_mask_space(ext, scene, shapes):
    bpy.ops.segmatte.shapes_mask(filepath=str(DATA / "shapes.shapes.json"), frame_start=1)
    obj = shapes["objects"][0]
    mask = bpy.data.masks[f"segmatte {obj['name']}"]
    w, h = shapes["width"], shapes["height"]
    s = max(w, h)
    for frame_key, entries in obj["frames"].items():
        scene.frame_set(int(frame_key) - shapes["first"] + 1)
        for entry in entries:
            spline = mask.layers[entry["id"]].splines[0]
            for point, want in zip(spline.points, entry["points"], strict=True):
                x, y = want["co"]
                assert point.co[0] == pytest.approx(0.5 + (x - w / 2) / s, abs=1e-4)
                assert point.co[1] == pytest.approx(0.5 + (h / 2 - y) / s, abs=1e-4)


def test_rendered_mask_alpha_is_the_matte(ext, scene, shapes, mattes, tmp_path):
    bpy.ops.segmatte.shapes_mask(filepath=str(DATA / "shapes.shapes.json"), frame_start=1)
    mask = bpy.data.masks[f"segmatte {shapes['objects'][0]['name']}"]
    _compositor(scene, mask)
    for source_frame, matte in sorted(mattes.items()):
        alpha = _render_alpha(scene, source_frame - shapes["first"] + 1, tmp_path)
        assert alpha.shape == matte.shape
        a, m = alpha >= 0.5, matte >= 0.5
        iou = (a & m).sum() / max((a | m).sum(), 1)
        mad = np.abs(alpha - matte).mean()
        print(f"frame {source_frame}: IoU {iou:.4f}, mean |alpha - matte| {mad:.4f}")
        assert iou >= 0.97, f"frame {source_frame}: IoU {iou:.3f}"
        assert mad < 0.02, f"frame {source_frame}: mean |alpha - matte| {mad:.4f}"


def test_a_file_that_is_not_shapes_is_one_message(ext, scene, tmp_path):
    bad = tmp_path / "x.shapes.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(RuntimeError, match="is not a segmatte shapes file"):
        bpy.ops.segmatte.shapes_mask(filepath=str(bad))
