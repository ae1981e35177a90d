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
    """Hard shapes keep their points (wound counter-clockwise: point 0 stays, the rest may
    be reversed with the handles swapped, the same way on every frame)."""
    bpy.ops.segmatte.shapes_mask(filepath=str(DATA / "shapes.shapes.json"), frame_start=1)
    obj = shapes["objects"][0]
    mask = bpy.data.masks[f"segmatte {obj['name']}"]
    w, h = shapes["width"], shapes["height"]
    s = max(w, h)

    def conv(p):
        return (0.5 + (p[0] - w / 2) / s, 0.5 + (h / 2 - p[1]) / s)

    reversed_of: dict[str, bool] = {}
    for frame_key, entries in obj["frames"].items():
        scene.frame_set(int(frame_key) - shapes["first"] + 1)
        for entry in entries:
            assert all(p["feather"] == 0 for p in entry["points"])
            spline = mask.layers[entry["id"]].splines[0]
            n = len(entry["points"])
            rev = reversed_of.setdefault(entry["id"], tuple(spline.points[1].co) != pytest.approx(
                conv(entry["points"][1]["co"]), abs=1e-4))
            for j, point in enumerate(spline.points):
                want = entry["points"][(-j) % n if rev else j]
                assert tuple(point.co) == pytest.approx(conv(want["co"]), abs=1e-4)
                assert tuple(point.handle_right) == pytest.approx(
                    conv(want["left" if rev else "right"]), abs=1e-4)
                assert point.weight == 0


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


# ------------------------------------------------------------------ feather
# The feather matte (test_blender_shapes.feather_matte): an annulus whose outer
# edge and hole both ramp linearly over SOFT px, centred on the 0.5 contour,
# beside a hard disc. Measured on radial profiles (0.25 px bins) around each
# centre: where the alpha crosses 0.95, 0.5 and 0.05.


def _crossings(alpha: np.ndarray, cx: float, cy: float, r0: float, r1: float) -> dict:
    """Radii (between r0 and r1) where the mean alpha at that radius crosses 0.95/0.5/0.05."""
    yy, xx = np.mgrid[0:alpha.shape[0], 0:alpha.shape[1]] + 0.5
    d = np.hypot(xx - cx, yy - cy).ravel()
    a = alpha.ravel()
    edges = np.arange(r0, r1 + 0.25, 0.25)
    idx = np.digitize(d, edges)
    r = (edges[:-1] + edges[1:]) / 2
    prof = np.array([a[idx == i].mean() if (idx == i).any() else np.nan
                     for i in range(1, len(edges))])
    ok = np.isfinite(prof)
    r, prof = r[ok], prof[ok]
    falling = prof[0] > prof[-1]
    out = {}
    for level in (0.95, 0.5, 0.05):
        p = prof if falling else prof[::-1]
        rr = r if falling else r[::-1]
        j = int(np.argmax(p < level))  # first bin below the level, walking down the ramp
        out[level] = float(np.interp(level, [p[j], p[j - 1]], [rr[j], rr[j - 1]])) if j else float(rr[0])
    out["width"] = abs(out[0.05] - out[0.95]) / 0.9  # full width of a linear ramp
    return out


@pytest.fixture(scope="module")
def feather():
    with np.load(DATA / "feather.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture
def feather_render(ext, scene, feather, tmp_path):
    data = json.loads((DATA / "feather.shapes.json").read_text())
    masks = ext.shapes_mask.create_masks(data, frame_start=1)
    _compositor(scene, masks[0])
    return _render_alpha(scene, 1, tmp_path), data


def test_feathered_shapes_carry_the_json_feather_as_weight(ext, feather_render):
    _, data = feather_render
    obj = data["objects"][0]
    mask = bpy.data.masks[f"segmatte {obj['name']}"]
    s = max(data["width"], data["height"])
    for entry in obj["frames"][str(data["first"])]:
        spline = mask.layers[entry["id"]].splines[0]
        want = sorted(p["feather"] / s for p in entry["points"])
        got = sorted(p.weight for p in spline.points)
        assert got == pytest.approx(want, abs=1e-4)
        assert mask.layers[entry["id"]].falloff == "LINEAR"


def test_rendered_feather_band_matches_the_soft_matte(feather_render, feather):
    """The rendered soft band's width and position are the matte's.

    Tolerances: the 0.5 crossing (the contour) within 0.75 px — the fit's own
    outline error plus the rasteriser's sub-pixel placement; the band's width
    within 0.75 px of the matte's — the JSON's feather measures a linear ramp to
    ~0.3 px (server/shapes/contours.py) and Blender renders what the JSON says to
    ~0.5 px; and its 0.95 / 0.05 ends within 1 px of the matte's."""
    alpha, data = feather_render
    matte = feather["matte"]
    cx, cy, r_out, r_in = (float(v) for v in feather["annulus"])
    soft = float(feather["soft"])
    json_feather = np.mean([p["feather"] for e in data["objects"][0]["frames"][str(data["first"])]
                            for p in e["points"] if not e["hole"] and p["feather"] > 0])
    for name, r0, r1 in (("outer edge", (r_out + r_in) / 2, r_out + soft + 4),
                         ("hole", 2.0, (r_out + r_in) / 2)):
        want, got = _crossings(matte, cx, cy, r0, r1), _crossings(alpha, cx, cy, r0, r1)
        print(f"{name}: matte {want}, render {got}, JSON feather {json_feather:.2f}")
        assert abs(got[0.5] - want[0.5]) <= 0.75, f"{name}: contour {got[0.5]:.2f} vs {want[0.5]:.2f}"
        assert abs(got["width"] - want["width"]) <= 0.75, f"{name}: width {got['width']:.2f}"
        assert abs(got["width"] - json_feather) <= 1.0, f"{name}: width {got['width']:.2f} vs JSON"
        for level in (0.95, 0.05):
            assert abs(got[level] - want[level]) <= 1.0, f"{name}: {level} at {got[level]:.2f}"


def test_hard_matte_gives_a_hard_mask_edge(feather_render, feather):
    alpha, _ = feather_render
    cx, cy, r = (float(v) for v in feather["hard"])
    want, got = _crossings(feather["matte"], cx, cy, 2.0, r + 8), _crossings(alpha, cx, cy, 2.0, r + 8)
    print(f"hard disc: matte {want}, render {got}")
    assert abs(got[0.5] - want[0.5]) <= 0.5
    assert abs(got[0.05] - got[0.95]) <= 1.5, f"hard edge {got[0.95]:.2f}–{got[0.05]:.2f}"
