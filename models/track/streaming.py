"""Keep a ``transformers`` video inference session bounded while frames stream through.

What ``Sam2VideoInferenceSession`` (and the EdgeTAM / SAM 3 tracker twins)
keeps, and what the model reads back from it:

=============================  ==========================================  ===========================
state (per frame unless said)  read back by the model                      kept here
=============================  ==========================================  ===========================
``processed_frames[i]``        ``get_frame(i)`` when features of frame i   only the frame in flight
 (3×S×S pixels, 12.6 MB at     are not cached (i.e. on the frame itself)   (dropped after ``step``)
 1024² f32)
``cache._vision_features``     the frame being processed                   bounded by transformers
                                                                           (``max_vision_features_
                                                                           cache_size``, 1)
``non_cond_frame_outputs[i]``  ``maskmem_features``/``maskmem_pos_enc``    frames within ``window``
 pred_masks, high_res_masks    of the ``num_maskmem - 1`` previous frames  of the current frame or
 (S×S logits, 4 MB/object at   in travel order; ``object_pointer`` of      of any conditioning
 1024²), object_pointer,       ``max_object_pointers_in_encoder - 1``      frame; ``pred_masks`` and
 object_score_logits,          previous frames. ``pred_masks`` /           ``high_res_masks`` dropped
 maskmem_features (bf16),      ``high_res_masks`` are never read back      at once
 maskmem_pos_enc
``cond_frame_outputs[k]``      all of them, every frame (memory            all, minus
 (prompted frames)             attention uses every conditioning frame     ``high_res_masks``
                               when ``max_cond_frame_num == -1``);
                               ``pred_masks`` when k is revisited
``frames_tracked_per_obj[i]``  only when a prompt is added on frame i      same window as outputs
 (a small dict)                (correction with memory vs. a new           (kept whole in
                               conditioning frame)                         interactive sessions)
``maskmem_pos_enc``            a sine position encoding: identical for     shared: one tensor for
                               every frame of the same shape               every entry
=============================  ==========================================  ===========================

The window is ``max(num_maskmem, max_object_pointers_in_encoder) - 1`` frames
(15 for SAM 2.1) on *both* sides of the current frame, plus the same on both
sides of each conditioning frame: a run that starts next to a keyframe (the
frame order :func:`~segmatte.models.track.order.plan_order` gives, including
``both``) reads exactly what an unbounded session would have, so results are
identical to ``transformers``' own loop while memory is bounded by
``(2·window + 1) · (1 + keyframes)`` small entries whatever the clip length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import session_fields as F

#: outputs the model never reads back from a stored entry (see the table above)
DROP_KEYS_NON_COND = ("pred_masks", "high_res_masks")
DROP_KEYS_COND = ("high_res_masks",)


def memory_window(config: Any) -> int:
    """How many frames back (in travel order) the model reads stored outputs from."""
    num_maskmem = int(getattr(config, "num_maskmem", 7))
    max_ptr = int(getattr(config, "max_object_pointers_in_encoder", 16))
    return max(num_maskmem, max_ptr) - 1


class SessionTrimmer:
    """Evicts what a streaming session no longer needs after each frame.

    ``keep_tracked`` keeps the per-frame ``frames_tracked_per_obj`` flags
    (a few hundred bytes per frame) so an interactive session can tell a
    correction on an already tracked frame from a new keyframe.
    """

    def __init__(self, window: int, *, keep_tracked: bool = False,
                 keep_outputs_everywhere: bool = False) -> None:
        self.window = window
        self.keep_tracked = keep_tracked
        self.keep_outputs_everywhere = keep_outputs_everywhere
        self._pos_enc: dict[tuple, torch.Tensor] = {}

    def cond_frames(self, session: Any) -> set[int]:
        return F.cond_frames(session)

    def _keep(self, i: int, current: int, cond: set[int]) -> bool:
        w = self.window
        return abs(i - current) <= w or any(abs(i - k) <= w for k in cond)

    def _share_pos_enc(self, entry: dict) -> None:
        pe = entry.get("maskmem_pos_enc")
        if not isinstance(pe, torch.Tensor):
            return
        key = (tuple(pe.shape), pe.dtype, pe.device)
        shared = self._pos_enc.get(key)
        if shared is None:
            self._pos_enc[key] = pe
        elif pe is not shared and torch.equal(pe, shared):
            entry["maskmem_pos_enc"] = shared

    def trim(self, session: Any, current: int) -> None:
        """Evict after frame ``current`` was processed and its outputs taken."""
        pixels = F.pixel_store(session)
        for i in [i for i in pixels if i != current]:
            del pixels[i]
        cond = self.cond_frames(session)
        for obj_idx, out in F.outputs(session).items():
            for entry in out[F.COND].values():
                for key in DROP_KEYS_COND:
                    entry.pop(key, None)
                self._share_pos_enc(entry)
            non_cond = out[F.NON_COND]
            for i in list(non_cond):
                if not self.keep_outputs_everywhere and not self._keep(i, current, cond):
                    del non_cond[i]
                    continue
                entry = non_cond[i]
                for key in DROP_KEYS_NON_COND:
                    entry.pop(key, None)
                self._share_pos_enc(entry)
            if not self.keep_tracked:
                tracked = F.tracked(session).get(obj_idx, {})
                for i in [i for i in tracked if not self._keep(i, current, cond)]:
                    del tracked[i]

    def drop_pixels(self, session: Any) -> None:
        """Drop every stored frame (between calls, nothing needs pixels)."""
        F.pixel_store(session).clear()


@dataclass(frozen=True)
class Footprint:
    """What a session holds: entries per store and distinct tensor bytes."""

    frames: int
    vision_features: int
    cond_outputs: int
    non_cond_outputs: int
    tracked_flags: int
    tensor_bytes: int

    @property
    def entries(self) -> int:
        return (self.frames + self.vision_features + self.cond_outputs
                + self.non_cond_outputs + self.tracked_flags)


def _tensors(obj: Any):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def footprint(session: Any) -> Footprint:
    """Count a session's per-frame state (tensors shared between entries count once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stores = [F.pixel_store(session), F.vision_cache(session), F.outputs(session),
              *F.prompt_stores(session)]
    for store in stores:
        for t in _tensors(store):
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            if key not in seen:
                seen.add(key)
                total += key[1]
    outs = F.outputs(session).values()
    return Footprint(
        frames=len(F.pixel_store(session)),
        vision_features=len(F.vision_cache(session)),
        cond_outputs=sum(len(o[F.COND]) for o in outs),
        non_cond_outputs=sum(len(o[F.NON_COND]) for o in outs),
        tracked_flags=sum(len(t) for t in F.tracked(session).values()),
        tensor_bytes=total,
    )
