"""Edge refinement: turn a hard or coarse matte into soft alpha guided by the image.

A finishing stage for any engine's output (a tracker's binary mask, a coarse
semantic map, a person matte). Two methods:

- **guided filter** (He, Sun & Tang, "Guided Image Filtering", TPAMI 2013;
  fast variant: He & Sun 2015): a local linear model of alpha in the image's
  colours. In each window ω_k of radius r, with guide I (RGB) and input p::

      a_k = (Σ_k + ε·U)⁻¹ · cov_k(I, p)        (3-vector; Σ_k = cov_k(I, I), 3×3)
      b_k = mean_k(p) − a_kᵀ · mean_k(I)
      q(x) = mean_{k∋x}(a_k)ᵀ · I(x) + mean_{k∋x}(b_k)

  so alpha edges snap to colour edges and become as soft as the image's own.
  The fast variant computes a, b at 1/s resolution and upsamples their means
  bilinearly before applying them to the full-resolution guide: cost ∝ pixels/s².
  Pure torch, batched, runs where the tensors are (GPU or CPU).

- **ViTMatte** (Yao et al., "ViTMatte: Boosting Image Matting with Pretrained
  Plain Vision Transformers", 2023) through ``transformers``'
  ``VitMatteForImageMatting``: a trimap-based matting network, the quality
  option (slower, needs its weights).

Both only change an **unknown band** around the matte's edge: the trimap is
the binarised matte (≥ 0.5) eroded by ``band`` pixels (known foreground, 1)
and dilated by ``band`` (beyond it known background, 0); the rest is unknown
(0.5). Known regions come out exactly 0 or 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..frames import Frame, Matte
from . import ops

UNKNOWN = 0.5


def _image_tensor(image: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """H×W×3 (numpy or tensor) or B×3×H×W tensor → B×3×H×W float32 on ``device``."""
    t = torch.as_tensor(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    t = t.to(device=device, dtype=torch.float32)
    return t.permute(2, 0, 1).unsqueeze(0) if t.ndim == 3 and t.shape[-1] == 3 else t


def _matte_tensor(matte: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """H×W or B×1×H×W → B×1×H×W float32 on ``device``."""
    t = ops.as_tensor(matte, device)
    return t.reshape(1, 1, *t.shape) if t.ndim == 2 else t


def trimap_from_mask(matte: torch.Tensor, band: float) -> torch.Tensor:
    """0 (background), 0.5 (unknown), 1 (foreground) from a matte of any softness.

    ``fg = erode(m ≥ 0.5, band)``, ``maybe = dilate(m ≥ 0.5, band)``,
    ``trimap = (fg + maybe) / 2``; erosion and dilation by the digital disc of
    radius ``band`` (:func:`ops.choke`).
    """
    hard = (matte >= 0.5).to(torch.float32)
    if band <= 0:
        return hard
    fg = ops.choke(hard, float(band))
    maybe = ops.choke(hard, -float(band))
    return 0.5 * (fg + maybe)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)² window clipped to the image (He's ``f_mean``,
    normalised by the number of pixels inside), separable: O(r) per pixel."""
    if radius <= 0:
        return x
    k = 2 * radius + 1
    x = F.avg_pool2d(x, (k, 1), 1, (radius, 0), count_include_pad=False)
    return F.avg_pool2d(x, (1, k), 1, (0, radius), count_include_pad=False)


