"""Low-resolution mask logits to a smooth matte at source resolution.

SAM-family decoders predict logits at a quarter of their square input
(256² for 1024²). Thresholding those and then resizing gives stair-steps;
instead the *logits* are resized bilinearly to the source size (the square
input was stretched, not padded, so a plain resize undoes the aspect) and
only then squashed with a sigmoid, which keeps edges smooth and sub-pixel.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def logits_to_source(logits: torch.Tensor, height: int, width: int, *,
                     mode: str = "bilinear") -> torch.Tensor:
    """(N, 1, h, w) logits → (N, H, W) logits at source size, in one resize.

    ``bilinear`` is exactly what ``Sam2ImageProcessor.post_process_masks``
    does (``F.interpolate``, ``align_corners=False``); ``bicubic`` is a
    smoother option for large upscales (overshoot is harmless on logits).
    """
    x = logits.float()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"unknown upsample mode {mode!r}")
    x = F.interpolate(x, (height, width), mode=mode, align_corners=False)
    return x[:, 0]


def to_matte(logits_hw: torch.Tensor, threshold: float | None) -> np.ndarray:
    """Source-size logits → float32 matte in [0, 1] (soft, or binary at ``threshold``).

    Overwrites ``logits_hw`` (the sigmoid runs in place): at 1080p a fresh
    8 MB result costs more in page faults than the sigmoid itself (~2.5× the
    CPU of the in-place one, bench/bench_track.py), and the caller's logits
    are a temporary of :func:`logits_to_source` anyway.
    """
    prob = logits_hw.float()
    prob = prob.sigmoid_() if prob.data_ptr() == logits_hw.data_ptr() else prob.sigmoid()
    if threshold is not None:
        prob = (prob >= threshold).float()
    return prob.cpu().numpy().astype(np.float32, copy=False)
