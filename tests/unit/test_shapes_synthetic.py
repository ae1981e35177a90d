"""Shapes from synthetic mattes of known shapes: moving discs, a rotating star, a split, a ring.

Each test checks what the issue asks of shapes: the rasterised shapes match
the thresholded matte (IoU ≥ 0.97), the point count is constant within a
segment, corresponding points move with the shape, and a static shape's
points stay put (jitter ≤ 1 px).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapegen

from segmatte.server.shapes.build import Settings, build_object
from segmatte.server.shapes.contours import trace
from segmatte.server.shapes.fit import Outline, count_for, fit
from segmatte.server.shapes.raster import fill_polygon, iou, quality, rasterise

W, H = 160, 120


def _build(mattes: dict[int, np.ndarray], **kw):
    frames = sorted(mattes)
    res = build_object("obj", frames, lambda f: mattes[f], Settings(**kw))
    return res, quality(res.shapes, res.ious, len(frames))


def _constant_counts(res) -> None:
    for seg in res.shapes.segments:
        assert len({len(sf.anchors) for sf in seg.frames.values()}) == 1, seg.name


def test_moving_disc_fits_and_points_follow_the_motion():
    mattes = {f: shapegen.discs(W, H, [(40 + 3 * f, 60, 20)]) for f in range(12)}
    res, q = _build(mattes)
    assert len(res.shapes.segments) == 1
    assert q.iou_min >= 0.97 and q.points_constant
    seg = res.shapes.segments[0]
    for f in range(1, 12):
        step = seg.frames[f].anchors - seg.frames[f - 1].anchors
        assert np.abs(step - [3.0, 0.0]).max() < 0.35  # point k moved with the disc
    assert q.jitter_px < 0.3


def test_two_discs_are_two_tracked_shapes():
    mattes = {f: shapegen.discs(W, H, [(30 + 2 * f, 40, 14), (120 - 2 * f, 85, 18)]) for f in range(8)}
    res, q = _build(mattes)
    assert {s.track for s in res.shapes.segments} == {0, 1}
    assert len(res.shapes.segments) == 2 and q.iou_min >= 0.97
    _constant_counts(res)


def test_static_disc_with_a_chattering_matte_does_not_jitter():
    rng = np.random.default_rng(1)
    base = shapegen.discs(W, H, [(80, 60, 30)], soft=3.0)
    mattes = {f: np.clip(base + rng.normal(0, 0.06, base.shape).astype(np.float32), 0, 1)
              for f in range(15)}
    res, q = _build(mattes)
    assert q.iou_min >= 0.97 and q.points_constant
    assert q.jitter_px <= 1.0
    assert q.step_px <= 1.0


def test_rotating_star_keeps_its_points_and_turns_them():
    step = 0.04  # radians per frame
    mattes = {f: shapegen.star(W, H, 80, 60, 48, 22, 5, step * f) for f in range(10)}
    res, q = _build(mattes)
    assert q.iou_min >= 0.97
    assert len(res.shapes.segments) == 1 and q.points_constant
    seg = res.shapes.segments[0]
    turns = []
    for f in range(1, 10):
        a0, a1 = seg.frames[f - 1].anchors - [80, 60], seg.frames[f].anchors - [80, 60]
        d = np.angle((a1[:, 0] + 1j * a1[:, 1]) / (a0[:, 0] + 1j * a0[:, 1]))
        turns.append(np.median(d))
    assert np.allclose(turns, step, atol=0.012)  # the points turn with the star


def test_splitting_shape_starts_new_segments_and_keeps_fitting():
    mattes = {f: shapegen.splitting(W, H, f / 11) for f in range(12)}
    res, q = _build(mattes)
    assert q.iou_min >= 0.97
    _constant_counts(res)
    before, after = res.shapes.on(0), res.shapes.on(11)
    assert len(before) == 1 and len(after) == 2
    assert all(s.index > 0 or s.first > 0 for s in after)  # new segments after the split
    assert {s.first for s in after} == {after[0].first}


def test_ring_gives_an_outer_shape_and_a_hole():
    mattes = {f: shapegen.ring(W, H, 80, 60, 45, 18) for f in range(5)}
    res, q = _build(mattes)
    holes = [s for s in res.shapes.segments if s.hole]
    assert len(holes) == 1 and len(res.shapes.segments) == 2
    drawn = rasterise([(s.hole, s.frames[2]) for s in res.shapes.on(2)], W, H)
    assert not drawn[60, 80] and drawn[60, 80 + 30]
    assert q.iou_min >= 0.97


def test_small_islands_are_dropped_by_size():
    m = shapegen.discs(W, H, [(50, 60, 25)])
    m[10:13, 140:143] = 1.0  # a 9-pixel speck
    assert len(trace(m, min_area=16)) == 1
    assert len(trace(m, min_area=4)) == 2


def test_outline_sits_on_the_matte_edge():
    m = shapegen.discs(W, H, [(70.3, 55.6, 22)])
    c = trace(m)[0]
    r = np.hypot(c.points[:, 0] - 70.3, c.points[:, 1] - 55.6)
    assert abs(r.mean() - 22) < 0.1 and r.std() < 0.15


def test_feather_is_the_soft_edge_width():
    hard = trace(shapegen.discs(W, H, [(80, 60, 30)], soft=0.0))[0]
    soft = trace(shapegen.discs(W, H, [(80, 60, 30)], soft=6.0))[0]
    assert np.median(hard.feather) < 0.5
    # A 6 px linear ramp is a 6 px feather (the sampling's own 2 px come off in quadrature).
    assert np.median(soft.feather) == pytest.approx(6.0, abs=0.6)


def test_point_count_follows_the_tolerance():
    o = trace(shapegen.star(W, H, 80, 60, 48, 22, 5, 0.0))[0]
    outline = Outline.of(o.points, o.feather)
    coarse, fine = count_for(outline, 2.0), count_for(outline, 0.25)
    assert coarse < fine
    assert fit(outline, 0.0, fine).error <= 0.25
    assert fit(outline, 0.0, coarse).error <= 2.0


def test_polygon_fill_counts_pixel_centres():
    square = np.array([[10.0, 10.0], [20.0, 10.0], [20.0, 30.0], [10.0, 30.0]])
    inside = fill_polygon(square, 40, 40)
    assert inside.sum() == 200 and inside[10, 10] and not inside[30, 10]
    assert iou(inside, inside) == 1.0
