"""The plain ``transformers`` loop for a text prompt: the yardstick for parity and the bench.

Only public calls, in the order the docs give them, none of our code:
``Sam3Processor(images=..., text=...)`` → ``Sam3Model`` →
``post_process_instance_segmentation`` on the keyframe; each instance's mask
becomes a mask input of ``Sam3TrackerVideoModel``'s streaming session, which
then runs frame by frame (:func:`track_reference.reference_run`,
the track engine's own yardstick, unbounded). Instances are numbered by score,
best first, as the engine numbers them; no NMS (run the engine with
``nms_iou=1`` to compare).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from track_reference import reference_run


def detect(model: Any, processor: Any, image: np.ndarray, text: str, threshold: float,
           limit: int) -> list[tuple[float, np.ndarray]]:
    """(score, H×W bool mask) of the best ``limit`` instances over ``threshold``."""
    height, width = image.shape[:2]
    inputs = processor(images=image, text=text, do_rescale=False, return_tensors="pt")
    with torch.inference_mode():
        out = model(pixel_values=inputs["pixel_values"], input_ids=inputs["input_ids"],
                    attention_mask=inputs["attention_mask"])
    found = processor.post_process_instance_segmentation(
        out, threshold=threshold, mask_threshold=0.5, target_sizes=[(height, width)])[0]
    order = torch.argsort(found["scores"], descending=True).tolist()
    picked = [(float(found["scores"][i]), found["masks"][i].bool().numpy()) for i in order]
    return [p for p in picked if p[1].any()][:limit]


def text_reference_run(detector: Any, detector_processor: Any, tracker: Any,
                       tracker_processor: Any, images: dict[int, np.ndarray],
                       order: Sequence[int], text: str, keyframe: int, first: int, *,
                       threshold: float, limit: int):
    """``{frame: {obj_id: (probability, score)}}`` with obj_id = instance number (1 = best)."""
    found = detect(detector, detector_processor, images[keyframe], text, threshold, limit)
    prompts = [(keyframe, i + 1, {"input_masks": mask}) for i, (_s, mask) in enumerate(found)]
    return found, reference_run(tracker, tracker_processor, images, order, prompts, first,
                                prime=False)
