"""Randomly initialised configurations of the real semantic model classes.

Tests and benchmarks cannot download weights, so they build the same
``transformers`` classes (``SegformerForSemanticSegmentation``,
``Mask2FormerForUniversalSegmentation``, ``OneFormerForUniversalSegmentation``)
from small or realistic-size configurations with random weights and the class
list of a real dataset: the code paths are the real ones, only the numbers
are meaningless. :func:`save_checkpoint` writes one as a folder that
``from_pretrained(..., local_files_only=True)`` (and so the engine) loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from segmatte.models.semantic.classes import ADE20K

SEGFORMER_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1],
                 decoder_hidden_size=32),
    # the published B0 / B2 shapes
    "b0": dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2],
               num_attention_heads=[1, 2, 5, 8], decoder_hidden_size=256),
    "b2": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3],
               num_attention_heads=[1, 2, 5, 8], decoder_hidden_size=768),
}

MASK2FORMER_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], hidden_dim=32,
                 num_queries=8, decoder_layers=2, encoder_layers=1, feature_size=32,
                 mask_feature_size=32, dim_feedforward=64),
    # the published Swin-T shape
    "swin-tiny": dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                      hidden_dim=256, num_queries=100, decoder_layers=10, encoder_layers=6,
                      feature_size=256, mask_feature_size=256, dim_feedforward=1024),
}


def _labels(labels: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return dict(id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})


def segformer(size: str = "tiny", labels: tuple[str, ...] = ADE20K, seed: int = 0,
              contrast: float = 0.0):
    """A ``SegformerForSemanticSegmentation`` (eval mode) and its image processor.

    ``contrast`` > 0 rescales the classifier so the logits' spread over a
    random image is about that many units: class maps with real structure
    (edges, regions) instead of the near-uniform softmax of default init.
    """
    from transformers import (
        SegformerConfig,
        SegformerForSemanticSegmentation,
        SegformerImageProcessor,
    )

    torch.manual_seed(seed)
    config = SegformerConfig(**SEGFORMER_SIZES[size], **_labels(labels))
    model = SegformerForSemanticSegmentation(config).eval()
    if contrast:
        _contrast(model, model.decode_head.classifier, contrast)
    return model, SegformerImageProcessor(size={"height": 128, "width": 128} if size == "tiny"
                                          else {"height": 512, "width": 512})


def mask2former(size: str = "tiny", labels: tuple[str, ...] = ADE20K, seed: int = 0):
    """A ``Mask2FormerForUniversalSegmentation`` (eval mode) and its image processor."""
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    torch.manual_seed(seed)
    s = dict(MASK2FORMER_SIZES[size])
    backbone = SwinConfig(embed_dim=s.pop("embed_dim"), depths=s.pop("depths"),
                          num_heads=s.pop("num_heads"), window_size=7 if size != "tiny" else 4,
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    config = Mask2FormerConfig(backbone_config=backbone, **s, **_labels(labels))
    model = Mask2FormerForUniversalSegmentation(config).eval()
    edge = 128 if size == "tiny" else 512
    return model, Mask2FormerImageProcessor(size={"shortest_edge": edge, "longest_edge": edge * 2})


@torch.no_grad()
def _contrast(model: Any, head: torch.nn.Module, target: float) -> None:
    probe = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    logits = model(pixel_values=probe).logits
    spread = float(logits.std(dim=1).mean())
    head.weight.mul_(target / max(spread, 1e-8))
    if head.bias is not None:
        head.bias.zero_()


def clip_tokenizer():
    """A CLIP tokenizer with the byte-level alphabet and no merges.

    OneFormer's text branch reads the task prompt ("the task is semantic")
    through a CLIP tokenizer; the real vocabulary is a download. With only the
    256 byte symbols (and their end-of-word forms) every word is spelt out
    letter by letter: the same code path, built offline.
    """
    from transformers import CLIPTokenizer

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    extra = [256 + i for i in range(256 - len(printable))]
    symbols = [chr(c) for c in printable + extra]
    vocab = {s: i for i, s in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    return CLIPTokenizer(vocab=vocab, merges=[])


def oneformer(labels: tuple[str, ...] = ADE20K, seed: int = 0):
    """A tiny ``OneFormerForUniversalSegmentation`` (eval mode) and its processor."""
    from transformers import (
        OneFormerConfig,
        OneFormerForUniversalSegmentation,
        OneFormerImageProcessor,
        OneFormerProcessor,
        SwinConfig,
    )

    torch.manual_seed(seed)
    tokenizer = clip_tokenizer()
    backbone = SwinConfig(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    config = OneFormerConfig(
        backbone_config=backbone, num_queries=8, hidden_dim=32, conv_dim=32, mask_dim=32,
        encoder_feedforward_dim=64, dim_feedforward=64, encoder_layers=1, decoder_layers=2,
        num_attention_heads=2, text_encoder_width=32, text_encoder_num_layers=1,
        text_encoder_vocab_size=len(tokenizer), text_encoder_proj_layers=1, query_dec_layers=1,
        is_training=False, **_labels(labels))
    model = OneFormerForUniversalSegmentation(config).eval()
    image_processor = OneFormerImageProcessor(size={"shortest_edge": 128, "longest_edge": 256})
    return model, OneFormerProcessor(image_processor=image_processor, tokenizer=tokenizer)


def save_checkpoint(model: Any, processor: Any, folder: str | Path) -> Path:
    """Write a model and its processor as a ``from_pretrained`` folder."""
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
