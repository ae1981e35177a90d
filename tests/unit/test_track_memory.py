"""The session's per-frame state stays flat with clip length."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from tiny_track import tiny_model, tiny_processor, tiny_sam2_config
from track_reference import reference_run

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Keyframe, ObjectPrompts, Point
from segmatte.models.track.engine_track import TrackEngine
from segmatte.models.track.order import plan_order
from segmatte.models.track.streaming import footprint, memory_window

W, H = 48, 32


@pytest.fixture(scope="module")
def parts():
    torch.set_num_threads(1)
    # a short memory (window 3) so 10 frames already fill it
    cfg = tiny_sam2_config(num_maskmem=3, max_object_pointers_in_encoder=4)
    return tiny_model(cfg, seed=0), tiny_processor()


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Frame(i, rng.random((H, W, 3)).astype(np.float32)) for i in range(n)]


def state_after(parts, count, order="forward", total=60):
    clip = ClipInfo(W, H, 24.0, 0, total - 1)
    objects = [ObjectPrompts(id="a", keyframes=(Keyframe(frame=0, points=(Point(x=20, y=16),)),)),
               ObjectPrompts(id="b", keyframes=(Keyframe(frame=0, points=(Point(x=5, y=5),)),))]
    engine = TrackEngine({}, parts=parts)
    clip_frames = frames(total)
    engine.open(clip, objects, fetch=lambda n: clip_frames[n])
    seq = [clip_frames[n] for n in plan_order(order, 0, total - 1, [0])]
    for _ in itertools.islice(engine.stream(seq), count):
        pass
    return footprint(engine.tracker.session)


def test_memory_window_reads_the_config(parts):
    assert memory_window(parts[0].config) == 3
    from transformers import Sam2VideoConfig

    assert memory_window(Sam2VideoConfig()) == 15  # SAM 2.1: 7 memories, 16 pointers


def test_state_is_flat_with_clip_length(parts):
    at10, at60 = state_after(parts, 10), state_after(parts, 60)
    assert at60.entries == at10.entries
    assert at60.tensor_bytes == at10.tensor_bytes
    assert at60.frames == 0 and at60.vision_features <= 1
    # bounded by the window: (2·3 + 1) non-conditioning entries around the current frame
    # and the conditioning frame's neighbourhood, per object
    assert at60.non_cond_outputs <= 2 * (2 * 3 + 1) + 2 * 3


def test_plain_session_grows(parts):
    """The same run without trimming keeps every frame: what the trimming saves."""
    model, processor = parts
    imgs = {f.number: f.image for f in frames(60)}
    prompts = [(0, 1, dict(input_points=[[[[20.0, 16.0]]]], input_labels=[[[1]]]))]
    sessions = []
    orig = processor.init_video_session

    def spy(*a, **k):
        sessions.append(orig(*a, **k))
        return sessions[-1]

    processor.init_video_session = spy
    try:
        for n in (10, 60):
            reference_run(model, processor, {i: imgs[i] for i in range(n)}, list(range(n)),
                          prompts, 0)
    finally:
        processor.init_video_session = orig
    sizes = [footprint(s) for s in sessions]
    assert sizes[1].tensor_bytes > 4 * sizes[0].tensor_bytes
    assert sizes[1].frames == 60
