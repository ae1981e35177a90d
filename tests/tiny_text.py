"""Randomly initialised *tiny* SAM 3 checkpoints of the real classes, for tests and benchmarks.

The published ``facebook/sam3`` checkpoint is a ``Sam3VideoModel`` (detector +
tracker in one file); ``Sam3Model`` and ``Sam3TrackerVideoModel`` both load
from it (transformers maps the weight names). :func:`save_checkpoint` writes a
tiny random ``Sam3VideoModel`` with its processor the same way, so tests go
through the real loading path (:mod:`.loader`) with no download.

The tokenizer is a real ``CLIPTokenizer`` over a letter-level vocabulary
(every letter, alone and word-final), so any lowercase English prompt
tokenizes; the text encoder is random, so different words give different
detections, which is all the tests need.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import torch

IMAGE_SIZE = 112
"""Input side of the tiny models (the ViT's patch is 14, so a multiple of 14)."""


def tiny_tokenizer():
    from transformers import CLIPTokenizer

    specials = ["<|startoftext|>", "<|endoftext|>"]
    letters = list(string.ascii_lowercase)
    vocab = {tok: i for i, tok in enumerate(specials + letters + [c + "</w>" for c in letters])}
    return CLIPTokenizer(vocab=vocab, merges=[])


def tiny_config(image_size: int = IMAGE_SIZE, num_queries: int = 16,
                tracker_overrides: dict[str, Any] | None = None, **overrides: Any):
    """A ``Sam3VideoConfig`` whose detector and tracker share one 2-layer ViT.

    ``tracker_overrides`` go to the tracker's config (e.g. ``num_maskmem`` for a
    short memory window)."""
    from tiny_track import tiny_sam3_tracker_config
    from transformers import Sam3VideoConfig

    tokens = image_size // 14
    tracker = tiny_sam3_tracker_config(image_size, **(tracker_overrides or {})).to_dict()
    vocab = len(tiny_tokenizer())
    detector = dict(
        model_type="sam3", vision_config=tracker["vision_config"],
        text_config=dict(model_type="clip_text_model", vocab_size=vocab, hidden_size=32,
                         intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=32, projection_dim=32,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        geometry_encoder_config=dict(hidden_size=128, num_layers=1, num_attention_heads=2,
                                     intermediate_size=64),
        detr_encoder_config=dict(hidden_size=128, num_layers=1, num_attention_heads=2,
                                 intermediate_size=64),
        detr_decoder_config=dict(hidden_size=128, num_layers=1, num_queries=num_queries,
                                 num_attention_heads=2, intermediate_size=64),
        mask_decoder_config=dict(hidden_size=128, num_attention_heads=2),
    )
    kwargs: dict[str, Any] = dict(detector_config=detector, tracker_config=tracker,
                                  low_res_mask_size=4 * tokens)
    kwargs.update(overrides)
    return Sam3VideoConfig(**kwargs)


def tiny_video_model(config=None, *, seed: int = 0, weight_scale: float = 4.0,
                     object_bias: float | None = 4.0, presence_bias: float | None = 4.0):
    """A seeded random ``Sam3VideoModel``; weights scaled so masks have structure.

    ``object_bias`` sets the tracker's object-score head so tracked objects
    are reported present (as :func:`tiny_track.tiny_model`);
    ``presence_bias`` does the same for the detector's presence token, so a
    detection's score is its query's own probability (some pass 0.5, some not).
    """
    from transformers import Sam3VideoModel

    config = config if config is not None else tiny_config()
    torch.manual_seed(seed)
    model = Sam3VideoModel(config).eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed)
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.mul_(weight_scale)
            elif "norm" not in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
        if object_bias is not None:
            head = model.tracker_model.mask_decoder.pred_obj_score_head
            last = head.proj_out if hasattr(head, "proj_out") else list(head.modules())[-1]
            last.bias.fill_(object_bias)
        if presence_bias is not None:
            model.detector_model.detr_decoder.presence_head.layer3.bias.fill_(presence_bias)
    return model


def tiny_processor(image_size: int = IMAGE_SIZE):
    """The real ``Sam3VideoProcessor`` (image + video processors, tokenizer) at ``image_size``."""
    from transformers import Sam3VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor
    from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor

    size = {"height": image_size, "width": image_size}
    ip = Sam3ImageProcessor(size=size)
    vp = Sam2VideoVideoProcessor(size=size, image_mean=ip.image_mean, image_std=ip.image_std)
    return Sam3VideoProcessor(image_processor=ip, video_processor=vp, tokenizer=tiny_tokenizer())


def save_checkpoint(folder: str | Path, *, seed: int = 0, config=None, **model_kwargs: Any) -> Path:
    """Write a tiny checkpoint laid out like ``facebook/sam3`` (config, weights, processor)."""
    folder = Path(folder)
    model = tiny_video_model(config, seed=seed, **model_kwargs)
    model.save_pretrained(folder)
    tiny_processor(int(model.config.image_size)).save_pretrained(folder)
    return folder


def save_to_hub(root: str | Path, repo: str = "facebook/sam3", *, seed: int = 0,
                **model_kwargs: Any) -> Path:
    """A tiny checkpoint where the Hugging Face cache under ``root`` keeps ``repo`` (main)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = Path(root) / ("models--" + repo.replace("/", "--"))
    save_checkpoint(folder / "snapshots" / commit, seed=seed, **model_kwargs)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return Path(root)
