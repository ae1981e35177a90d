"""The Robust Video Matting network (MobileNetV3-Large variant), in torch.

Lin, Yang, Saleemi, Sengupta, "Robust High-Resolution Video Matting with
Temporal Guidance", WACV 2022. Our own implementation of the published
architecture, written to load the published weights (see ``convert_tfjs`` and
``convert_torch``) and to run frame by frame with the recurrent state carried
by the caller, which is what streaming needs.

Data flow for one frame ``src`` (B×3×H×W, RGB in [0, 1]) at ratio ``d``::

    src_sm = resize(src, ⌊H·d⌋×⌊W·d⌋)                 (bilinear, half-pixel)
    f1, f2, f3, f4 = encoder(normalise(src_sm))        strides 2, 4, 8, 16
    f4 = lraspp(f4)                                    128 channels
    hid, state' = decoder(src_sm, f1..f4, state)       ConvGRUs at strides 16..2
    fgr_res, alpha = split(conv1×1(hid), [3, 1])       at src_sm resolution
    if d < 1: fgr_res, alpha = refiner(src, src_sm, fgr_res, alpha, hid)
    fgr = clamp(src + fgr_res, 0, 1); alpha = clamp(alpha, 0, 1)

Alpha alone (``foreground=False``: no foreground layer asked for) skips the
foreground's full-resolution work; alpha is the same either way.

The recurrent state is four tensors (16, 20, 40, 64 channels at strides 2, 4,
8, 16 of ``src_sm``); ``None`` means "start of a clip" (zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .configuration_rvm import InvertedResidualConfig, RVMConfig

RecurrentState = tuple[Tensor, Tensor, Tensor, Tensor]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` (MobileNet rule):
    nearest multiple, never below ``divisor`` nor more than 10 % below ``value``."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def _activation(name: str | None) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "hardswish":
        return nn.Hardswish(inplace=True)
    return nn.Identity()


class RVMConvNormAct(nn.Sequential):
    """Convolution → batch norm → activation, with "same" zero padding.

    :meth:`fuse` folds the batch norm into the convolution
    (``w' = w·γ/√(σ²+ε)``, ``b' = β − μ·γ/√(σ²+ε)``): the published TF.js
    export ships weights already folded, and fused is faster at inference.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, *,
                 stride: int = 1, dilation: int = 1, groups: int = 1,
                 activation: str | None = None, eps: float = 1e-5) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                              dilation=dilation, groups=groups, bias=False)
        self.norm: nn.Module = nn.BatchNorm2d(out_channels, eps=eps)
        self.act = _activation(activation)

    @property
    def fused(self) -> bool:
        return not isinstance(self.norm, nn.BatchNorm2d)

    @torch.no_grad()
    def fuse(self) -> None:
        if self.fused:
            return
        bn: nn.BatchNorm2d = self.norm  # type: ignore[assignment]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        self.conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
        bias = bn.bias - bn.running_mean * scale
        self.conv.bias = nn.Parameter(bias.clone())
        self.norm = nn.Identity()