def _solve3(sigma: list[list[torch.Tensor]], v: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-pixel solution of the symmetric 3×3 system Σ·a = v by the adjugate
    (Cramer's rule): elementwise, so it batches on any device."""
    (a, b, c), (_, d, e), (_, _, f) = sigma
    i00 = d * f - e * e
    i01 = c * e - b * f
    i02 = b * e - c * d
    i11 = a * f - c * c
    i12 = b * c - a * e
    i22 = a * d - b * b
    det = a * i00 + b * i01 + c * i02
    return [(i00 * v[0] + i01 * v[1] + i02 * v[2]) / det,
            (i01 * v[0] + i11 * v[1] + i12 * v[2]) / det,
            (i02 * v[0] + i12 * v[1] + i22 * v[2]) / det]


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float,
                  subsample: int = 1) -> torch.Tensor:
    """Colour (3-channel guide) or grey (1-channel) fast guided filter.

    ``guide`` B×C×H×W (C = 1 or 3), ``src`` B×1×H×W; ``radius`` in full-resolution
    pixels; ``subsample`` s ≥ 1 computes the coefficients at 1/s (radius r/s).
    Returns B×1×H×W (not clamped). Formulas in the module docstring.
    """
    if guide.shape[1] not in (1, 3):
        raise ValueError(f"the guide must have 1 or 3 channels, got {guide.shape[1]}")
    full = guide.shape[-2:]
    s = max(1, int(subsample))
    if s > 1:
        size = (max(1, full[0] // s), max(1, full[1] // s))
        lo_i = F.interpolate(guide, size, mode="bilinear", align_corners=False, antialias=True)
        lo_p = F.interpolate(src, size, mode="bilinear", align_corners=False, antialias=True)
    else:
        lo_i, lo_p = guide, src
    r = max(1, round(radius / s))
    mean_p = box_mean(lo_p, r)
    if guide.shape[1] == 1:
        mean_i = box_mean(lo_i, r)
        var = box_mean(lo_i * lo_i, r) - mean_i * mean_i
        a = (box_mean(lo_i * lo_p, r) - mean_i * mean_p) / (var + eps)
        b = mean_p - a * mean_i
    else:
        ch = lo_i.unbind(1)
        mean_i = [box_mean(c.unsqueeze(1), r) for c in ch]
        cov_ip = [box_mean((c.unsqueeze(1) * lo_p), r) - m * mean_p for c, m in zip(ch, mean_i, strict=True)]
        sig = [[None] * 3 for _ in range(3)]
        for i in range(3):
            for j in range(i, 3):
                v = box_mean((ch[i] * ch[j]).unsqueeze(1), r) - mean_i[i] * mean_i[j]
                sig[i][j] = sig[j][i] = v + eps if i == j else v
        coeff = _solve3(sig, cov_ip)
        a = torch.cat(coeff, 1)
        b = mean_p - sum(ck * mk for ck, mk in zip(coeff, mean_i, strict=True))
    mean_a = box_mean(a, r)
    mean_b = box_mean(b, r)
    if s > 1:
        mean_a = F.interpolate(mean_a, full, mode="bilinear", align_corners=False)
        mean_b = F.interpolate(mean_b, full, mode="bilinear", align_corners=False)
    return (mean_a * guide).sum(1, keepdim=True) + mean_b


def auto_subsample(height: int, width: int, radius: int) -> int:
    """Coefficients at about 540 px on the short side, never coarser than r/2:
    ``s = max(1, min(⌊min(H, W)/540⌋, ⌊r/2⌋))``."""
    return max(1, min(min(height, width) // 540, radius // 2))


def refine_guided(image: np.ndarray | torch.Tensor, matte: np.ndarray | torch.Tensor, *,
                  band: float = 8, radius: int | None = None, eps: float = 1e-4,
                  subsample: int | None = None, device: str | torch.device | None = None
                  ) -> np.ndarray | torch.Tensor:
    """Soft alpha in the unknown band from the colour guided filter.

    ``image`` H×W×3 RGB in [0, 1] (or B×3×H×W tensor), ``matte`` H×W (or
    B×1×H×W). ``radius`` defaults to ``band``: the window spans the band.
    Returns the same kind (numpy H×W or tensor B×1×H×W) as ``matte``.

    Only the bounding box of the unknown band, plus ``2r + 2s`` pixels of
    context (the reach of the filter's two box means), is filtered: at
    ``subsample == 1`` that is exactly the full-frame result inside the band.
    """
    as_numpy = isinstance(matte, np.ndarray)
    dev = torch.device(device) if device is not None else (
        matte.device if isinstance(matte, torch.Tensor) else torch.device("cpu"))
    m = _matte_tensor(matte, dev)
    guide = _image_tensor(image, dev)
    r = int(radius if radius is not None else max(1, round(band)))
    s = subsample if subsample is not None else auto_subsample(m.shape[-2], m.shape[-1], r)
    trimap = trimap_from_mask(m, band)
    unknown = (trimap == UNKNOWN).any(dim=(0, 1))
    out = trimap.clone()
    if unknown.any():
        ys = torch.nonzero(unknown.any(1)).flatten()
        xs = torch.nonzero(unknown.any(0)).flatten()
        pad = 2 * r + 2 * s
        h, w = m.shape[-2:]
        y0, y1 = max(0, int(ys[0]) - pad), min(h, int(ys[-1]) + 1 + pad)
        x0, x1 = max(0, int(xs[0]) - pad), min(w, int(xs[-1]) + 1 + pad)
        q = guided_filter(guide[..., y0:y1, x0:x1], m[..., y0:y1, x0:x1], r, eps, s).clamp_(0, 1)
        region = trimap[..., y0:y1, x0:x1]
        out[..., y0:y1, x0:x1] = torch.where(region == UNKNOWN, q, region)
    return ops.as_numpy(out[0, 0]) if as_numpy else out


class ViTMatteRefiner:
    """Trimap-based matting with ViTMatte, restricted to the unknown band.

    Input preparation is what ``VitMatteImageProcessor`` does, in torch on the
    model's device: image ``(x − 0.5)/0.5``, trimap in {0, 128/255, 1} as a 4th
    channel, zero-padded right/bottom to a multiple of 32. Only the bounding
    box of the unknown band (plus ``margin`` pixels of context) goes through
    the network.
    """

    SIZE_DIVISOR = 32

    def __init__(self, model: torch.nn.Module, *, band: float = 10, margin: int = 32) -> None:
        self.model = model.eval()
        self.band = band
        self.margin = margin

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, *, device: str | torch.device = "cpu",
                        **kwargs) -> ViTMatteRefiner:
        """Load from a local folder or the hub cache (never downloads)."""
        from transformers import VitMatteForImageMatting

        model = VitMatteForImageMatting.from_pretrained(str(name_or_path), local_files_only=True)
        return cls(model.to(device), **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @staticmethod
    def network_input(image: torch.Tensor, trimap: torch.Tensor, divisor: int = 32) -> torch.Tensor:
        """B×4×H'×W' pixel values (H', W' padded up to ``divisor``)."""
        tri = torch.where(trimap == UNKNOWN, torch.full_like(trimap, 128 / 255), trimap)
        x = torch.cat([(image - 0.5) / 0.5, tri], 1)
        h, w = x.shape[-2:]
        return F.pad(x, (0, (-w) % divisor, 0, (-h) % divisor))

    @torch.inference_mode()
    def __call__(self, image: np.ndarray | torch.Tensor, matte: np.ndarray | torch.Tensor
                 ) -> np.ndarray | torch.Tensor:
        as_numpy = isinstance(matte, np.ndarray)
        dev = self.device
        m = _matte_tensor(matte, dev)
        guide = _image_tensor(image, dev)
        trimap = trimap_from_mask(m, self.band)
        unknown = trimap == UNKNOWN
        out = trimap.clone()
        if unknown.any():
            ys, xs = torch.nonzero(unknown[0, 0], as_tuple=True)
            h, w = m.shape[-2:]
            y0 = max(0, int(ys.min()) - self.margin)
            y1 = min(h, int(ys.max()) + 1 + self.margin)
            x0 = max(0, int(xs.min()) - self.margin)
            x1 = min(w, int(xs.max()) + 1 + self.margin)
            crop_t = trimap[..., y0:y1, x0:x1]
            x = self.network_input(guide[..., y0:y1, x0:x1], crop_t, self.SIZE_DIVISOR)
            alphas = self.model(pixel_values=x).alphas[..., : y1 - y0, : x1 - x0]
            region = out[..., y0:y1, x0:x1]
            out[..., y0:y1, x0:x1] = torch.where(crop_t == UNKNOWN, alphas.to(region.dtype).clamp(0, 1), region)
        return ops.as_numpy(out[0, 0]) if as_numpy else out


def refine_matte(frame: Frame, matte: Matte, refiner=None, **kwargs) -> Matte:
    """Every layer of ``matte`` refined against ``frame.image``: with
    ``refiner`` (e.g. a :class:`ViTMatteRefiner`) if given, else
    :func:`refine_guided` with ``kwargs``. Scores are kept."""
    def one(layer: np.ndarray) -> np.ndarray:
        return refiner(frame.image, layer) if refiner is not None else refine_guided(frame.image, layer, **kwargs)
    return Matte(matte.number, {k: one(v) for k, v in matte.layers.items()}, dict(matte.scores))
