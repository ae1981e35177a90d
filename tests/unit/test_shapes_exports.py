"""The files segmatte shapes writes: JSON (schema), SVG, Nuke .nk, Fusion .setting.

The host files are parsed with the small parsers in tests/hostfiles.py
(Fusion's Lua-table syntax, Nuke's TCL nesting) and must hold every point of
every frame where the shapes put them, in each host's coordinates.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import shapegen
from hostfiles import Typed, nuke_float, parse_lua_table, parse_tcl

from segmatte.server.shapes.build import Settings, build_object
from segmatte.server.shapes.export_fusion import setting_text, tool_name
from segmatte.server.shapes.export_json import to_json
from segmatte.server.shapes.export_nuke import hexf, write_nuke
from segmatte.server.shapes.export_svg import frame_svg
from segmatte.server.shapes.model import ShapeSet
from segmatte.server.shapes.raster import quality

W, H = 160, 120
FIRST, LAST = 1001, 1006


@pytest.fixture(scope="module")
def shapes() -> ShapeSet:
    """A disc that appears late and moves, beside a ring (an outer shape and a hole)."""
    objs, qual = [], {}
    mattes = {f: np.maximum(shapegen.ring(W, H, 110, 60, 35, 14),
                            shapegen.discs(W, H, [(30 + 2 * (f - FIRST), 40, 16)]) if f > FIRST + 1
                            else 0 * shapegen.ring(W, H, 1, 1, 1, 0))
              for f in range(FIRST, LAST + 1)}
    res = build_object("hero", sorted(mattes), lambda f: mattes[f], Settings())
    objs.append(res.shapes)
    qual["hero"] = quality(res.shapes, res.ious, len(mattes))
    return ShapeSet(W, H, FIRST, LAST, objs, Settings().to_json(), qual, "synthetic")


def test_the_fixture_has_a_late_shape_and_a_hole(shapes):
    segs = shapes.objects[0].segments
    assert any(s.hole for s in segs) and any(s.first > FIRST for s in segs)


def test_json_holds_every_point_and_the_schema_fields(shapes):
    data = json.loads(json.dumps(to_json(shapes)))
    assert data["format"] == "segmatte.shapes" and data["version"] == 1
    assert (data["width"], data["height"], data["first"], data["last"]) == (W, H, FIRST, LAST)
    obj = data["objects"][0]
    assert obj["name"] == "hero" and obj["quality"]["points_constant"] is True
    declared = {s["id"]: s for s in obj["shapes"]}
    for seg in shapes.objects[0].segments:
        for f, sf in seg.frames.items():
            entry = next(e for e in obj["frames"][str(f)] if e["id"] == seg.name)
            assert entry["closed"] is True and entry["hole"] == seg.hole
            assert len(entry["points"]) == declared[seg.name]["points"] == len(sf.anchors)
            got = np.array([p["co"] for p in entry["points"]])
            assert np.abs(got - sf.anchors).max() < 1e-3
            assert {"co", "left", "right", "feather"} <= set(entry["points"][0])
    assert str(FIRST) in obj["frames"] and len(obj["frames"][str(FIRST)]) == 2  # ring + hole


def test_svg_is_xml_with_one_subpath_per_shape(shapes):
    root = ET.fromstring(frame_svg(shapes, LAST))
    ns = "{http://www.w3.org/2000/svg}"
    paths = root.findall(f"{ns}path")
    assert len(paths) == 1 and paths[0].get("fill-rule") == "evenodd"
    d = paths[0].get("d")
    on = shapes.objects[0].on(LAST)
    assert d.count("M") == len(on) == 3
    assert d.count("C") == sum(len(s.frames[LAST].anchors) for s in on)


def _curvegroups(tree):
    if isinstance(tree, list):
        if tree and tree[0] == "curvegroup":
            yield tree
        for item in tree:
            yield from _curvegroups(item)


def _values(item) -> list[float]:
    if isinstance(item, list):
        assert item[0] == "a"
        return [nuke_float(v) for v in item[1:]]
    return [nuke_float(item)]


def test_nuke_script_parses_and_holds_the_points(shapes, tmp_path):
    path = write_nuke(shapes, tmp_path / "s.nk")[0]
    tree = parse_tcl(path.read_text())
    assert tree[0] == "Roto"
    body = tree[1]
    assert body[body.index("name") + 1] == "segmatte_hero"
    groups = {g[1]: g for g in _curvegroups(body[body.index("curves") + 1])}
    segs = shapes.objects[0].segments
    assert len(groups) == len(segs)
    for seg in segs:
        name = f"hero_{seg.name}".replace(".", "_") + ("_hole" if seg.hole else "")
        group = groups[name]
        main, feather = group[4]
        assert main[0] == "cc" and feather[0] == "cc"
        px = main[2]
        keys = [w for w in px[1:] if isinstance(w, str)]
        assert [nuke_float(k) for k in keys] == sorted(seg.frames)
        triples = [w for w in px[1:] if isinstance(w, list)]
        assert len(triples) == 3 * seg.points
        frames = sorted(seg.frames)
        for k in range(seg.points):
            vx, vy = (_values(v) for v in triples[3 * k + 1])
            for i, f in enumerate(frames):
                x, y = seg.frames[f].anchors[k]
                assert vx[i] == pytest.approx(x, abs=1e-3) and vy[i] == pytest.approx(H - y, abs=1e-3)
        attrs = group[6]
        assert attrs[0] == "a"
        assert nuke_float(attrs[attrs.index("ltn") + 1]) == seg.first


def test_nuke_hex_floats():
    assert hexf(100) == "x42c80000" and hexf(0) == "0" and nuke_float(hexf(-2.5)) == -2.5


def test_fusion_setting_parses_and_holds_the_points(shapes):
    data = parse_lua_table(setting_text(shapes))
    tools = data["Tools"]
    assert isinstance(tools, Typed) and tools.type == "ordered"
    obj = shapes.objects[0]
    masks = {k: v for k, v in tools.items() if v.type == "PolylineMask"}
    assert len(masks) == len(obj.segments)
    assert data["ActiveTool"] in masks
    for seg in obj.segments:
        tool = masks[tool_name(obj, seg)]
        inputs = tool["Inputs"]
        assert inputs["MaskWidth"]["Value"] == W and inputs["MaskHeight"]["Value"] == H
        if seg.hole:
            assert inputs["PaintMode"]["Value"][1] == "Subtract"
        spline = tools[inputs["Polyline"]["SourceOp"]]
        assert spline.type == "BezierSpline"
        keys = spline["KeyFrames"]
        assert sorted(keys) == sorted(seg.frames)
        for f, key in keys.items():
            poly = key["Value"]
            assert poly.type == "Polyline" and poly["Closed"] is True
            pts = [poly["Points"][i + 1] for i in range(len(poly["Points"]))]
            assert len(pts) == seg.points
            got = np.array([[p["X"] * W + W / 2, H / 2 - p["Y"] * W] for p in pts])
            assert np.abs(got - seg.frames[f].anchors).max() < 1e-3
            right = np.array([[p["RX"], -p["RY"]] for p in pts]) * W
            want = seg.frames[f].right - seg.frames[f].anchors
            assert np.abs(right - want).max() < 1e-3
        if seg.first > FIRST:  # hidden before it appears
            level = tools[inputs["Level"]["SourceOp"]]["KeyFrames"]
            assert level[seg.first - 1][1] == 0 and level[seg.first][1] == 1


def test_parsers_refuse_broken_files():
    with pytest.raises(ValueError):
        parse_tcl("Roto { curves {{ }")
    with pytest.raises(ValueError):
        parse_lua_table("{ Tools = ordered() { A = Input { Value = 1, }, }")


@pytest.fixture(scope="module")
def soft_disc() -> ShapeSet:
    """A still disc of radius 30 whose edge is a 6 px linear ramp."""
    mattes = {f: shapegen.discs(W, H, [(80, 60, 30)], soft=6.0) for f in (FIRST, FIRST + 1)}
    res = build_object("soft", sorted(mattes), lambda f: mattes[f], Settings())
    return ShapeSet(W, H, FIRST, FIRST + 1, [res.shapes], Settings().to_json(),
                    {"soft": quality(res.shapes, res.ious, 2)}, "synthetic")


def _radii(points: np.ndarray) -> float:
    return float(np.hypot(points[:, 0] - 80, points[:, 1] - 60).mean())


def test_fusion_feather_straddles_the_contour(soft_disc):
    """Main polyline half the feather inside the matte's 0.5 level, the outer one half outside."""
    data = parse_lua_table(setting_text(soft_disc))
    tools = data["Tools"]
    seg = soft_disc.objects[0].segments[0]
    feather = float(np.mean(seg.frames[FIRST].feather))
    assert feather == pytest.approx(6.0, abs=0.6)
    tool = tools[tool_name(soft_disc.objects[0], seg)]
    radius = {}
    for key in ("Polyline", "Polyline2"):
        poly = tools[tool["Inputs"][key]["SourceOp"]]["KeyFrames"][FIRST]["Value"]
        pts = [poly["Points"][i + 1] for i in range(len(poly["Points"]))]
        radius[key] = _radii(np.array([[p["X"] * W + W / 2, H / 2 - p["Y"] * W] for p in pts]))
    assert radius["Polyline"] == pytest.approx(30 - feather / 2, abs=0.4)
    assert radius["Polyline2"] == pytest.approx(30 + feather / 2, abs=0.4)


def test_nuke_feather_straddles_the_contour(soft_disc, tmp_path):
    tree = parse_tcl(write_nuke(soft_disc, tmp_path / "s.nk")[0].read_text())
    body = tree[1]
    group = next(_curvegroups(body[body.index("curves") + 1]))
    main, feather = group[4]
    seg = soft_disc.objects[0].segments[0]
    mains = [w for w in main[2][1:] if isinstance(w, list)]
    offs = [w for w in feather[2][1:] if isinstance(w, list)]
    vert = np.array([[_values(v)[0] for v in mains[3 * k + 1]] for k in range(seg.points)])
    off = np.array([[_values(v)[0] for v in offs[3 * k + 1]] for k in range(seg.points)])
    inner = np.stack([vert[:, 0], H - vert[:, 1]], 1)
    outer = np.stack([vert[:, 0] + off[:, 0], H - (vert[:, 1] + off[:, 1])], 1)
    f = float(np.mean(seg.frames[FIRST].feather))
    assert _radii(inner) == pytest.approx(30 - f / 2, abs=0.4)
    assert _radii(outer) == pytest.approx(30 + f / 2, abs=0.4)
