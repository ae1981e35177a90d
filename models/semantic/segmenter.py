"""One image → soft class probabilities, through a ``transformers`` model and
its own image processor and post-processing.

We wrap, not re-implement: the image processor prepares the pixels, the model
runs, and the processor's ``post_process_semantic_segmentation(...,
return_segmentation_scores=True)`` returns the per-class scores it would take
the argmax of, already resized (bilinear) to the size we ask for. The one
step we add is the one ``transformers`` leaves out: turning those scores into
probabilities a matte can use, the way each family defines them:

- SegFormer: the scores are logits → ``softmax`` over classes (after the
  bilinear resize, as the post-processing orders it: logits interpolate
  smoothly, the softmax keeps edges crisp).
- Mask2Former / OneFormer: the scores are already the mixture
  ``Σ_q softmax(class_q)[c] · sigmoid(mask_q)`` → clipped to [0, 1] (it can
  exceed 1 only where queries overlap).

A layer that gathers several classes (a group, a union) is the sum of their
probabilities, clipped to [0, 1]: classes are exclusive per pixel, so their
probabilities add.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .classes import Selection
from .families import FAMILIES, MODEL_TYPES  # noqa: F401 (re-exported)

SCORE_BUDGET = 1 << 27
"""Most post-processing scores (floats) held at once: 512 MB (a 1024×576 frame
of ADE20K's 150 classes, or a batch of tiles)."""


def activate(scores: torch.Tensor, activation: str) -> torch.Tensor:
    """Post-processing scores (C×H×W) → class probabilities (C×H×W) in [0, 1]."""
    if activation == "softmax":
        return scores.float().softmax(dim=0)
    if activation == "mixture":
        return scores.float().clamp(0.0, 1.0)
    raise ValueError(f"unknown activation {activation!r}")


def gather(probs: torch.Tensor, selections: Sequence[Selection]) -> torch.Tensor:
    """Class probabilities (C×H×W) → one channel per selection (K×H×W), summed, in [0, 1]."""
    channels = []
    for s in selections:
        if len(s.ids) == 1:
            channels.append(probs[s.ids[0]])
        else:
            channels.append(probs[list(s.ids)].sum(dim=0).clamp_(0.0, 1.0))
    return torch.stack(channels)


@dataclass
class Segmenter:
    """A loaded model with its processor: :meth:`probabilities` for one image."""

    model: Any
    processor: Any
    family: str
    device: str = "cpu"

    @property
    def activation(self) -> str:
        return FAMILIES[self.family][2]

    @property
    def id2label(self) -> dict[int, str]:
        return {int(k): v for k, v in self.model.config.id2label.items()}

    @torch.inference_mode()
    def scores(self, images: Sequence[np.ndarray], size: tuple[int, int] | None = None
               ) -> list[torch.Tensor]:
        """The post-processing's class scores (C×h×w each) for H×W×3 float images
        in [0, 1] of one size, resized to ``size`` (h, w; default the images' size)."""
        h, w = images[0].shape[:2]
        extra = FAMILIES[self.family][3]
        if extra.get("task_inputs"):
            extra = {**extra, "task_inputs": extra["task_inputs"] * len(images)}
        # float pixels already in [0, 1]: no 1/255 rescale
        inputs = self.processor(images=list(images), return_tensors="pt", do_rescale=False,
                                **extra)
        dtype = next(self.model.parameters()).dtype
        inputs = {k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        outputs = self.model(**inputs)
        results = self.processor.post_process_semantic_segmentation(
            outputs, target_sizes=[size or (h, w)] * len(images), return_segmentation_scores=True)
        return [r["segmentation_scores"] for r in results]

    def probabilities(self, image: np.ndarray, selections: Sequence[Selection],
                      size: tuple[int, int] | None = None) -> np.ndarray:
        """K×h×w float32 probabilities of the selections (see the module docstring)."""
        return self.probabilities_batch([image], selections, size)[0]

    def probabilities_batch(self, images: Sequence[np.ndarray], selections: Sequence[Selection],
                            size: tuple[int, int] | None = None) -> list[np.ndarray]:
        """:meth:`probabilities` of several images of one size (tiles) in one model call."""
        return [gather(activate(s, self.activation), selections).cpu().numpy()
                .astype(np.float32, copy=False) for s in self.scores(images, size)]

    def batch_size(self, height: int, width: int, budget: int = SCORE_BUDGET) -> int:
        """How many images of this size to run at once: the post-processing holds
        C×h×w scores per image, kept under ``budget`` floats."""
        return max(1, budget // (len(self.model.config.id2label) * height * width))

    def score_size(self, height: int, width: int, budget: int = SCORE_BUDGET) -> tuple[int, int]:
        """The largest size (aspect kept) at which C×h×w scores fit ``budget`` floats:
        a whole 4K frame at source size would need 5 GB for ADE20K's 150 classes."""
        classes = len(self.model.config.id2label)
        if classes * height * width <= budget:
            return height, width
        s = (budget / (classes * height * width)) ** 0.5
        return max(1, int(height * s)), max(1, int(width * s))
