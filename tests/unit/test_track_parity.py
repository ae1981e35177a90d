"""The track engine gives what transformers' own streaming loop gives.

A seeded tiny ``Sam2VideoModel`` (real classes, shrunken config) runs through
our engine (bounded session, prompt conversion, upsampling) and through the
plain, unbounded ``transformers`` loop in ``track_reference`` (tests/);
the mattes must agree to float tolerance for every prompt kind and direction.
``both`` is two legs from the first keyframe, each from a fresh session (see
``segmatte.models.track.segments``), so its yardstick is two plain loops.

Several keyframes: a keyframe starts a segment (memory of the frames before
it dropped, a correction decoded with the keyframes' memory), so the
yardstick there is the engine itself: a run that starts at a later keyframe
(re-tracking from it) must give exactly the frames a run from the start gives.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_track import (
    tiny_edgetam_config,
    tiny_model,
    tiny_processor,
    tiny_sam3_tracker_config,
)
from track_reference import reference_run

from segmatte.models.engine import EngineError
from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Box, Keyframe, ObjectPrompts, Point
from segmatte.models.track.engine_track import TrackEngine
from segmatte.models.track.order import plan_order

W, H, FIRST, N = 80, 48, 100, 10
LAST = FIRST + N - 1


@pytest.fixture(scope="module")
def parts():
    torch.set_num_threads(1)
    return tiny_model(seed=0), tiny_processor()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    # a smooth moving blob over noise, so frames differ and masks have structure
    yy, xx = np.mgrid[0:H, 0:W]
    out = {}
    for i in range(N):
        blob = np.exp(-(((xx - 20 - 3 * i) / 9.0) ** 2 + ((yy - 24) / 7.0) ** 2))
        img = 0.3 * rng.random((H, W, 3)) + 0.7 * blob[..., None] * np.array([1.0, 0.4, 0.2])
        out[FIRST + i] = img.astype(np.float32)
    return out


def run_engine(parts, images, objects, order=None, *, direction="forward", todo=None,
               **options):
    """The engine as the pipeline drives it: planned passes, prime frames then frames.

    ``order`` instead feeds those frames as they come (no plan) in ``direction``.
    """
    clip = ClipInfo(W, H, 24.0, FIRST, LAST)
    engine = TrackEngine(options, parts=parts)
    if order is None:
        todo = set(range(FIRST, LAST + 1)) if todo is None else set(todo)
        passes = TrackEngine.plan_passes(direction, FIRST, LAST, objects, todo)
        reads = [n for p in passes for n in (*p.prime, *p.frames)]
        expected = [n for p in passes for n in p.frames]
        engine.schedule(direction, passes)
    else:
        reads = expected = list(order)
        engine.schedule(direction, None)
    engine.open(clip, objects)
    mattes = list(engine.stream(Frame(n, images[n]) for n in reads))
    engine.close()
    assert [m.number for m in mattes] == expected
    return {m.number: m for m in mattes}


def reference_legs(parts, images, direction, prompts, key):
    """transformers' plain loop per leg: ``both`` is back from the keyframe, then on from it."""
    if direction != "both":
        return reference_run(*parts, images, plan_order(direction, FIRST, LAST, [key]), prompts,
                             FIRST)
    back = reference_run(*parts, images, list(range(key, FIRST - 1, -1)), prompts, FIRST)
    on = reference_run(*parts, images, list(range(key, LAST + 1)), prompts, FIRST)
    return {**on, **back}


def assert_parity(ours, ref, ids):
    checked = 0
    for n, m in ours.items():
        for layer, oid in ids.items():
            if oid not in ref[n]:
                assert not m.layers[layer].any(), f"frame {n} {layer}: expected empty"
                continue
            prob, score = ref[n][oid]
            np.testing.assert_allclose(m.layers[layer], prob, atol=2e-5, rtol=0,
                                       err_msg=f"frame {n} layer {layer}")
            assert m.scores[layer] == pytest.approx(score, abs=1e-6)
            checked += 1
    assert checked > 0
    # the check means something: masks have both object and background
    assert any(0.05 < float(v.mean()) < 0.95 for m in ours.values() for v in m.layers.values())


def pts(*p, label=1):
    return tuple(Point(x=x, y=y, label=label) for x, y in p)


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_points_all_directions(parts, images, direction):
    kf = 104
    objects = [ObjectPrompts(id="blob", keyframes=(
        Keyframe(frame=kf, points=pts((32, 24)) + pts((70, 40), label=0)),))]
    ours = run_engine(parts, images, objects, direction=direction)
    ref = reference_legs(parts, images, direction,
                         [(kf, 1, dict(input_points=[[[[32.0, 24.0], [70.0, 40.0]]]],
                                       input_labels=[[[1, 0]]]))], kf)
    assert_parity(ours, ref, {"blob": 1})
    if direction == "forward":
        assert not ours[FIRST].layers["blob"].any()  # before the keyframe: nothing to track
    if direction == "backward":
        assert not ours[LAST].layers["blob"].any()


