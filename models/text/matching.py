"""Instances found again on a later keyframe keep their ids: mask IoU matching.

The tracked masks of a concept's instances on the keyframe (what the tracker
predicted there) are matched one-to-one to the new detections by the
assignment that maximises the total IoU (``scipy``'s Hungarian solver); a pair
counts only at or above ``min_iou``. Detections left over are new instances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mask_iou(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """(len(a), len(b)) IoU of boolean masks of one size."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float64)
    fa = np.stack([m.reshape(-1) for m in a]).astype(np.float64)
    fb = np.stack([m.reshape(-1) for m in b]).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return inter / np.maximum(union, 1.0)


def match(detections: Sequence[np.ndarray], tracked: dict[str, np.ndarray],
          min_iou: float) -> tuple[dict[int, str], list[int]]:
    """Detection index → tracked layer it continues; and the indices that are new."""
    from scipy.optimize import linear_sum_assignment

    names = list(tracked)
    iou = mask_iou(list(detections), [tracked[n] for n in names])
    matched: dict[int, str] = {}
    if iou.size:
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if iou[r, c] >= min_iou and iou[r, c] > 0:
                matched[r] = names[c]
    new = [i for i in range(len(detections)) if i not in matched]
    return matched, new
