"""The text engine: every instance of a text prompt, each its own tracked layer (SAM 3).

A seeded tiny ``Sam3VideoModel`` (real classes, shrunken config) is saved
where the catalog's ``sam3`` lives in a Hugging Face cache and loaded through
the engine's own loader (``Sam3Model`` + ``Sam3TrackerVideoModel`` from one
checkpoint). The engine must give what the plain transformers loop gives
(detect on the keyframe, each instance's mask into the tracker's streaming
session) for every direction, and keep its ids and layers as documented.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from text_reference import detect, text_reference_run
from tiny_text import save_to_hub, tiny_config
from track_reference import reference_run

from segmatte.models.engine import EngineError
from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Keyframe, ObjectPrompts, Point
from segmatte.models.text import loader
from segmatte.models.text.concepts import label_for, plan
from segmatte.models.text.engine_text import TextEngine
from segmatte.models.text.matching import match
from segmatte.models.track.streaming import footprint

W, H, FIRST, N = 80, 48, 100, 8
LAST = FIRST + N - 1
KEY = 102
TEXT = "red car"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    torch.set_num_threads(1)
    root = save_to_hub(tmp_path_factory.mktemp("hub"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(root))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield root


@pytest.fixture(scope="module")
def parts(hub):
    return loader.load("sam3")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:H, 0:W]
    out = {}
    for i in range(N):
        blob = np.exp(-(((xx - 20 - 3 * i) / 9.0) ** 2 + ((yy - 24) / 7.0) ** 2))
        img = 0.3 * rng.random((H, W, 3)) + 0.7 * blob[..., None] * np.array([1.0, 0.4, 0.2])
        out[FIRST + i] = img.astype(np.float32)
    return out


def concept(*frames, text=TEXT, obj="car"):
    return ObjectPrompts(id=obj, keyframes=tuple(Keyframe(frame=f, text=text) for f in frames))


def run(parts, images, objects, direction="forward", **options):
    engine = TextEngine(options, parts=parts)
    engine.open(ClipInfo(W, H, 24.0, FIRST, LAST), objects)
    order = engine.frame_order(direction, FIRST, LAST, objects)
    mattes = {m.number: m for m in engine.stream(Frame(n, images[n]) for n in order)}
    assert sorted(mattes) == list(range(FIRST, LAST + 1))
    return engine, order, mattes


def test_loader_shares_one_backbone(parts):
    assert parts.tracker.vision_encoder.backbone is parts.detector.vision_encoder.backbone


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_parity_with_the_plain_transformers_loop(parts, images, direction):
    opts = dict(detection_threshold=0.5, max_instances=4, nms_iou=1.0)
    engine, order, ours = run(parts, images, [concept(KEY)], direction, **opts)
    found, ref = text_reference_run(parts.detector, parts.detector_processor, parts.tracker,
                                    parts.tracker_processor, images, order, TEXT, KEY, FIRST,
                                    threshold=0.5, limit=4)
    assert len(found) >= 2  # the check below compares several instances
    assert set(engine.found["car"]) == {f"car_{i + 1}" for i in range(len(found))}
    checked = 0
    for n in order:
        for i in range(1, 5):
            layer = ours[n].layers[f"car_{i}"]
            if i not in ref[n]:
                assert not layer.any(), (n, i)
                continue
            prob, score = ref[n][i]
            np.testing.assert_allclose(layer, prob, atol=2e-5, rtol=0, err_msg=f"{n} car_{i}")
            assert ours[n].scores[f"car_{i}"] == pytest.approx(score, abs=1e-6)
            checked += 1
    reached = {"forward": LAST - KEY + 1, "backward": KEY - FIRST + 1, "both": N}[direction]
    assert checked == len(found) * reached
    assert any(0.05 < float(v.mean()) < 0.95 for m in ours.values() for v in m.layers.values())


def test_several_instances_several_layers_with_stable_ids(parts, images):
    # random weights: the instances' boxes overlap a lot, so no NMS here (see the next test)
    engine, _order, ours = run(parts, images, [concept(KEY)], "both", detection_threshold=0.4,
                               max_instances=6, union=True, nms_iou=1.0)
    dets = engine.detector.detect(images[KEY], TEXT, threshold=0.4, nms_iou=1.0, limit=6)
    assert len(dets) >= 3
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    names = [f"car_{i}" for i in range(1, 7)]
    assert engine.plan.layers == (*names, "car")
    assert list(engine.found["car"]) == names[:len(dets)]  # numbered by score, best first
    for m in ours.values():
        assert set(m.layers) == {*names, "car"}
        for name in names[len(dets):]:  # never found: empty, flagged by the pipeline
            assert not m.layers[name].any() and m.scores[name] == 0.0
        np.testing.assert_array_equal(m.layers["car"], np.maximum.reduce(
            [m.layers[x] for x in names]))
    # the keyframe's instances are the detections themselves (mask inputs), one per layer
    for i, d in enumerate(dets):
        got = ours[KEY].layers[names[i]] > 0.5
        assert (got == d.mask).mean() > 0.97, names[i]


def test_nms_drops_an_instance_found_twice(parts, images):
    engine = TextEngine({}, parts=parts)
    engine.open(ClipInfo(W, H, 24.0, FIRST, LAST), [concept(KEY)])
    all_ = engine.detector.detect(images[KEY], TEXT, threshold=0.4, nms_iou=1.0, limit=16)
    kept = engine.detector.detect(images[KEY], TEXT, threshold=0.4, nms_iou=0.1, limit=16)
    assert len(kept) < len(all_)
    plain = detect(parts.detector, parts.detector_processor, images[KEY], TEXT, 0.4, 16)
    assert [round(d.score, 6) for d in all_] == [round(s, 6) for s, _m in plain]


def test_text_refined_by_a_negative_point(parts, images):
    """A click on car_1 goes with car_1's detection box into the tracker, as in transformers."""
    click = Point(x=30, y=24, label=0)
    objects = [concept(KEY), ObjectPrompts(id="car_1", keyframes=(Keyframe(frame=KEY,
                                                                            points=(click,)),))]
    opts = dict(detection_threshold=0.5, max_instances=3, nms_iou=1.0)
    engine, order, ours = run(parts, images, objects, "forward", **opts)
    _e, _o, plain = run(parts, images, [concept(KEY)], "forward", **opts)
    found = detect(parts.detector, parts.detector_processor, images[KEY], TEXT, 0.5, 3)
    assert len(found) >= 2
    box = engine.detector.detect(images[KEY], TEXT, threshold=0.5, nms_iou=1.0, limit=3)[0].box
    prompts = [(KEY, i + 1, {"input_masks": m}) for i, (_s, m) in enumerate(found) if i > 0]
    prompts.append((KEY, 1, {"input_boxes": [[list(box)]], "input_points": [[[[30.0, 24.0]]]],
                             "input_labels": [[[0]]]}))
    ref = reference_run(parts.tracker, parts.tracker_processor, images, order, prompts, FIRST,
                        prime=False)
    for n in range(KEY, LAST + 1):
        for i in range(1, len(found) + 1):
            np.testing.assert_allclose(ours[n].layers[f"car_{i}"], ref[n][i][0], atol=2e-5, rtol=0)
    # the refinement changed car_1 only
    assert np.abs(ours[KEY].layers["car_1"] - plain[KEY].layers["car_1"]).max() > 0.1
    np.testing.assert_allclose(ours[LAST].layers["car_2"], plain[LAST].layers["car_2"], atol=1e-5)


