"""Randomly initialised *tiny* configurations of the real tracker classes.

Tests and benchmarks cannot download weights, so they build the same
``transformers`` classes (``Sam2VideoModel``, ``EdgeTamVideoModel``) with
shrunken configurations: the code paths are the real ones, only the sizes
differ. Random weights at the default init (std 0.02) give logits of ~1e-3,
which would make any mask comparison vacuous, so :func:`tiny_model` rescales
the weights to get masks with real structure, and can bias the object-score
head so the object is present (or absent) on purpose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def tiny_sam2_config(image_size: int = 64, **overrides: Any):
    """A ``Sam2VideoConfig`` for a ~1 M-parameter model at ``image_size``² input.

    Constraints found in the classes: the memory attention's cross-attention
    reads 64-channel memories (``kv_in_dim=64`` is hard-coded), so
    ``memory_encoder_output_channels`` stays 64 and the hidden size must be a
    multiple larger than it (128); a Hiera global-attention block must not be
    the first block of a query-pooling stage; window sizes of pooled stages
    must stay >= 2.
    """
    from transformers import Sam2VideoConfig

    s = image_size
    vision = dict(
        model_type="sam2_vision_model",
        backbone_config=dict(
            model_type="sam2_hiera_det_model", hidden_size=8, image_size=[s, s],
            blocks_per_stage=[1, 1, 2, 1], embed_dim_per_stage=[8, 16, 32, 64],
            num_attention_heads_per_stage=[1, 1, 1, 1], window_size_per_stage=[4, 4, 2, 2],
            global_attention_blocks=[3], window_positional_embedding_background_size=[2, 2]),
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
        fpn_hidden_size=128,
    )
    kwargs: dict[str, Any] = dict(
        vision_config=vision, image_size=s,
        prompt_encoder_config=dict(hidden_size=128, image_size=s, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32),
        memory_attention_hidden_size=128, memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[s // 16, s // 16],
        memory_encoder_hidden_size=128, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128, memory_fuser_embed_dim=128, memory_fuser_intermediate_dim=64,
    )
    kwargs.update(overrides)
    return Sam2VideoConfig(**kwargs)


def tiny_edgetam_config(image_size: int = 64, **overrides: Any):
    """An ``EdgeTamVideoConfig`` of the same size (Hiera vision stand-in: the real
    EdgeTAM RepViT backbone needs ``timm``), with a small perceiver resampler."""
    from transformers import EdgeTamVideoConfig

    s = image_size
    base = tiny_sam2_config(s).to_dict()
    kwargs: dict[str, Any] = dict(
        vision_config=base["vision_config"], image_size=s,
        prompt_encoder_config=dict(hidden_size=128, image_size=s, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32),
        memory_attention_hidden_size=128, memory_attention_num_layers=1,
        memory_attention_mlp_hidden_size=64,
        memory_attention_rope_feat_sizes=[s // 16, s // 16], memory_attention_rope_k_sizes=[2, 2],
        perceiver_resampler_num_latents=8, perceiver_resampler_num_latents_2d=4,
        perceiver_resampler_num_layers=1, perceiver_resampler_mlp_intermediate_size=64,
        memory_encoder_hidden_size=128, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128, memory_fuser_embed_dim=128, memory_fuser_intermediate_dim=64,
    )
    kwargs.update(overrides)
    return EdgeTamVideoConfig(**kwargs)


def tiny_sam3_tracker_config(image_size: int = 112, **overrides: Any):
    """A ``Sam3TrackerVideoConfig`` with a 2-layer ViT (patch 14, so ``image_size`` = 14·k)."""
    from transformers import Sam3TrackerVideoConfig

    s, tokens = image_size, image_size // 14
    vision = dict(
        model_type="sam3_vision_model",
        backbone_config=dict(model_type="sam3_vit_model", hidden_size=64, intermediate_size=128,
                             num_hidden_layers=2, num_attention_heads=2, image_size=s,
                             patch_size=14, window_size=4, global_attn_indexes=[1],
                             pretrain_image_size=56),
        fpn_hidden_size=128,
        backbone_feature_sizes=[[4 * tokens] * 2, [2 * tokens] * 2, [tokens] * 2])
    kwargs: dict[str, Any] = dict(
        vision_config=vision, image_size=s,
        prompt_encoder_config=dict(hidden_size=128, image_size=s, patch_size=14, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32),
        memory_attention_hidden_size=128, memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64, memory_attention_rope_feat_sizes=[tokens, tokens],
        memory_encoder_hidden_size=128, memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128, memory_fuser_embed_dim=128, memory_fuser_intermediate_dim=64,
    )
    kwargs.update(overrides)
    return Sam3TrackerVideoConfig(**kwargs)


def tiny_processor(image_size: int = 64, family: str = "sam2_video"):
    """The real processor of ``family`` with its resize target set to ``image_size``."""
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    size = {"height": image_size, "width": image_size}
    if family == "sam3_tracker_video":
        from transformers import Sam3TrackerVideoProcessor
        from transformers.models.sam3.image_processing_sam3 import Sam3ImageProcessor

        ip = Sam3ImageProcessor(size=size)
        vp = Sam2VideoVideoProcessor(size=size, image_mean=ip.image_mean, image_std=ip.image_std)
        return Sam3TrackerVideoProcessor(image_processor=ip, video_processor=vp)
    from transformers import Sam2VideoProcessor
    from transformers.models.sam2.image_processing_sam2 import Sam2ImageProcessor

    return Sam2VideoProcessor(image_processor=Sam2ImageProcessor(size=size),
                              video_processor=Sam2VideoVideoProcessor(size=size))


def tiny_model(config=None, *, seed: int = 0, weight_scale: float = 8.0,
               object_bias: float | None = 4.0):
    """Build the model for ``config`` with seeded random weights, in eval mode.

    ``weight_scale`` multiplies every weight so random logits have structure;
    ``object_bias`` (when not None) sets the bias of the object-score head's
    last layer so the object is reported present (> 0) or absent (< 0).
    """
    import transformers

    config = config if config is not None else tiny_sam2_config()
    cls = {"sam2_video": transformers.Sam2VideoModel,
           "edgetam_video": transformers.EdgeTamVideoModel,
           "sam3_tracker_video": transformers.Sam3TrackerVideoModel}[config.model_type]
    torch.manual_seed(seed)
    model = cls(config).eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed)
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.mul_(weight_scale)
            elif "norm" not in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
        if object_bias is not None:
            head = model.mask_decoder.pred_obj_score_head
            last = head.proj_out if hasattr(head, "proj_out") else list(head.modules())[-1]
            last.bias.fill_(object_bias)
    return model


def save_hub(root: Path) -> Path:
    """A Hugging Face cache under ``root`` holding :func:`tiny_model` where the catalog's
    ``sam2.1-tiny`` lives, so the real loading code finds it offline (``HF_HUB_CACHE``)."""
    from segmatte.models.weights import catalog

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = root / ("models--" + catalog.get("sam2.1-tiny").repo.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    tiny_model().save_pretrained(snapshot)
    tiny_processor().save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return root