@pytest.mark.parametrize("direction", ["forward", "both"])
def test_edgetam_points(images, direction):
    parts = (tiny_model(tiny_edgetam_config(), seed=2), tiny_processor())
    kf = 104
    objects = [ObjectPrompts(id="e", keyframes=(Keyframe(frame=kf, points=pts((32, 24))),)),
               ObjectPrompts(id="f", keyframes=(Keyframe(frame=kf, boxes=(Box(x0=40, y0=5, x1=70, y1=40),)),))]
    ours = run_engine(parts, images, objects, direction=direction)
    ref = reference_legs(parts, images, direction,
                         [(kf, 1, dict(input_points=[[[[32.0, 24.0]]]], input_labels=[[[1]]])),
                          (kf, 2, dict(input_boxes=[[[40.0, 5.0, 70.0, 40.0]]]))], kf)
    assert_parity(ours, ref, {"e": 1, "f": 2})


def _assert_same(a, b, frames):
    for n in frames:
        assert set(a[n].layers) == set(b[n].layers)
        for layer in a[n].layers:
            np.testing.assert_array_equal(a[n].layers[layer], b[n].layers[layer],
                                          err_msg=f"frame {n} {layer}")
            assert a[n].scores[layer] == b[n].scores[layer]


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_sam3_tracker_several_keyframes_retrack_equals_full_run(images, direction):
    """SAM 3 tracker, fewer conditioning frames attended than keyframes: a run from any
    later segment gives exactly what the run from the start gave, and the first segment
    is transformers' own loop."""
    cfg = tiny_sam3_tracker_config(max_cond_frame_num=1)
    parts = (tiny_model(cfg, seed=4), tiny_processor(112, "sam3_tracker_video"))
    objects = [ObjectPrompts(id="s", keyframes=(Keyframe(frame=102, points=pts((32, 24))),
                                                Keyframe(frame=105, points=pts((45, 24))))),
               ObjectPrompts(id="t", keyframes=(Keyframe(frame=104, points=pts((70, 10))),))]
    full = run_engine(parts, images, objects, direction=direction)
    keys = [102, 104, 105] if direction != "backward" else [105, 104, 102]
    tail = {"forward": range(105, LAST + 1), "backward": range(FIRST, 103),
            "both": range(104, LAST + 1)}[direction]
    again = run_engine(parts, images, objects, direction=direction, todo=set(tail))
    _assert_same(full, again, tail)
    # and the frames of a correction differ from the frames without it: it did something
    without = [ObjectPrompts(id="s", keyframes=objects[0].keyframes[:1] if direction != "backward"
                             else objects[0].keyframes[1:]), objects[1]]
    plain = run_engine(parts, images, without, direction=direction)
    first_segment = {"forward": range(102, 104), "backward": range(105, LAST + 1),
                     "both": range(FIRST, 103)}[direction]
    _assert_same(full, plain, first_segment)
    later = {"forward": 106, "backward": 101, "both": 106}[direction]
    assert not np.array_equal(full[later].layers["s"], plain[later].layers["s"])
    del keys


def test_box_backward(parts, images):
    kf = 107
    objects = [ObjectPrompts(id="b", keyframes=(Keyframe(frame=kf, boxes=(Box(x0=30, y0=12, x1=55, y1=38),)),))]
    ours = run_engine(parts, images, objects, direction="backward")
    ref = reference_legs(parts, images, "backward",
                         [(kf, 1, dict(input_boxes=[[[30.0, 12.0, 55.0, 38.0]]]))], kf)
    assert_parity(ours, ref, {"b": 1})


def test_mask_both(parts, images, tmp_path):
    kf = 103
    mask = np.zeros((H, W), np.uint8)
    mask[14:34, 20:45] = 255
    path = tmp_path / "m.png"
    Image.fromarray(mask).save(path)
    objects = [ObjectPrompts(id="m", keyframes=(Keyframe(frame=kf, mask=str(path)),))]
    ours = run_engine(parts, images, objects, direction="both")
    ref = reference_legs(parts, images, "both", [(kf, 1, dict(input_masks=mask >= 128))], kf)
    assert_parity(ours, ref, {"m": 1})


