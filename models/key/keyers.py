"""The key formulas: pure torch functions from RGB images to alpha.

Images are ``H×W×3`` float RGB in [0, 1] (channels last, as frames arrive),
on any device; alpha comes back ``H×W`` in [0, 1], foreground 1, screen or
clean background 0. The engine in :mod:`.engine_key` wraps these with options,
clean-plate reading and streaming.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .options import MIN_SCREEN_DOMINANCE, SCREEN_CHANNELS  # noqa: F401 (the card owns them)

MIN_MEASURED_DOMINANCE = 0.1
"""Floor of the per-frame screen strength, so a frame without screen keys nothing out."""

_MAX_SAMPLES = 1 << 16


def dominance(rgb: torch.Tensor, channel: int) -> torch.Tensor:
    """The colour difference ``x_c - max(x_j, x_k)`` of ``channel`` c over the other two.

    For a green screen this is ``g - max(r, b)`` (Vlahos' colour-difference
    matte): large on the screen, zero or negative on neutral and non-green
    colours, and — because ``max`` moves with the mix — exactly
    ``(1 - α)·dominance(screen)`` on an edge pixel where a neutral foreground
    covers the screen with coverage α.
    """
    j, k = (i for i in range(3) if i != channel)
    return rgb[..., channel] - torch.maximum(rgb[..., j], rgb[..., k])


def measure_screen_dominance(dom: torch.Tensor) -> torch.Tensor:
    """How strongly the screen dominates in this frame (a 0-d tensor).

    ``median(dom[dom >= 0.5 · q99(dom)])``: the typical dominance of the
    pixels that are clearly screen (at least half as dominant as the frame's
    99th percentile), floored at :data:`MIN_MEASURED_DOMINANCE`. Measured on a
    regular subsample of at most 2¹⁶ pixels; it depends on this frame only, so
    any frame can be keyed alone (the engine is not temporal).
    """
    step = 1
    while dom.numel() // (step * step) > _MAX_SAMPLES:
        step += 1
    sample = dom[::step, ::step].reshape(-1).float()
    q99 = torch.kthvalue(sample, max(1, int(round(0.99 * sample.numel())))).values
    strong = sample[sample >= 0.5 * q99]
    level = strong.median() if strong.numel() else q99
    return level.clamp(min=MIN_MEASURED_DOMINANCE)


def chroma_alpha(rgb: torch.Tensor, channel: int, screen_dominance: float | torch.Tensor,
                 tolerance: float, softness: float, spill: float) -> torch.Tensor:
    """Colour-difference chroma key.

    With ``D`` the screen's own dominance (of a given screen colour, or
    measured per frame by :func:`measure_screen_dominance`)::

        k     = clamp(dominance(p) / D, 0, 1)         screen-ness: 1 screen, 0 neutral
        k'    = k ** (1 + 2·spill)                    spill-aware bend
        hi    = 1 - tolerance
        alpha = clamp((hi - k') / softness, 0, 1)     (softness 0: alpha = [k' < hi])

    ``tolerance`` lets screen that is weaker than ``D`` (shadows, falloff)
    still key fully; ``softness`` is the width, in screen-ness, of the ramp
    from fully keyed (``k' >= hi``) to fully opaque (``k' <= hi - softness``).
    With ``spill = 0`` and ``tolerance = 0, softness = 1``, alpha equals the
    coverage α of a neutral foreground over the screen (soft, linear edges).

    Why the bend: a foreground pixel tinted by light bounced off the screen
    (spill) has a *weak* positive dominance, while an edge pixel that is
    mostly screen has a *strong* one. Raising k to a power above 1 pushes weak
    dominance towards 0 (foreground kept opaque) and leaves strong dominance
    near 1 (keyed), so spill-tinted surfaces do not turn semi-transparent;
    the price is that thin edges become somewhat more opaque as ``spill``
    grows. The screen (k = 1) and neutral colours (k = 0) are unaffected.
    """
    k = (dominance(rgb, channel) / screen_dominance).clamp(0.0, 1.0)
    if spill:
        k = k.pow(1.0 + 2.0 * spill)
    hi = 1.0 - tolerance
    if softness == 0:
        return (k < hi).to(rgb.dtype)
    return ((hi - k) / softness).clamp(0.0, 1.0)


def difference_alpha(rgb: torch.Tensor, plate: torch.Tensor, threshold: float,
                     softness: float) -> torch.Tensor:
    """Difference key against a clean plate (the same shot without the object).

    ::

        d     = |p - plate| / √3                      RGB distance, in [0, 1]
        alpha = clamp((d - threshold) / softness, 0, 1)   (softness 0: alpha = [d > threshold])

    ``threshold`` absorbs noise and grain (differences at or below it are
    background); ``softness`` is the width of the ramp above it.
    """
    d = torch.linalg.vector_norm(rgb - plate, dim=-1) / (3.0 ** 0.5)
    if softness == 0:
        return (d > threshold).to(rgb.dtype)
    return ((d - threshold) / softness).clamp(0.0, 1.0)


# --------------------------------------------------------------------------- screen keyer
#
# The "screen" keyer (the default): what Keylight / IBK do, in four steps.
#
# 1. Linear light. A soft edge is a mix of light, ``I = α·F + (1 − α)·S``, in
#    linear values; code values (sRGB / Rec.709) are not linear in α, so keying
#    them bends every soft edge. The frame is decoded first.
# 2. A screen colour field (a clean-plate estimate from the frame itself):
#    the pixels that are surely screen are averaged over large neighbourhoods
#    by normalised convolution at ≈48 px, holes where the subject stands
#    filled from ever wider neighbourhoods; so an unevenly lit screen (hot
#    spot, fall-off, shadows) is compared with its own local colour, not one
#    global one.
# 3. Screen-ness ``k = gain · dominance(I) / dominance(S(x))``, the dominance
#    optionally balanced (``balance``: 1 = the max of the other two channels,
#    Vlahos' colour difference; 0 = their mean), after a light blur of the
#    dominance by the grain's size where grain was measured. The grain's
#    strength σ (robust std of k over the screen pixels) sets the tolerance:
#    k above ``hi = 1 − 2σ`` (σ ≥ 0.005) is screen, k below ``1 − softness`` is subject.
#    Edge matte: ``clamp((hi − k)/(hi − 1 + softness))``.
# 4. A core matte from a hard key of a more strongly blurred k (k < 0.4,
#    eroded 1 px) is combined with the edge matte (max): spill-lit or
#    greenish surfaces inside the subject stay opaque, the soft key keeps the
#    edges and strands.


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB / Rec.709 display code values in [0, 1] to linear light."""
    x = x.clamp(0.0, 1.0)
    # exp(2.4·log) rather than ``** 2.4``: the same values (to 1 ulp), ~2× faster on CPU
    hi = x.add(0.055).div_(1.055).log_().mul_(2.4).exp_()
    return torch.where(x <= 0.04045, x / 12.92, hi)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    # x^(1/2.4) as in srgb_to_linear; clamped to the branch's own range first, as log(0)
    # (the foreground is 0 wherever alpha is) takes a slow path: ~4× the time of the rest
    hi = x.clamp(min=0.0031308).log_().mul_(1 / 2.4).exp_().mul_(1.055).sub_(0.055)
    return torch.where(x <= 0.0031308, 12.92 * x, hi)