class RVMSqueezeExcitation(nn.Module):
    """Channel attention: ``x · hardsigmoid(fc2(relu(fc1(mean_hw(x)))))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        squeezed = make_divisible(channels // 4, 8)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.fc2(F.relu(self.fc1(scale)))
        return x * F.hardsigmoid(scale)


class RVMInvertedResidual(nn.Module):
    """MobileNetV3 bottleneck; residual when shape is kept."""

    def __init__(self, cfg: InvertedResidualConfig, eps: float) -> None:
        super().__init__()
        self.expand = (RVMConvNormAct(cfg.in_channels, cfg.expanded_channels, 1,
                                      activation=cfg.activation, eps=eps)
                       if cfg.expanded_channels != cfg.in_channels else None)
        self.depthwise = RVMConvNormAct(
            cfg.expanded_channels, cfg.expanded_channels, cfg.kernel_size,
            stride=1 if cfg.dilation > 1 else cfg.stride, dilation=cfg.dilation,
            groups=cfg.expanded_channels, activation=cfg.activation, eps=eps)
        self.squeeze_excite = RVMSqueezeExcitation(cfg.expanded_channels) if cfg.use_se else None
        self.project = RVMConvNormAct(cfg.expanded_channels, cfg.out_channels, 1, eps=eps)
        self.residual = cfg.stride == 1 and cfg.in_channels == cfg.out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.depthwise(y)
        if self.squeeze_excite is not None:
            y = self.squeeze_excite(y)
        y = self.project(y)
        return y + x if self.residual else y


class RVMMobileNetV3Encoder(nn.Module):
    """MobileNetV3-Large trunk returning features at strides 2, 4, 8 and 16."""

    def __init__(self, config: RVMConfig) -> None:
        super().__init__()
        eps = config.encoder_norm_eps
        self.register_buffer("image_mean", torch.tensor(config.image_mean).reshape(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("image_std", torch.tensor(config.image_std).reshape(1, 3, 1, 1),
                             persistent=False)
        self.stem = RVMConvNormAct(3, config.stem_channels, 3, stride=2,
                                   activation="hardswish", eps=eps)
        self.blocks = nn.ModuleList(RVMInvertedResidual(b, eps) for b in config.encoder_blocks)
        last = config.encoder_blocks[-1].out_channels
        self.head = RVMConvNormAct(last, config.encoder_head_channels, 1,
                                   activation="hardswish", eps=eps)
        self.feature_blocks = tuple(config.feature_blocks)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = (x - self.image_mean) / self.image_std
        x = self.stem(x)
        skips = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.feature_blocks:
                skips.append(x)
        f1, f2, f3 = skips
        return f1, f2, f3, self.head(x)


class RVMLRASPP(nn.Module):
    """Lite R-ASPP: ``relu(bn(conv(x))) · sigmoid(gate(mean_hw(x)))``."""

    def __init__(self, in_channels: int, out_channels: int, eps: float) -> None:
        super().__init__()
        self.conv = RVMConvNormAct(in_channels, out_channels, 1, activation="relu", eps=eps)
        self.gate = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x) * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))


class RVMConvGRU(nn.Module):
    """Convolutional GRU (Ballas et al. 2016):

    ``r, z = σ(conv_ih([x, h]))``, ``c = tanh(conv_hh([x, r·h]))``,
    ``h' = (1 − z)·h + z·c``; the output is ``h'``.
    """

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.channels = channels
        self.ih = nn.Conv2d(channels * 2, channels * 2, kernel_size, padding=kernel_size // 2)
        self.hh = nn.Conv2d(channels * 2, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor, h: Tensor | None) -> Tensor:
        if h is None:
            h = torch.zeros_like(x)
        r, z = torch.sigmoid(self.ih(torch.cat([x, h], 1))).split(self.channels, 1)
        c = torch.tanh(self.hh(torch.cat([x, r * h], 1)))
        return (1 - z) * h + z * c


class RVMBottleneckBlock(nn.Module):
    """Stride 16: a ConvGRU on the second half of the channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.half = channels // 2
        self.gru = RVMConvGRU(self.half)

    def forward(self, x: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        a, b = x.split(self.half, 1)
        h = self.gru(b, h)
        return torch.cat([a, h], 1), h


def _upsample_to(x: Tensor, like: Tensor) -> Tensor:
    """×2 bilinear (half-pixel centres), then crop to ``like``'s size (odd sizes)."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    return x[:, :, : like.shape[2], : like.shape[3]]


class RVMUpsamplingBlock(nn.Module):
    """Upsample, concatenate the skip feature and the downscaled image, conv, ConvGRU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, eps: float) -> None:
        super().__init__()
        self.conv = RVMConvNormAct(in_channels + skip_channels + 3, out_channels, 3,
                                   activation="relu", eps=eps)
        self.half = out_channels // 2
        self.gru = RVMConvGRU(self.half)

    def forward(self, x: Tensor, skip: Tensor, image: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        x = self.conv(torch.cat([_upsample_to(x, image), skip, image], 1))
        a, b = x.split(self.half, 1)
        h = self.gru(b, h)
        return torch.cat([a, h], 1), h


class RVMOutputBlock(nn.Module):
    """Back to full ``src_sm`` resolution: upsample, concatenate the image, two convs."""

    def __init__(self, in_channels: int, out_channels: int, eps: float) -> None:
        super().__init__()
        self.conv1 = RVMConvNormAct(in_channels + 3, out_channels, 3, activation="relu", eps=eps)
        self.conv2 = RVMConvNormAct(out_channels, out_channels, 3, activation="relu", eps=eps)

    def forward(self, x: Tensor, image: Tensor) -> Tensor:
        return self.conv2(self.conv1(torch.cat([_upsample_to(x, image), image], 1)))


class RVMRecurrentDecoder(nn.Module):
    def __init__(self, config: RVMConfig) -> None:
        super().__init__()
        f1, f2, f3 = config.skip_channels
        c = config.decoder_channels
        eps = config.decoder_norm_eps
        self.bottleneck = RVMBottleneckBlock(config.aspp_channels)
        self.up3 = RVMUpsamplingBlock(config.aspp_channels, f3, c[0], eps)
        self.up2 = RVMUpsamplingBlock(c[0], f2, c[1], eps)
        self.up1 = RVMUpsamplingBlock(c[1], f1, c[2], eps)
        self.output = RVMOutputBlock(c[2], c[3], eps)

    def forward(self, s0: Tensor, f1: Tensor, f2: Tensor, f3: Tensor, f4: Tensor,
                state: RecurrentState | None) -> tuple[Tensor, RecurrentState]:
        r1, r2, r3, r4 = state if state is not None else (None, None, None, None)
        # Image pyramid: 2×2 means, partial windows at odd borders average the
        # pixels they have (TF "SAME" pooling == torch ceil_mode, no pad count).
        s1 = F.avg_pool2d(s0, 2, 2, ceil_mode=True, count_include_pad=False)
        s2 = F.avg_pool2d(s1, 2, 2, ceil_mode=True, count_include_pad=False)
        s3 = F.avg_pool2d(s2, 2, 2, ceil_mode=True, count_include_pad=False)
        x4, r4 = self.bottleneck(f4, r4)
        x3, r3 = self.up3(x4, f3, s3, r3)
        x2, r2 = self.up2(x3, f2, s2, r2)
        x1, r1 = self.up1(x2, f1, s1, r1)
        return self.output(x1, s0), (r1, r2, r3, r4)


def box_filter(x: Tensor, radius: int, padding: str = "same") -> Tensor:
    """Mean over a (2r+1)² window. ``"same"``: zero padding, divisor always
    (2r+1)² (as the published PyTorch model); ``"valid"``: no padding, the
    result is 2r smaller on each axis (as the TF export)."""
    k = 2 * radius + 1
    return F.avg_pool2d(x, k, 1, radius if padding == "same" else 0, count_include_pad=True)


class RVMFastGuidedFilterRefiner(nn.Module):
    """Fast guided filter (He & Sun 2015; Wu et al. 2018), parameter-free.

    On the low-resolution pair (guide ``x`` = [rgb, grey] of ``src_sm``, target
    ``y`` = [fgr_res, alpha]) per channel: ``A = cov(x, y)/(var(x) + ε)``,
    ``b = mean(y) − A·mean(x)`` (box means of radius r); then
    ``out = up(A)·x_hr + up(b)`` with bilinear upsampling to full resolution.
    """

    def __init__(self, config: RVMConfig) -> None:
        super().__init__()
        self.radius = config.guided_filter_radius
        self.eps = config.guided_filter_eps
        self.padding = config.box_filter_padding

    def forward(self, fine_src: Tensor, base_src: Tensor, base_fgr: Tensor,
                base_pha: Tensor, base_hid: Tensor,
                foreground: bool = True) -> tuple[Tensor | None, Tensor]:
        """``(fgr_res, alpha)`` at ``fine_src``'s size; ``fgr_res`` is None when
        ``foreground`` is off. Each output channel is filtered only against its
        own guide channel (alpha against the grey), so alpha alone is the same
        computation on one channel of four: the full-resolution upsampling and
        apply, most of the refiner's cost, shrink by 4×."""
        if not foreground:
            lr_x = base_src.mean(1, keepdim=True)
            lr_y = base_pha
            hr_x = fine_src.mean(1, keepdim=True)
        else:
            lr_x = torch.cat([base_src, base_src.mean(1, keepdim=True)], 1)
            lr_y = torch.cat([base_fgr, base_pha], 1)
            hr_x = torch.cat([fine_src, fine_src.mean(1, keepdim=True)], 1)
        r, pad = self.radius, self.padding
        mean_x = box_filter(lr_x, r, pad)
        mean_y = box_filter(lr_y, r, pad)
        cov_xy = box_filter(lr_x * lr_y, r, pad) - mean_x * mean_y
        var_x = box_filter(lr_x * lr_x, r, pad) - mean_x * mean_x
        a = cov_xy / (var_x + self.eps)
        b = mean_y - a * mean_x
        size = hr_x.shape[2:]
        a = F.interpolate(a, size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size, mode="bilinear", align_corners=False)
        if not foreground:
            return None, a * hr_x + b
        fgr, pha = (a * hr_x + b).split([3, 1], 1)
        return fgr, pha


class RVMDeepGuidedFilterRefiner(nn.Module):
    """Deep guided filter (Wu et al. 2018) as RVM trains it: the linear
    coefficient ``A`` is predicted by 1×1 convs from ``[cov(x, y), var(x), hid]``
    instead of ``cov/(var + ε)``; ``b = mean(y) − A·mean(x)``; both are
    upsampled bilinearly and applied to the full-resolution guide."""

    def __init__(self, config: RVMConfig) -> None:
        super().__init__()
        hid = config.refiner_hidden_channels
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        nn.init.constant_(self.box_filter.weight, 1 / 9)
        self.conv1 = RVMConvNormAct(4 * 2 + hid, hid, 1, activation="relu")
        self.conv2 = RVMConvNormAct(hid, hid, 1, activation="relu")
        self.out = nn.Conv2d(hid, 4, 1)

    def forward(self, fine_src: Tensor, base_src: Tensor, base_fgr: Tensor,
                base_pha: Tensor, base_hid: Tensor,
                foreground: bool = True) -> tuple[Tensor | None, Tensor]:
        """As the fast filter's: without ``foreground`` only alpha's coefficients
        (computed from all channels at low resolution) go up to full resolution."""
        base_x = torch.cat([base_src, base_src.mean(1, keepdim=True)], 1)
        base_y = torch.cat([base_fgr, base_pha], 1)
        mean_x = self.box_filter(base_x)
        mean_y = self.box_filter(base_y)
        cov_xy = self.box_filter(base_x * base_y) - mean_x * mean_y
        var_x = self.box_filter(base_x * base_x) - mean_x * mean_x
        a = self.out(self.conv2(self.conv1(torch.cat([cov_xy, var_x, base_hid], 1))))
        b = mean_y - a * mean_x
        size = fine_src.shape[2:]
        if not foreground:
            a, b = a[:, 3:], b[:, 3:]
            fine_x = fine_src.mean(1, keepdim=True)
        else:
            fine_x = torch.cat([fine_src, fine_src.mean(1, keepdim=True)], 1)
        a = F.interpolate(a, size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size, mode="bilinear", align_corners=False)
        if not foreground:
            return None, a * fine_x + b
        fgr, pha = (a * fine_x + b).split([3, 1], 1)
        return fgr, pha


@dataclass
class RVMOutput:
    """``alpha`` B×1×H×W and ``foreground`` B×3×H×W in [0, 1] at input
    resolution (None when the forward was asked for alpha only); ``state`` to
    pass with the next frame of the same clip."""

    alpha: Tensor
    foreground: Tensor | None
    state: RecurrentState


def downsampled_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """``(⌊H·d⌋, ⌊W·d⌋)`` — the TF export truncates the same way."""
    return max(1, int(height * ratio)), max(1, int(width * ratio))


class RVMModel(nn.Module):
    """Robust Video Matting, frame by frame with an explicit recurrent state."""

    def __init__(self, config: RVMConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RVMConfig()
        self.encoder = RVMMobileNetV3Encoder(config)
        self.aspp = RVMLRASPP(config.encoder_head_channels, config.aspp_channels,
                              config.decoder_norm_eps)
        self.decoder = RVMRecurrentDecoder(config)
        self.project_mat = nn.Conv2d(config.decoder_channels[3], 4, 1)
        self.project_seg = (nn.Conv2d(config.decoder_channels[3], 1, 1)
                            if config.with_segmentation_head else None)
        self.refiner: nn.Module = (RVMDeepGuidedFilterRefiner(config)
                                   if config.refiner == "deep_guided_filter"
                                   else RVMFastGuidedFilterRefiner(config))

    def fuse_batchnorm(self) -> RVMModel:
        """Fold every batch norm into its convolution (inference only)."""
        for m in self.modules():
            if isinstance(m, RVMConvNormAct):
                m.fuse()
        return self

    def forward(self, src: Tensor, state: RecurrentState | None = None,
                downsample_ratio: float = 1.0, foreground: bool = True) -> RVMOutput:
        """One frame. ``foreground=False`` skips the foreground colour (the
        refiner then brings only alpha to full resolution: ~1.7× faster at
        1080p on the CPU, alpha unchanged)."""
        if not 0 < downsample_ratio <= 1:
            raise ValueError(f"downsample_ratio must be in (0, 1], got {downsample_ratio}")
        if downsample_ratio != 1:
            size = downsampled_size(src.shape[2], src.shape[3], downsample_ratio)
            src_sm = F.interpolate(src, size, mode="bilinear", align_corners=False)
        else:
            src_sm = src
        f1, f2, f3, f4 = self.encoder(src_sm)
        f4 = self.aspp(f4)
        hid, state = self.decoder(src_sm, f1, f2, f3, f4, state)
        fgr_res, pha = self.project_mat(hid).split([3, 1], 1)
        if downsample_ratio != 1:
            fgr_res, pha = self.refiner(src, src_sm, fgr_res, pha, hid, foreground=foreground)
        fgr = (fgr_res + src).clamp(0, 1) if foreground and fgr_res is not None else None
        return RVMOutput(alpha=pha.clamp(0, 1), foreground=fgr, state=state)

    def segment(self, src: Tensor, state: RecurrentState | None = None) -> tuple[Tensor, RecurrentState]:
        """The segmentation head's logits (B×1×H×W) at ``src`` resolution."""
        if self.project_seg is None:
            raise RuntimeError("this model was built without the segmentation head")
        f1, f2, f3, f4 = self.encoder(src)
        hid, state = self.decoder(src, f1, f2, f3, self.aspp(f4), state)
        return self.project_seg(hid), state
