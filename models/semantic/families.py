"""The model families the semantic engine runs, by name (no torch: the door checks folders with it)."""

from __future__ import annotations

from typing import Any

#: family → (model class, image processor class, activation, processor kwargs)
FAMILIES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "segformer": ("SegformerForSemanticSegmentation", "SegformerImageProcessor", "softmax", {}),
    "mask2former": ("Mask2FormerForUniversalSegmentation", "Mask2FormerImageProcessor",
                    "mixture", {}),
    "oneformer": ("OneFormerForUniversalSegmentation", "OneFormerProcessor", "mixture",
                  {"task_inputs": ["semantic"]}),
}

MODEL_TYPES = {"segformer": "segformer", "mask2former": "mask2former", "oneformer": "oneformer"}
"""``config.model_type`` → family, for checkpoints loaded from a folder."""
