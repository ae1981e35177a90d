"""Hyper-parameters of the Robust Video Matting network (MobileNetV3 variant).

Kept in one frozen dataclass, in the spirit of a ``transformers`` config: the
modeling code reads only this, and the loaders fill the few fields that differ
between the published exports (the refiner, the box filter's padding, the
normalisation constants the TF.js export carries quantised).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Activation = Literal["relu", "hardswish"]


@dataclass(frozen=True)
class InvertedResidualConfig:
    """One MobileNetV3 bottleneck: 1×1 expand → k×k depthwise (→ SE) → 1×1 project."""

    in_channels: int
    kernel_size: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    activation: Activation
    stride: int
    dilation: int


def _mobilenetv3_large_blocks() -> tuple[InvertedResidualConfig, ...]:
    # MobileNetV3-Large (Howard et al. 2019, table 1) with the last stage dilated
    # instead of strided, so the encoder's output stride is 16 (as RVM uses it).
    rows = [
        (16, 3, 16, 16, False, "relu", 1, 1),
        (16, 3, 64, 24, False, "relu", 2, 1),  # → f1 is taken before this block
        (24, 3, 72, 24, False, "relu", 1, 1),
        (24, 5, 72, 40, True, "relu", 2, 1),
        (40, 5, 120, 40, True, "relu", 1, 1),
        (40, 5, 120, 40, True, "relu", 1, 1),
        (40, 3, 240, 80, False, "hardswish", 2, 1),
        (80, 3, 200, 80, False, "hardswish", 1, 1),
        (80, 3, 184, 80, False, "hardswish", 1, 1),
        (80, 3, 184, 80, False, "hardswish", 1, 1),
        (80, 3, 480, 112, True, "hardswish", 1, 1),
        (112, 3, 672, 112, True, "hardswish", 1, 1),
        (112, 5, 672, 160, True, "hardswish", 1, 2),
        (160, 5, 960, 160, True, "hardswish", 1, 2),
        (160, 5, 960, 160, True, "hardswish", 1, 2),
    ]
    return tuple(InvertedResidualConfig(*r) for r in rows)


@dataclass(frozen=True)
class RVMConfig:
    """The MobileNetV3-Large RVM network.

    ``feature_blocks`` are the indices (into ``encoder_blocks``, after which) the
    encoder's skip features f1 (stride 2), f2 (4), f3 (8) are taken; f4 is the
    head's output (stride 16, ``encoder_head_channels``).

    ``refiner`` picks the high-resolution stage used when the network runs at a
    downsample ratio below 1: ``"deep_guided_filter"`` (learned, in the PyTorch
    checkpoint) or ``"fast_guided_filter"`` (parameter-free, what the TF.js
    export contains). ``box_filter_padding`` is how that export's box filter
    treats the border: ``"valid"`` (TF's default, the coefficient maps shrink by
    2·radius and are stretched back by the resize) or ``"same"`` (zero padding,
    the PyTorch original).
    """

    stem_channels: int = 16
    encoder_blocks: tuple[InvertedResidualConfig, ...] = field(default_factory=_mobilenetv3_large_blocks)
    feature_blocks: tuple[int, int, int] = (0, 2, 5)
    encoder_head_channels: int = 960
    encoder_norm_eps: float = 1e-3
    aspp_channels: int = 128
    decoder_channels: tuple[int, int, int, int] = (80, 40, 32, 16)
    decoder_norm_eps: float = 1e-5
    refiner: Literal["deep_guided_filter", "fast_guided_filter"] = "deep_guided_filter"
    refiner_hidden_channels: int = 16
    guided_filter_radius: int = 1
    guided_filter_eps: float = 1e-5
    box_filter_padding: Literal["same", "valid"] = "same"
    image_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    image_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    with_segmentation_head: bool = True

    @property
    def skip_channels(self) -> tuple[int, int, int]:
        """Channels of f1, f2, f3."""
        return tuple(self.encoder_blocks[i].out_channels for i in self.feature_blocks)  # type: ignore[return-value]

    @property
    def state_channels(self) -> tuple[int, int, int, int]:
        """Channels of the recurrent states r1..r4 (half of each decoder stage)."""
        c = self.decoder_channels
        return (c[2] // 2, c[1] // 2, c[0] // 2, self.aspp_channels // 2)
