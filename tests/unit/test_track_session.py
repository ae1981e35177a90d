"""Interactive sessions: previews, propagation, corrections that take."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_track import tiny_model, tiny_processor

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Keyframe, ObjectPrompts, Point
from segmatte.models.track.engine_track import TrackEngine
from segmatte.models.track.session import TrackSession

W, H, FIRST, N = 80, 48, 0, 10
LAST = FIRST + N - 1


@pytest.fixture(scope="module")
def parts():
    torch.set_num_threads(1)
    return tiny_model(seed=3), tiny_processor()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(5)
    return {n: rng.random((H, W, 3)).astype(np.float32) for n in range(FIRST, LAST + 1)}


def new_session(parts, images, **opts):
    clip = ClipInfo(W, H, 24.0, FIRST, LAST)
    return TrackSession(*parts, clip, lambda n: Frame(n, images[n]), objects=["o"], options=opts)


class Plain:
    """The same prompt history through the plain transformers calls (unbounded session)."""

    def __init__(self, parts, images):
        self.model, self.processor = parts
        self.images = images
        self.session = self.processor.init_video_session(inference_device="cpu",
                                                         dtype=torch.float32)

    def px(self, n):
        return self.processor(images=self.images[n], do_rescale=False,
                              return_tensors="pt").pixel_values[0]

    def prob(self, out):
        m = self.processor.post_process_masks([out.pred_masks], original_sizes=[[H, W]],
                                              binarize=False)[0]
        return torch.sigmoid(m[0, 0]).numpy()

    @torch.inference_mode()
    def click(self, n, x, y, label=1, clear=True, reverse=False):
        self.processor.add_inputs_to_inference_session(
            self.session, frame_idx=n, obj_ids=1, input_points=[[[[float(x), float(y)]]]],
            input_labels=[[[label]]], original_size=(H, W), clear_old_inputs=clear)
        return self.prob(self.model(inference_session=self.session, frame=self.px(n),
                                    frame_idx=n, reverse=reverse))

    @torch.inference_mode()
    def run(self, frames, reverse=False):
        return {n: self.prob(self.model(inference_session=self.session, frame=self.px(n),
                                        frame_idx=n, reverse=reverse)) for n in frames}


def close(a, b):
    np.testing.assert_allclose(a, b, atol=2e-5, rtol=0)


def test_forward_correction_takes_and_repropagates_forward_only(parts, images):
    s = new_session(parts, images)
    preview = s.add_prompt(3, "o", points=[Point(x=32, y=24)])
    first = {m.number: m.layers["o"] for m in s.propagate("forward")}
    assert sorted(first) == list(range(4, LAST + 1))

    corrected = s.add_prompt(6, "o", points=[Point(x=60, y=10, label=0)])
    again = {m.number: m.layers["o"] for m in s.propagate()}
    assert sorted(again) == list(range(7, LAST + 1))  # only after the correction, forward

    # the correction changes frame 6 and the frames after it
    assert np.abs(corrected.layers["o"] - first[6]).max() > 0.05
    assert all(np.abs(again[n] - first[n]).max() > 1e-3 for n in range(7, LAST + 1))

    # ... exactly as the plain transformers calls with the same history
    plain = Plain(parts, images)
    close(plain.click(3, 32, 24), preview.layers["o"])
    ref_first = plain.run(range(4, LAST + 1))
    for n in first:
        close(first[n], ref_first[n])
    close(plain.click(6, 60, 10, label=0, clear=False), corrected.layers["o"])
    ref_again = plain.run(range(7, LAST + 1))
    for n in again:
        close(again[n], ref_again[n])


def test_correction_depends_on_the_new_prompt(parts, images):
    results = []
    for x, y in ((60, 10), (10, 40)):
        s = new_session(parts, images)
        s.add_prompt(3, "o", points=[Point(x=32, y=24)])
        list(s.propagate("forward"))
        results.append(s.add_prompt(6, "o", points=[Point(x=x, y=y, label=0)]).layers["o"])
    assert np.abs(results[0] - results[1]).max() > 0.05


def test_backward_correction_repropagates_backward_only(parts, images):
    s = new_session(parts, images)
    s.add_prompt(6, "o", points=[Point(x=40, y=20)])
    both = {m.number for m in s.propagate("both")}
    assert both == set(range(FIRST, LAST + 1)) - {6}
    s.add_prompt(3, "o", points=[Point(x=10, y=10, label=0)])
    assert [m.number for m in s.propagate()] == [2, 1, 0]


def test_as_keyframe_makes_the_correction_conditioning(parts, images):
    s = new_session(parts, images)
    s.add_prompt(2, "o", points=[Point(x=32, y=24)])
    list(s.propagate("forward"))
    s.add_prompt(4, "o", points=[Point(x=60, y=10, label=0)], as_keyframe=True)
    assert 4 - FIRST in s.tracker.cond_frames
    obj = s.tracker.session.obj_id_to_idx(1)
    assert 4 in s.tracker.session.output_dict_per_obj[obj]["cond_frame_outputs"]
    assert len(list(s.propagate())) == LAST - 4


def test_object_absent_is_empty_and_scored():
    torch.set_num_threads(1)
    parts = (tiny_model(seed=0, object_bias=-6.0), tiny_processor())
    rng = np.random.default_rng(0)
    imgs = {n: rng.random((H, W, 3)).astype(np.float32) for n in range(FIRST, FIRST + 4)}
    clip = ClipInfo(W, H, 24.0, FIRST, FIRST + 3)
    engine = TrackEngine({}, parts=parts)
    engine.open(clip, [ObjectPrompts(id="gone", keyframes=(
        Keyframe(frame=FIRST, points=(Point(x=30, y=20),)),))], fetch=lambda n: Frame(n, imgs[n]))
    mattes = list(engine.stream(Frame(n, imgs[n]) for n in range(FIRST, FIRST + 4)))
    for m in mattes:
        assert not m.layers["gone"].any()
        assert 0.0 < m.scores["gone"] < 0.5


def test_open_without_weights_says_how_to_pull(tmp_path, monkeypatch):
    from segmatte.models.engine import EngineError

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    engine = TrackEngine({"model": "sam2.1-small"})
    clip = ClipInfo(W, H, 24.0, FIRST, LAST)
    with pytest.raises(EngineError, match="segmatte models pull sam2.1-small"):
        engine.open(clip, [ObjectPrompts(id="o", keyframes=(
            Keyframe(frame=FIRST, points=(Point(x=1, y=1),)),))])


# --------------------------------------------------------- cold clicks (issue #18)


def encoder_calls(model):
    """Count the image encoder's runs (a forward hook on the real module)."""
    calls = []
    handle = model.vision_encoder.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


