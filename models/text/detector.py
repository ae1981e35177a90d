"""One text prompt on one image: every instance, through ``Sam3Model`` and ``Sam3Processor``.

Only the documented calls: the processor tokenizes the text and resizes the
picture, the model scores its queries (query probability x presence),
``post_process_instance_segmentation`` keeps those over the threshold with
masks at source size. What we add: a box NMS (``torchvision.ops.nms``) so an
instance found by two queries counts once, and the cap on instances, best
first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]
    """x0, y0, x1, y1 in source pixels."""
    mask: np.ndarray
    """H×W bool at source size."""


class Detector:
    def __init__(self, model: Any, processor: Any, *, device: str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.model, self.processor = model, processor
        self.device, self.dtype = device, dtype

    @torch.inference_mode()
    def detect(self, image: np.ndarray, text: str, *, threshold: float, nms_iou: float,
               limit: int) -> list[Detection]:
        """Instances of ``text`` in a float RGB [0, 1] image, best score first."""
        from torchvision.ops import nms

        height, width = image.shape[:2]
        inputs = self.processor(images=np.ascontiguousarray(image, dtype=np.float32), text=text,
                                do_rescale=False, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if isinstance(v, torch.Tensor)
                  and k != "original_sizes"}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        out = self.model(**inputs)
        found = self.processor.post_process_instance_segmentation(
            out, threshold=threshold, mask_threshold=0.5, target_sizes=[(height, width)])[0]
        scores = found["scores"].float()
        boxes = found["boxes"].float()
        masks = found["masks"].bool()
        if scores.numel() == 0:
            return []
        keep = nms(boxes, scores, nms_iou)  # indices, best score first
        out_list: list[Detection] = []
        for i in keep.tolist():
            mask = masks[i].cpu().numpy()
            if not mask.any():
                continue
            box = tuple(float(v) for v in boxes[i].cpu().clamp(min=0).tolist())
            out_list.append(Detection(float(scores[i]), box, mask))  # type: ignore[arg-type]
            if len(out_list) == limit:
                break
        return out_list
