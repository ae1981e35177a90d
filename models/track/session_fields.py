"""The one place that touches ``transformers``' video inference session internals.

``Sam2VideoInferenceSession`` (and the EdgeTAM / SAM 3 tracker twins) have a
public API for adding prompts and running frames, but keeping memory flat,
re-tracking from a keyframe and promoting a corrected frame to a
conditioning frame need its stores. Every such access lives here, so a
release that renames them breaks one module, and
``tests/unit/test_track_session_contract.py`` fails loudly naming the field.
``pyproject.toml`` bounds ``transformers`` below the next major version.

The stores, as of transformers 5.x:

- ``processed_frames``: frame index → pixel tensor (or None when streaming)
- ``cache._vision_features``: frame index → cached image features
- ``output_dict_per_obj[obj_idx]["cond_frame_outputs" | "non_cond_frame_outputs"]``:
  frame index → the model's stored outputs (memory features, object pointer …)
- ``frames_tracked_per_obj[obj_idx]``: frame index → ``{"reverse": bool}``;
  a prompt on a frame in here is a correction (decoded with memory), a prompt
  elsewhere starts a new conditioning frame
- ``point_inputs_per_obj`` / ``mask_inputs_per_obj``: frame index → prompts
- ``model._prepare_vision_features(session, idx, 1)``: the model's own image
  encoding of a frame, cached under ``cache._vision_features[idx]`` (an
  interactive session embeds a frame before the click, :func:`embed_frame`)
"""

from __future__ import annotations

from typing import Any

COND = "cond_frame_outputs"
NON_COND = "non_cond_frame_outputs"

#: attribute names this module relies on, checked by the contract test
FIELDS = ("processed_frames", "cache", "output_dict_per_obj", "frames_tracked_per_obj",
          "point_inputs_per_obj", "mask_inputs_per_obj", "obj_ids")


def pixel_store(session: Any) -> dict:
    return session.processed_frames if session.processed_frames is not None else {}


def vision_cache(session: Any) -> dict:
    return session.cache._vision_features


def embed_frame(model: Any, session: Any, idx: int, pixels: Any) -> dict:
    """The image features of frame ``idx``, computed as the model computes them on a click.

    Goes through the model's own ``_prepare_vision_features`` (so every family
    — SAM 2, EdgeTAM, SAM 3 tracker — encodes exactly as it would on the
    frame), then takes the entry back out of the session's cache.
    """
    cache = vision_cache(session)
    cache.pop(idx, None)
    session.add_new_frame(pixels, idx)
    try:
        model._prepare_vision_features(session, idx, 1)
    finally:
        pixel_store(session).pop(idx, None)
    return cache[idx]


def use_features(session: Any, idx: int, features: dict) -> None:
    """Make ``features`` the cached image features of frame ``idx`` (the model skips its encoder)."""
    cache = vision_cache(session)
    cache.clear()
    cache[idx] = features


def outputs(session: Any) -> dict[int, dict[str, dict[int, dict]]]:
    """obj_idx → {"cond_frame_outputs": {...}, "non_cond_frame_outputs": {...}}."""
    return session.output_dict_per_obj


def tracked(session: Any) -> dict[int, dict[int, dict]]:
    return session.frames_tracked_per_obj


def prompt_stores(session: Any) -> tuple[dict, dict]:
    return session.point_inputs_per_obj, session.mask_inputs_per_obj


def cond_frames(session: Any) -> set[int]:
    frames: set[int] = set()
    for out in outputs(session).values():
        frames.update(out[COND])
    return frames


def is_cond(session: Any, obj_idx: int, idx: int) -> bool:
    return idx in outputs(session)[obj_idx][COND]


def tracked_flags(session: Any, obj_id: int, idx: int) -> dict | None:
    """The tracking flags of an object on a frame index (None: never tracked there)."""
    if obj_id not in session.obj_ids:
        return None
    return tracked(session)[session.obj_id_to_idx(obj_id)].get(idx)


def forget_tracking(session: Any) -> None:
    """Drop every tracked (non-conditioning) frame's memory and flags; keep keyframes'.

    What is left is exactly what keyframes gave: a run that starts at a
    keyframe after this reads the same memory as one that started there fresh.
    """
    for out in outputs(session).values():
        out[NON_COND].clear()
    for flags in tracked(session).values():
        flags.clear()


def promote(session: Any, obj_idx: int, idx: int) -> bool:
    """Make a corrected frame's stored output a conditioning output (SAM 2's
    ``add_all_frames_to_correct_as_cond``): every later frame attends to it."""
    outs = outputs(session)[obj_idx]
    entry = outs[NON_COND].pop(idx, None)
    if entry is None:
        return False
    outs[COND][idx] = entry
    return True
