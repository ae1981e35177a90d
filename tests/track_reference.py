"""The plain ``transformers`` streaming loop, unbounded: the yardstick for parity.

Only public ``transformers`` calls, in the order the docs give them
(``add_inputs_to_inference_session``, ``model(inference_session=...,
frame=..., frame_idx=...)``, ``post_process_masks``), with none of our code —
no trimming, no prompt conversion, no upsampling. Tests run it beside the
engine on the same frames and prompts; the benchmark times it as the bare
cost. It primes keyframes first and reads the direction from the frame order,
as the engine does (see :mod:`.engine_track`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch


def reference_run(model: Any, processor: Any, images: dict[int, np.ndarray], order: Sequence[int],
                  prompts: Sequence[tuple[int, int, dict]], first: int,
                  prime: bool = True) -> dict[int, dict[int, tuple[np.ndarray, float]]]:
    """Run the loop; return ``{frame number: {obj_id: (probability H×W, object score)}}``.

    ``images``: float RGB in [0, 1] by source frame number; ``prompts``:
    ``(frame number, obj_id, add_inputs kwargs)`` in the order to add them.
    A frame with nothing to track maps to ``{}``.
    """
    return dict(reference_stream(model, processor, images, order, prompts, first, prime))


def reference_stream(model: Any, processor: Any, images: dict[int, np.ndarray],
                     order: Sequence[int], prompts: Sequence[tuple[int, int, dict]], first: int,
                     prime: bool = True) -> Iterator[tuple[int, dict[int, tuple[np.ndarray, float]]]]:
    """:func:`reference_run` one frame at a time: ``(frame number, result)`` in ``order``
    (the keyframes are primed before the first). A benchmark steps it in lockstep with
    the engine, so load on a shared machine hits both alike."""
    height, width = next(iter(images.values())).shape[:2]
    session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)

    def pixels(n: int) -> torch.Tensor:
        return processor(images=images[n], do_rescale=False, return_tensors="pt").pixel_values[0]

    def result(out: Any) -> dict[int, tuple[np.ndarray, float]]:
        masks = processor.post_process_masks([out.pred_masks], original_sizes=[[height, width]],
                                             binarize=False)[0]
        probs = torch.sigmoid(masks[:, 0].float()).numpy()
        scores = torch.sigmoid(out.object_score_logits.float().reshape(-1)).tolist()
        return {oid: (probs[i], scores[i]) for i, oid in enumerate(out.object_ids)}

    by_frame: dict[int, list[tuple[int, dict]]] = {}
    for n, oid, kw in prompts:
        by_frame.setdefault(n, []).append((oid, kw))
    cond: set[int] = set()

    def add(n: int) -> Any:
        out = None
        for oid, kw in by_frame.pop(n):
            kw = dict(kw)
            if "input_masks" not in kw:
                kw["original_size"] = (height, width)
            processor.add_inputs_to_inference_session(session, frame_idx=n - first, obj_ids=oid, **kw)
            out = model(inference_session=session, frame=pixels(n), frame_idx=n - first)
        cond.add(n - first)
        return out

    # inference mode per step, not around the yields: grad mode is thread state
    if prime:
        with torch.inference_mode():
            for n in sorted(by_frame):
                add(n)
    prev = None
    for i, n in enumerate(order):
        nxt = order[i + 1] if i + 1 < len(order) else None
        reverse = (n < prev) if prev is not None else (nxt is not None and nxt < n)
        idx = n - first
        with torch.inference_mode():
            if n in by_frame:
                got = result(add(n))
            elif any((k >= idx) if reverse else (k <= idx) for k in cond):
                out = model(inference_session=session, frame=pixels(n), frame_idx=idx,
                            reverse=reverse)
                got = result(out)
            else:
                got = {}
        prev = n
        yield n, got