def balanced_dominance(rgb: torch.Tensor, channel: int, balance: float = 1.0) -> torch.Tensor:
    """``x_c − (b·max(x_j, x_k) + (1 − b)·mean(x_j, x_k))``; ``b = 1`` is :func:`dominance`."""
    j, k = (i for i in range(3) if i != channel)
    if balance == 1.0:
        return dominance(rgb, channel)
    other = balance * torch.maximum(rgb[..., j], rgb[..., k]) + (1 - balance) * 0.5 * (rgb[..., j] + rgb[..., k])
    return rgb[..., channel] - other


def _blur_unclamped(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable gaussian (:func:`ops.gaussian_kernel`) of ``B×C×H×W`` planes, edges replicated.

    Each pass is a sum of shifted slices of the padded planes, one
    multiply-add per tap: on CPU ~8× faster than a depthwise ``conv2d`` with
    a 1×K kernel (mkldnn's grouped path), with the same values up to float
    rounding (bench/bench_key.py)."""
    import torch.nn.functional as F

    from ..finish import ops

    taps = ops.gaussian_kernel(sigma, "cpu", torch.float64).tolist()
    r = (len(taps) - 1) // 2
    h, w = x.shape[-2:]
    p = F.pad(x, (r, r, 0, 0), mode="replicate")
    row = p[..., 0:w] * taps[0]
    for i in range(1, len(taps)):
        row.add_(p[..., i:i + w], alpha=taps[i])
    p = F.pad(row, (0, 0, r, r), mode="replicate")
    out = p[..., 0:h, :] * taps[0]
    for i in range(1, len(taps)):
        out.add_(p[..., i:i + h, :], alpha=taps[i])
    return out


def _window_max(x: torch.Tensor, win: int, dim: int) -> torch.Tensor:
    """Running max over an odd window ``win`` (centred) along ``dim``, edges replicated.

    Exactly ``max_pool2d`` with stride 1 and padding ``win // 2`` (a replicated
    edge adds no new value to a max), but from a sparse table: ``m_p[i] =
    max(x[i .. i+p-1])`` for powers of two ``p`` (log₂ win passes), and the
    window is ``max(m_p[i], m_p[i + win - p])`` for the largest ``p <= win``.
    O(log win) per pixel instead of O(win): a 91 px window at 1080p costs
    ~15 ms here, not ~400 ms.
    """
    import torch.nn.functional as F

    r = win // 2
    n = x.shape[dim]
    pad = (r, r, 0, 0) if dim == x.dim() - 1 else (0, 0, r, r)
    m = F.pad(x, pad, mode="replicate")
    p = 1
    while 2 * p <= win:
        m = torch.maximum(m.narrow(dim, 0, m.shape[dim] - p), m.narrow(dim, p, m.shape[dim] - p))
        p *= 2
    return torch.maximum(m.narrow(dim, 0, n), m.narrow(dim, win - p, n))


FIELD_SIDE = 48
"""The screen field is estimated at this many pixels on the long side."""


def screen_pixels(rgb: torch.Tensor, channel: int, balance: float = 1.0,
                  dom: torch.Tensor | None = None) -> torch.Tensor:
    """H×W bool: pixels that are surely screen — dominance at least 0.7 of
    the strongest (lightly blurred against grain) nearby (a window of 1/12 of
    the short side: the screen's own local strength, so fall-off is followed
    while half-covered edge pixels are left out) and at least 0.25 of the
    frame's 99th percentile; then eroded by 2 px away from anything else.
    ``dom``: :func:`balanced_dominance` of ``rgb`` when the caller has it already."""
    from ..finish import ops

    d = balanced_dominance(rgb, channel, balance) if dom is None else dom
    step = 1
    while d.numel() // (step * step) > _MAX_SAMPLES:
        step += 1
    sample = d[::step, ::step].reshape(-1).float()
    q99 = torch.kthvalue(sample, max(1, int(round(0.99 * sample.numel())))).values
    if q99 <= MIN_SCREEN_DOMINANCE * 0.25:
        return torch.zeros_like(d, dtype=torch.bool)
    ds = _blur_unclamped(d[None, None], 1.0)
    win = max(3, min(d.shape) // 12) | 1
    # a square max is a row max then a column max, each from a sparse table: the same
    # values in O(log win) per pixel, not O(win²) (the square window took ~50 s a frame
    # at 1080p, the separable max_pool2d ~1 s; bench/bench_key.py)
    local = _window_max(_window_max(ds, win, 3), win, 2)
    cand = ((d >= 0.7 * local[0, 0]) & (ds[0, 0] >= 0.25 * q99)).to(rgb.dtype)
    return ops.choke(cand, 2.0) > 0.5


def screen_field(rgb: torch.Tensor, mask: torch.Tensor, side: int = FIELD_SIDE) -> torch.Tensor | None:
    """H×W×3: the screen's colour at every pixel, from the ``mask`` pixels of
    ``rgb`` (normalised convolution at ``side`` px, holes filled from wider
    neighbourhoods); None when there are no screen pixels."""
    import torch.nn.functional as F

    if not bool(mask.any()):
        return None
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    size = (max(2, round(h * scale)), max(2, round(w * scale)))
    m = mask.to(rgb.dtype)
    # masked in H×W×3, then viewed as channels-last 1×3×H×W: no strided full-res product
    num = F.interpolate((rgb * m[..., None]).permute(2, 0, 1)[None], size, mode="area")
    den = F.interpolate(m[None, None], size, mode="area")
    field = torch.zeros_like(num)
    have = torch.zeros_like(den)
    for sigma in (1.0, 2.0, 4.0, 8.0, 16.0):
        n, d = _blur_unclamped(torch.cat([num, den], 1), sigma).split([3, 1], 1)
        ok = (d > 0.05).to(rgb.dtype) * (1 - have)
        field = field + ok * n / d.clamp(min=1e-6)
        have = have + ok
        if bool((have > 0).all()):
            break
    if bool((have < 1).any()):
        mean = num.sum((2, 3), keepdim=True) / den.sum((2, 3), keepdim=True).clamp(min=1e-6)
        field = field + (1 - have) * mean
    field = _blur_unclamped(field, 1.0).contiguous(memory_format=torch.channels_last)
    # channels-last in, so the full-res field comes out as a contiguous H×W×3 (same values)
    return F.interpolate(field, (h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0)


def grain_sigma(k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Robust std (1.4826 · median absolute deviation) of screen-ness over the screen pixels."""
    vals = k[mask]
    if vals.numel() < 64:
        return torch.zeros((), dtype=k.dtype, device=k.device)
    if vals.numel() > _MAX_SAMPLES:
        vals = vals[:: vals.numel() // _MAX_SAMPLES + 1]
    med = vals.median()
    return 1.4826 * (vals - med).abs().median()


@dataclass
class ScreenKey:
    """What the screen keyer found (tensors on the frame's device)."""

    alpha: torch.Tensor  # H×W
    screen: torch.Tensor  # H×W×3, the screen colour field, in the keyed (linear) space
    grain: float  # σ of screen-ness on the screen
    tolerance: float  # used
    keyed: torch.Tensor | None = None  # H×W×3, the frame as keyed (linear), for despilled_foreground


def screen_key(rgb: torch.Tensor, channel: int, *, screen: torch.Tensor | None = None,
               field: bool = True, linear: bool = True, balance: float = 1.0, gain: float = 1.0,
               tolerance: float | None = None, softness: float = 0.8, spill: float = 0.0,
               grain_blur: float | None = None, core: bool = True) -> ScreenKey:
    """The screen keyer (the block comment above) on one ``H×W×3`` frame.

    ``screen``: a fixed screen colour (display-referred) used where ``field``
    is off or finds no screen. ``tolerance`` None: ``min(0.3, max(0.01, 2σ))`` of the
    measured grain. ``grain_blur`` None: ``0.8 · min(1, σ/0.05)`` px.
    """
    x = srgb_to_linear(rgb) if linear else rgb.clamp(0.0, 1.0)
    dx = balanced_dominance(x, channel, balance)
    mask = screen_pixels(x, channel, balance, dx)
    s = screen_field(x, mask) if field else None
    if s is None:
        if screen is not None:
            colour = srgb_to_linear(screen) if linear else screen
            s = colour.to(x).expand_as(x)
        elif bool(mask.any()):
            s = x[mask].median(0).values.expand_as(x)
        else:
            s = None
    if s is None:  # no screen anywhere: everything is subject
        ones = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
        return ScreenKey(ones, x, 0.0, 0.0, x)
    ds = balanced_dominance(s, channel, balance).clamp(min=MIN_SCREEN_DOMINANCE * 0.25)
    k = torch.mul(dx, gain).div_(ds)
    sigma = float(grain_sigma(k, mask)) if bool(mask.any()) else 0.0
    blur = grain_blur if grain_blur is not None else 0.8 * min(1.0, sigma / 0.05)
    k = k.clamp_(-0.5, 1.5)  # a saturated subject must not bleed into its neighbours
    if blur > 0.05:
        k = _blur_unclamped(k[None, None], blur)[0, 0]
        sigma *= 0.5 / max(0.5, blur)
    tol = tolerance if tolerance is not None else min(0.3, max(0.01, 2.0 * sigma))
    # Opaque below 1 − softness whatever the tolerance: the ramp spans the rest.
    alpha = chroma_alpha_k(k, tol, max(0.0, softness - tol) if softness > 0 else 0.0, spill)
    if core:
        from ..finish import ops

        kb = _blur_unclamped(k.clamp(0.0, 1.0)[None, None], 2.0)[0, 0]
        solid = ops.choke((kb < 0.4).to(alpha.dtype), 1.0)
        alpha = torch.maximum(alpha, solid)
    return ScreenKey(alpha, s, sigma, tol, x)


def chroma_alpha_k(k: torch.Tensor, tolerance: float, softness: float, spill: float) -> torch.Tensor:
    """:func:`chroma_alpha`'s mapping from screen-ness ``k`` (already relative to the screen)."""
    k = k.clamp(0.0, 1.0)
    if spill:
        k = k.pow(1.0 + 2.0 * spill)
    hi = 1.0 - tolerance
    if softness == 0:
        return (k < hi).to(k.dtype)
    return ((hi - k) / softness).clamp(0.0, 1.0)


def despilled_foreground(rgb: torch.Tensor, alpha: torch.Tensor, screen: torch.Tensor, channel: int, *,
                         linear: bool = True, strength: float = 1.0,
                         keyed: torch.Tensor | None = None) -> torch.Tensor:
    """The subject's own colour (H×W×3, un-premultiplied, display-referred
    like ``rgb``): the screen's light taken out by unmixing,
    ``α·F = I − (1 − α)·S(x)`` (in linear light), then despilled — the
    screen channel limited to the larger of the other two, by ``strength``.
    0 where alpha is 0. ``keyed``: ``rgb`` already decoded (:attr:`ScreenKey.keyed`),
    so the frame is not decoded twice."""
    if keyed is not None:
        x = keyed
    else:
        x = srgb_to_linear(rgb) if linear else rgb.clamp(0.0, 1.0)
    a = alpha.unsqueeze(-1)
    # in place on one H×W×3 temporary (x − (1 − α)·S written as (α − 1)·S + x: the same floats)
    pre = torch.mul(a - 1, screen).add_(x).clamp_(min=0.0)
    j, k = (i for i in range(3) if i != channel)
    over = (pre[..., channel] - torch.maximum(pre[..., j], pre[..., k])).clamp_(min=0.0)
    pre[..., channel].sub_(over, alpha=strength)
    fg = pre.div_(a.clamp(min=1e-3)).clamp_(0.0, 1.0).mul_(a > 1e-3)  # 0 where alpha is 0
    return linear_to_srgb(fg) if linear else fg
