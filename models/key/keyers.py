"""The key formulas: pure torch functions from RGB images to alpha.

Images are ``H×W×3`` float RGB in [0, 1] (channels last, as frames arrive),
on any device; alpha comes back ``H×W`` in [0, 1], foreground 1, screen or
clean background 0. The engine in :mod:`.engine_key` wraps these with options,
clean-plate reading and streaming.
"""

from __future__ import annotations

import torch

SCREEN_CHANNELS = {"green": 1, "blue": 2}

MIN_SCREEN_DOMINANCE = 0.05
"""A screen colour must exceed its other two channels by at least this much."""

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