def test_a_later_text_keyframe_keeps_ids_by_mask_iou(parts, images):
    later = KEY + 3
    opts = dict(detection_threshold=0.5, max_instances=6, nms_iou=1.0)
    # any overlap continues an instance: the ids found on KEY are all there is
    engine, _o, ours = run(parts, images, [concept(KEY, later)], **opts, match_iou=0.01)
    first = engine.detector.detect(images[KEY], TEXT, threshold=0.5, nms_iou=1.0, limit=6)
    again = engine.detector.detect(images[later], TEXT, threshold=0.5, nms_iou=1.0, limit=6)
    assert len(first) >= 2 and len(again) >= 1
    assert engine.found["car"] == {f"car_{i + 1}": KEY for i in range(len(first))}
    # only a perfect overlap continues one: the later detections are new instances, next ids
    engine, _o, strict = run(parts, images, [concept(KEY, later)], **opts, match_iou=1.0)
    expect = {f"car_{i + 1}": KEY for i in range(len(first))}
    expect.update({f"car_{len(first) + i + 1}": later
                   for i in range(min(len(again), 6 - len(first)))})
    assert engine.found["car"] == expect
    new = f"car_{len(first) + 1}"
    assert not strict[later - 1].layers[new].any() and strict[later].layers[new].any()
    # the instances found first are tracked the same either way
    for n in range(KEY, later):
        np.testing.assert_array_equal(strict[n].layers["car_1"], ours[n].layers["car_1"])