def test_a_prepared_click_gives_the_same_preview_without_the_encoder(parts, images):
    plain = new_session(parts, images)
    want = plain.add_prompt(5, "o", points=[Point(x=40, y=24)])
    prepared = new_session(parts, images)
    prepared.prepare(5)  # what session.open does for the host's current frame
    calls, handle = encoder_calls(parts[0])
    try:
        got = prepared.add_prompt(5, "o", points=[Point(x=40, y=24)])
    finally:
        handle.remove()
    assert calls == []  # the click ran only the prompt encoder and the mask decoder
    np.testing.assert_array_equal(got.layers["o"], want.layers["o"])
    assert got.scores == want.scores
    # and what follows is the same too: propagation from the prepared keyframe
    for a, b in zip(prepared.propagate("forward"), plain.propagate("forward"), strict=True):
        np.testing.assert_array_equal(a.layers["o"], b.layers["o"])


def test_the_feature_cache_is_a_bounded_lru(parts, images):
    s = new_session(parts, images)
    s.feature_frames = 2
    for n in (0, 1, 2):
        s.prepare(n)
    assert list(s.features) == [1, 2]
    s.prepare(1)  # used again: the most recent
    assert list(s.features) == [2, 1]
    s.add_prompt(7, "o", points=[Point(x=10, y=10)])  # a click on a new frame keeps its features
    assert list(s.features) == [1, 7]
    calls, handle = encoder_calls(parts[0])
    try:
        s.add_prompt(7, "o", points=[Point(x=12, y=10, label=0)])  # visited: no encoder
        s.add_prompt(3, "o", points=[Point(x=12, y=10)])  # not kept: the encoder runs
    finally:
        handle.remove()
    assert len(calls) == 1 and list(s.features) == [7, 3]
    s.close()
    assert not s.features


def test_a_display_size_preview(parts, images):
    s = new_session(parts, images)
    full = s.add_prompt(4, "o", points=[Point(x=40, y=24)])
    small = s.add_prompt(4, "o", points=[Point(x=40, y=24)], replace=True, size=(24, 40))
    assert small.layers["o"].shape == (24, 40) and full.layers["o"].shape == (H, W)
    assert small.scores == full.scores


def test_kept_frames_share_one_position_encoding(parts, images):
    s = new_session(parts, images)
    for n in (1, 2, 3):
        s.prepare(n)
    pos = [s.features[n]["vision_pos_embeds"] for n in (1, 2, 3)]
    assert pos[0] is pos[1] is pos[2]  # one copy, not one per frame
    assert s.features[1]["vision_feats"][0] is not s.features[2]["vision_feats"][0]