def test_several_objects_several_keyframes_both(parts, images):
    objects = [
        ObjectPrompts(id="left", keyframes=(Keyframe(frame=102, points=pts((25, 24))),
                                            Keyframe(frame=106, points=pts((40, 22))))),
        ObjectPrompts(id="box", keyframes=(
            Keyframe(frame=104, boxes=(Box(x0=50, y0=5, x1=78, y1=30),), points=pts((60, 20))),)),
    ]
    ours = run_engine(parts, images, objects, direction="both")
    # the backward leg (102 down to the start) is transformers' loop with the first keyframe
    ref = reference_legs(parts, images, "both",
                         [(102, 1, dict(input_points=[[[[25.0, 24.0]]]], input_labels=[[[1]]]))], 102)
    assert_parity({n: ours[n] for n in range(FIRST, 103)}, ref, {"left": 1})
    assert not ours[FIRST].layers["box"].any()  # "box" starts at 104, forward only
    assert ours[105].layers["box"].any()
    for todo in (range(104, LAST + 1), range(106, 108), [109]):
        _assert_same(ours, run_engine(parts, images, objects, direction="both", todo=set(todo)),
                     todo)
    assert set(ours[FIRST].layers) == {"left", "box"}


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_frames_as_they_come_match_plain_streaming_loop(parts, images, direction):
    kf = 103 if direction == "forward" else 106
    objects = [ObjectPrompts(id="o", keyframes=(Keyframe(frame=kf, points=pts((30, 24))),))]
    order = plan_order(direction, FIRST, LAST, [kf])
    ours = run_engine(parts, images, objects, order, direction=direction)
    ref = reference_run(*parts, images, order,
                        [(kf, 1, dict(input_points=[[[[30.0, 24.0]]]], input_labels=[[[1]]]))],
                        FIRST, prime=False)
    assert_parity(ours, ref, {"o": 1})


def test_pixels_are_the_processors(parts, images):
    """What we feed the model is the processor's resize + normalisation, stretched to the square."""
    model, processor = parts
    engine = TrackEngine({}, parts=parts)
    clip = ClipInfo(W, H, 24.0, FIRST, LAST)
    engine.open(clip, [ObjectPrompts(id="o", keyframes=(Keyframe(frame=FIRST, points=pts((1, 1))),))])
    img = images[FIRST]
    ours = engine.tracker.pixels(Frame(FIRST, img))
    assert ours.shape == (3, 64, 64)  # the whole frame stretched to the square (no padding)
    theirs = processor(images=img, do_rescale=False, return_tensors="pt").pixel_values[0]
    torch.testing.assert_close(ours, theirs, atol=0, rtol=0)
    # spelled out: antialiased bilinear resize, then ImageNet mean/std
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    x = torch.nn.functional.interpolate(x, (64, 64), mode="bilinear", align_corners=False,
                                        antialias=True)[0]
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    torch.testing.assert_close(ours, (x - mean) / std, atol=1e-6, rtol=0)
    # an 8-bit frame through the processor differs only by its 8-bit rounding after the resize
    u8 = (img * 255).round().astype(np.uint8)
    ours8 = engine.tracker.pixels(Frame(FIRST, u8.astype(np.float32) / 255.0))
    theirs8 = processor(images=u8, return_tensors="pt").pixel_values[0]
    torch.testing.assert_close(ours8, theirs8, atol=1 / 255 / 0.224 + 1e-4, rtol=0)


def test_bicubic_upsample_close_to_bilinear_and_smooth(parts, images):
    kf = 104
    objects = [ObjectPrompts(id="o", keyframes=(Keyframe(frame=kf, points=pts((32, 24))),))]
    order = [104, 105, 106]
    a = run_engine(parts, images, objects, todo=order, upsample="bicubic")
    b = run_engine(parts, images, objects, todo=order, upsample="bilinear")
    for n in order:
        pa, pb = a[n].layers["o"], b[n].layers["o"]
        assert np.mean((pa >= 0.5) == (pb >= 0.5)) > 0.9  # random weights: busy masks
        assert np.abs(pa - pb).mean() < 0.05
        # soft edges: many distinct values, not a 16x16 staircase of 256 levels
        assert len(np.unique(np.round(pb, 4))) > 300


def test_threshold_gives_binary(parts, images):
    objects = [ObjectPrompts(id="o", keyframes=(Keyframe(frame=104, points=pts((32, 24))),))]
    m = run_engine(parts, images, objects, todo=[104, 105], mask_threshold=0.5)
    assert set(np.unique(m[105].layers["o"])) <= {0.0, 1.0}


def test_bad_prompts_fail_at_the_door(parts):
    clip = ClipInfo(W, H, 24.0, FIRST, LAST)
    bad = [
        [ObjectPrompts(id="o", keyframes=(Keyframe(frame=FIRST, text="a car"),))],
        [ObjectPrompts(id="o", keyframes=(Keyframe(frame=FIRST, points=pts((500, 1))),))],
        [ObjectPrompts(id="o", keyframes=(Keyframe(frame=999, points=pts((1, 1))),))],
        [ObjectPrompts(id="o", keyframes=(Keyframe(frame=FIRST, boxes=(
            Box(x0=1, y0=1, x1=5, y1=5), Box(x0=6, y0=6, x1=9, y1=9))),))],
        [],
    ]
    for objects in bad:
        with pytest.raises(EngineError):
            TrackEngine({}, parts=parts).open(clip, objects)
