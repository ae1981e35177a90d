"""The semantic engine's checkpoints, as weights-registry entries.

Kept here, beside the engine that knows what each family needs, and added to
:data:`segmatte.models.weights.catalog.CATALOG` by that module (see
:data:`ENTRIES`). ``FAMILY`` / ``DATASET`` say which ``transformers`` classes
load a checkpoint and which class list (:mod:`.classes`) it predicts, so class
names can be checked before any weights load.

Sizes are the approximate download. Licences as the upstream projects state
them: SegFormer's weights are under NVIDIA's non-commercial source code
licence (opt-in); Mask2Former and OneFormer are MIT upstream (their hub cards
say "other" / "mit"; check before shipping).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: weights.catalog imports this module to build CATALOG
    from ..weights.catalog import ModelEntry

_SEGFORMER_LICENCE = "NVIDIA Source Code License (non-commercial)"
_SEGFORMER_URL = "https://github.com/NVlabs/SegFormer/blob/master/LICENSE"
_MASK2FORMER_LICENCE = "MIT"  # the hub cards say "other"; the upstream code and weights are MIT
_ONEFORMER_LICENCE = "MIT"
_FILES = ("*.json", "*.safetensors", "*.txt")
_REQUIRED = ("config.json", "preprocessor_config.json", "model.safetensors")


def _segformer(name: str, repo: str, size_mb: float, what: str) -> ModelEntry:
    from ..weights.catalog import ModelEntry
    return ModelEntry(name, "semantic", "segformer", _SEGFORMER_LICENCE, repo=repo,
                      files=_FILES, required=_REQUIRED, size_mb=size_mb, opt_in=True,
                      licence_url=_SEGFORMER_URL, description=what)


def _mask2former(name: str, repo: str, size_mb: float, what: str) -> ModelEntry:
    from ..weights.catalog import ModelEntry
    return ModelEntry(name, "semantic", "mask2former", _MASK2FORMER_LICENCE, repo=repo,
                      files=_FILES, required=_REQUIRED, size_mb=size_mb,
                      licence_url="https://github.com/facebookresearch/Mask2Former",
                      description=what)


def _oneformer(name: str, repo: str, size_mb: float, what: str) -> ModelEntry:
    from ..weights.catalog import ModelEntry
    # The text branch's CLIP tokenizer ships as vocab.json + merges.txt.
    return ModelEntry(name, "semantic", "oneformer", _ONEFORMER_LICENCE, repo=repo,
                      files=_FILES, required=(*_REQUIRED, "vocab.json", "merges.txt"),
                      size_mb=size_mb, licence_url="https://github.com/SHI-Labs/OneFormer",
                      description=what)


def entries() -> tuple[ModelEntry, ...]:
    """Every semantic checkpoint; ``weights.catalog`` appends these to its ``CATALOG``
    (a function, so that either module may be imported first)."""
    return (
        _segformer("segformer-b0-ade", "nvidia/segformer-b0-finetuned-ade-512-512", 15,
                   "SegFormer B0 (3.7 M), ADE20K 150 classes: the fastest"),
        _segformer("segformer-b2-ade", "nvidia/segformer-b2-finetuned-ade-512-512", 110,
                   "SegFormer B2 (27 M), ADE20K 150 classes"),
        _segformer("segformer-b5-ade", "nvidia/segformer-b5-finetuned-ade-640-640", 340,
                   "SegFormer B5 (85 M), ADE20K 150 classes"),
        _segformer("segformer-b0-cityscapes", "nvidia/segformer-b0-finetuned-cityscapes-1024-1024",
                   15, "SegFormer B0, Cityscapes 19 classes (street scenes)"),
        _segformer("segformer-b5-cityscapes", "nvidia/segformer-b5-finetuned-cityscapes-1024-1024",
                   340, "SegFormer B5, Cityscapes 19 classes (street scenes)"),
        _mask2former("mask2former-tiny-ade", "facebook/mask2former-swin-tiny-ade-semantic", 190,
                     "Mask2Former Swin-T (47 M), ADE20K 150 classes: the default"),
        _mask2former("mask2former-large-ade", "facebook/mask2former-swin-large-ade-semantic", 870,
                     "Mask2Former Swin-L (215 M), ADE20K 150 classes: best quality"),
        _mask2former("mask2former-tiny-cityscapes",
                     "facebook/mask2former-swin-tiny-cityscapes-semantic", 190,
                     "Mask2Former Swin-T, Cityscapes 19 classes"),
        _mask2former("mask2former-large-cityscapes",
                     "facebook/mask2former-swin-large-cityscapes-semantic", 870,
                     "Mask2Former Swin-L, Cityscapes 19 classes"),
        _mask2former("mask2former-tiny-coco", "facebook/mask2former-swin-tiny-coco-panoptic", 190,
                     "Mask2Former Swin-T, COCO panoptic 133 classes"),
        _mask2former("mask2former-large-coco", "facebook/mask2former-swin-large-coco-panoptic", 870,
                     "Mask2Former Swin-L, COCO panoptic 133 classes"),
        _oneformer("oneformer-tiny-ade", "shi-labs/oneformer_ade20k_swin_tiny", 200,
                   "OneFormer Swin-T, ADE20K 150 classes"),
        _oneformer("oneformer-large-cityscapes", "shi-labs/oneformer_cityscapes_swin_large", 880,
                   "OneFormer Swin-L, Cityscapes 19 classes"),
        _oneformer("oneformer-large-coco", "shi-labs/oneformer_coco_swin_large", 880,
                   "OneFormer Swin-L, COCO panoptic 133 classes"),
    )


DATASET: dict[str, str] = {
    "segformer-b0-ade": "ade20k",
    "segformer-b2-ade": "ade20k",
    "segformer-b5-ade": "ade20k",
    "segformer-b0-cityscapes": "cityscapes",
    "segformer-b5-cityscapes": "cityscapes",
    "mask2former-tiny-ade": "ade20k",
    "mask2former-large-ade": "ade20k",
    "mask2former-tiny-cityscapes": "cityscapes",
    "mask2former-large-cityscapes": "cityscapes",
    "mask2former-tiny-coco": "coco-panoptic",
    "mask2former-large-coco": "coco-panoptic",
    "oneformer-tiny-ade": "ade20k",
    "oneformer-large-cityscapes": "cityscapes",
    "oneformer-large-coco": "coco-panoptic",
}
"""Catalog name → the class list it predicts (a key of :data:`.classes.DATASETS`);
known without importing the weights registry, for the door's class check."""

DEFAULT_MODEL = "mask2former-tiny-ade"