def test_match_is_one_to_one_by_iou():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[2:] = True
    c = a.copy()
    c[2, 0] = True
    matched, new = match([b, c, a], {"car_1": a, "car_2": b}, 0.5)
    assert matched == {0: "car_2", 2: "car_1"} and new == [1]


def test_memory_is_flat_with_clip_length(tmp_path, images):
    cfg = tiny_config(tracker_overrides=dict(num_maskmem=3, max_object_pointers_in_encoder=4))
    root = save_to_hub(tmp_path / "hub", config=cfg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(root))
        small = loader.load("sam3")
    rng = np.random.default_rng(0)
    pics = [rng.random((H, W, 3)).astype(np.float32) for _ in range(60)]

    def state(count):
        engine = TextEngine(dict(detection_threshold=0.4, max_instances=3), parts=small)
        engine.open(ClipInfo(W, H, 24.0, 0, 59), [concept(0)])
        for _m in zip(range(count), engine.stream(Frame(i, pics[i]) for i in range(60)),
                      strict=False):
            pass
        assert len(engine.found["car"]) >= 2
        return footprint(engine.tracker.session)

    at10, at60 = state(10), state(60)
    assert at60.entries == at10.entries and at60.tensor_bytes == at10.tensor_bytes
    assert at60.frames == 0 and at60.vision_features <= 1


def test_plan_names_layers_up_front_and_refuses_ambiguous_prompts():
    objs = [concept(5), ObjectPrompts(id="car_2", keyframes=(Keyframe(frame=5, points=(
        Point(x=1, y=1, label=0),)),)), ObjectPrompts(id="sign", keyframes=(Keyframe(
            frame=5, points=(Point(x=2, y=2),)),))]
    p = plan(objs, 3, union=True)
    assert p.layers == ("car_1", "car_2", "car_3", "car", "sign")
    assert p.tracked == ("car_1", "car_2", "car_3", "sign")
    assert TextEngine.plan_layers(objs, TextEngine.Options(max_instances=3)) == (
        "car_1", "car_2", "car_3", "sign")
    assert label_for("red car") == "car" and label_for("Person!") == "person"
    with pytest.raises(EngineError, match="car_1, car_2"):
        plan([ObjectPrompts(id="car", keyframes=(Keyframe(frame=5, text="car",
                                                          points=(Point(x=1, y=1),)),))], 3)
    with pytest.raises(EngineError, match="max_instances"):
        plan([concept(5), ObjectPrompts(id="car_4", keyframes=(Keyframe(frame=5, points=(
            Point(x=1, y=1),)),))], 3)
    with pytest.raises(EngineError, match="needs a text prompt"):
        plan([ObjectPrompts(id="a", keyframes=(Keyframe(frame=5, points=(Point(x=1, y=1),)),))], 3)


def test_door_errors_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(EngineError, match="segmatte models pull sam3 --accept-licence"):
        TextEngine.check_ready(TextEngine.Options(), None)
    with pytest.raises(EngineError, match="does not take text prompts"):
        TextEngine.check_ready(TextEngine.Options(), "sam2.1-tiny")
    monkeypatch.setattr(loader, "CLASSES", (*loader.CLASSES, "Sam3NotInThisVersion"))
    with pytest.raises(EngineError, match=r"transformers >= 5\.0\.0.*Sam3NotInThisVersion"):
        TextEngine.check_ready(TextEngine.Options(), None)
