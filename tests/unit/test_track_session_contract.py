"""transformers' video inference session still has the fields we rely on.

``segmatte.models.track.session_fields`` is the only module that touches the
session's internals (memory stores, tracking flags). When a transformers
release renames or reshapes one of them, this test fails naming the field and
the model family, before a user meets a wrong matte.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_track import (
    tiny_edgetam_config,
    tiny_model,
    tiny_processor,
    tiny_sam2_config,
    tiny_sam3_tracker_config,
)

from segmatte.models.track import session_fields as F

FAMILIES = {
    "sam2_video": (tiny_sam2_config, 64),
    "edgetam_video": (tiny_edgetam_config, 64),
    "sam3_tracker_video": (tiny_sam3_tracker_config, 112),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_session_fields_exist_and_behave(family):
    make, size = FAMILIES[family]
    model = tiny_model(make(), seed=0)
    processor = tiny_processor(size, family)
    session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
    for name in F.FIELDS:
        assert hasattr(session, name), f"{type(session).__name__} lost the field {name!r}"
    assert isinstance(F.vision_cache(session), dict), "cache._vision_features is not a dict"
    image = np.random.default_rng(0).random((48, 80, 3)).astype(np.float32)

    def pixels():
        return processor(images=image, do_rescale=False, return_tensors="pt").pixel_values[0]

    with torch.inference_mode():
        processor.add_inputs_to_inference_session(
            session, frame_idx=0, obj_ids=1, input_points=[[[[30.0, 20.0]]]],
            input_labels=[[[1]]], original_size=(48, 80))
        model(inference_session=session, frame=pixels(), frame_idx=0)
        for idx in (1, 2):
            model(inference_session=session, frame=pixels(), frame_idx=idx)
    outs = F.outputs(session)
    assert set(outs[0]) >= {F.COND, F.NON_COND}, "output_dict_per_obj lost its two stores"
    assert F.cond_frames(session) == {0}
    assert set(outs[0][F.NON_COND]) == {1, 2}
    entry = outs[0][F.NON_COND][2]
    for key in ("maskmem_features", "object_pointer", "object_score_logits"):
        assert key in entry, f"a stored output lost {key!r}"
    assert F.tracked_flags(session, 1, 2) == {"reverse": False}
    assert F.promote(session, 0, 2) and F.is_cond(session, 0, 2)
    F.forget_tracking(session)
    assert not outs[0][F.NON_COND] and not F.tracked(session)[0]
    assert F.cond_frames(session) == {0, 2}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_frame_embedded_ahead_gives_the_same_call(family):
    """``embed_frame`` + ``use_features`` (a click after session open) equal a plain call."""
    make, size = FAMILIES[family]
    model = tiny_model(make(), seed=0)
    processor = tiny_processor(size, family)
    image = np.random.default_rng(1).random((48, 80, 3)).astype(np.float32)
    pixels = processor(images=image, do_rescale=False, return_tensors="pt").pixel_values[0]
    masks = []
    for ahead in (False, True):
        session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
        with torch.inference_mode():
            if ahead:
                features = F.embed_frame(model, session, 3, pixels)
                assert not F.pixel_store(session), "embedding left the frame's pixels behind"
                F.vision_cache(session).clear()
                F.use_features(session, 3, features)
            processor.add_inputs_to_inference_session(
                session, frame_idx=3, obj_ids=1, input_points=[[[[30.0, 20.0]]]],
                input_labels=[[[1]]], original_size=(48, 80))
            out = model(inference_session=session, frame=None if ahead else pixels, frame_idx=3)
        masks.append(out.pred_masks.clone())
    torch.testing.assert_close(masks[1], masks[0], rtol=0, atol=0)
