"""Matte operations: small pure torch functions, vectorised, on any device.

Every op takes a float tensor of mattes shaped ``H×W`` or ``N×H×W`` (any
number of leading dimensions; the last two are height and width) and returns
a new tensor of the same shape, dtype and device. Inputs are never modified.
Values are alpha in [0, 1]; ops whose definition could leave that range clamp.

Borders behave as if the image went on with its edge pixels (*replicate*): a
matte that touches the frame edge is neither eaten from the edge by a choke
nor faded towards it by a feather, which is what an object leaving frame needs.

The ops are written for torch so the finisher can run them where the engine's
mattes already live (GPU); :func:`on_numpy` runs any of them on numpy arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

CombineMode = Literal["union", "add", "subtract", "intersect"]


# --------------------------------------------------------------------------- helpers


def _check(a: torch.Tensor) -> None:
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(a).__name__} (see on_numpy)")
    if a.ndim < 2:
        raise ValueError(f"expected a matte shaped H×W or N×H×W, got shape {tuple(a.shape)}")
    if not a.is_floating_point():
        raise TypeError(f"expected a floating-point matte, got {a.dtype}")


def _as_planes(a: torch.Tensor) -> tuple[torch.Tensor, torch.Size, torch.dtype]:
    """View ``a`` as ``B×1×H×W`` float (float32 unless float64) for conv/pool ops."""
    shape, dtype = a.shape, a.dtype
    work = a if dtype in (torch.float32, torch.float64) else a.float()
    return work.reshape(-1, 1, shape[-2], shape[-1]), shape, dtype


def _from_planes(x: torch.Tensor, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    return x.reshape(shape).to(dtype)


def as_tensor(a: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """A float32 tensor on ``device`` from a numpy array (or tensor), copying only if needed."""
    t = torch.as_tensor(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
    return t.to(device=device, dtype=torch.float32)


def as_numpy(t: torch.Tensor, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """A numpy array of ``dtype`` from a tensor on any device."""
    return t.detach().to("cpu").numpy().astype(dtype, copy=False)


def on_numpy(op: Callable[..., torch.Tensor], a: np.ndarray, *args: object,
             device: str | torch.device = "cpu", **kwargs: object) -> np.ndarray:
    """Run ``op(tensor, *args, **kwargs)`` on a numpy matte; numpy out, same dtype as ``a``.

    Example: ``on_numpy(choke, alpha, 2.5)``.
    """
    out = op(as_tensor(a, device), *args, **kwargs)
    return as_numpy(out, a.dtype if np.issubdtype(a.dtype, np.floating) else np.float32)


# --------------------------------------------------------------------------- threshold


def threshold(a: torch.Tensor, level: float, softness: float = 0.0) -> torch.Tensor:
    """Cut the matte at ``level``.

    ``softness == 0``: a hard step, ``out = 1 if a >= level else 0``.

    ``softness > 0``: a smoothstep ramp of width ``softness`` centred on
    ``level``::

        t   = clamp((a - (level - softness / 2)) / softness, 0, 1)
        out = t² (3 - 2t)

    so ``out = 0.5`` at ``a == level``, 0 below ``level - softness/2`` and 1
    above ``level + softness/2``. Smoothstep rather than linear so the ramp
    has no visible kinks at its ends.
    """
    _check(a)
    if softness < 0:
        raise ValueError(f"softness must be >= 0, got {softness}")
    if softness == 0:
        return (a >= level).to(a.dtype)
    t = ((a - (level - softness / 2)) / softness).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------- choke


def disc_half_widths(radius: int) -> list[int]:
    """Half-width of each row ``dy = -radius .. radius`` of the digital disc.

    The disc of radius ``r`` is every offset with ``dx² + dy² <= r²``; row
    ``dy`` spans ``|dx| <= floor(sqrt(r² - dy²))``. Radius 1 is the 4-neighbour
    cross, radius 2 a 13-pixel diamond-ish disc, and large radii are round.
    """
    return [math.isqrt(radius * radius - dy * dy) for dy in range(-radius, radius + 1)]


def _dilate_disc(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey-scale dilation (max) of ``B×1×H×W`` planes by the disc of ``radius``.

    The disc is decomposed into its rows ``dy`` with half-widths ``w(dy)``.
    Row maxima come from a sparse table: ``m_p[i] = max(x[i .. i+p-1])`` for
    powers of two ``p`` (log₂ passes), and a window of odd length ``k`` is
    ``max(m_p[start], m_p[end - p + 1])`` with ``p`` the largest power of two
    ``<= k`` (two windows that overlap and together cover it). So each distinct
    half-width costs one elementwise max whatever its length, and each row of
    the disc one more, after a shift of ``dy`` that is a slice of the padded
    image. Edges replicate, which for a max over a disc is the same as ignoring
    pixels outside the frame (a clamped offset still lies inside the disc).
    """
    if radius == 0:
        return x
    r = radius
    height, width = x.shape[-2:]
    halves = disc_half_widths(r)
    tables = {1: F.pad(x, (r, r, r, r), mode="replicate")}
    p = 1
    while 2 * p <= 2 * r + 1:
        m = tables[p]
        tables[2 * p] = torch.maximum(m[..., :-p], m[..., p:])
        p *= 2
    out = None
    for w in sorted(set(halves)):
        p = 1 << ((2 * w + 1).bit_length() - 1)
        m = tables[p]
        row = torch.maximum(m[..., r - w:r - w + width], m[..., r + w - p + 1:r + w - p + 1 + width])
        for dy in (dy for dy, h in zip(range(-r, r + 1), halves, strict=True) if h == w):
            shifted = row[..., r + dy:r + dy + height, :]
            out = shifted if out is None else torch.maximum(out, shifted)
    return out


def choke(a: torch.Tensor, pixels: float) -> torch.Tensor:
    """Shrink (``pixels > 0``) or grow (``pixels < 0``) the matte.

    For an integer ``r = |pixels|`` this is grey-scale morphology with the
    digital disc ``D_r = {(dx, dy): dx² + dy² <= r²}``:

        choke r: out(p) = min over q in D_r of a(p + q)      (erosion)
        grow  r: out(p) = max over q in D_r of a(p + q)      (dilation)

    i.e. a pixel keeps the weakest (choke) or strongest (grow) alpha within
    Euclidean distance r. On a hard matte this is exactly a distance-transform
    threshold: a 7×7 square choked by 1 is the 5×5 square; grown by 1 it is
    the 9×9 square without its four corners (the disc of radius 1 is the
    4-neighbour cross). Soft mattes keep their edge profile, moved.

    A fractional amount interpolates between the two nearest integer radii::

        r0 = floor(|pixels|), f = |pixels| - r0
        out = (1 - f) · morph(a, r0) + f · morph(a, r0 + 1)

    so on a hard matte the ring between the two radii gets alpha ``1 - f``
    (choke) or ``f`` (grow), a sub-pixel edge, and the result moves
    continuously with ``pixels``. ``pixels == 0`` returns ``a`` itself.
    """
    _check(a)
    if pixels == 0:
        return a
    x, shape, dtype = _as_planes(a)
    r0 = int(math.floor(abs(pixels)))
    f = abs(pixels) - r0
    # Erosion as the dilation of the negated matte: min(x) = -max(-x), exact.
    sign = -1.0 if pixels > 0 else 1.0
    lo = sign * _dilate_disc(sign * x, r0)
    out = lo if f == 0 else (1.0 - f) * lo + f * (sign * _dilate_disc(sign * x, r0 + 1))
    return _from_planes(out, shape, dtype)


# --------------------------------------------------------------------------- feather


def gaussian_kernel(sigma: float, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The normalised 1-D gaussian ``exp(-x² / 2σ²)`` for ``x = -R .. R``, ``R = ceil(3σ)``."""
    radius = max(1, math.ceil(3.0 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def feather(a: torch.Tensor, sigma: float) -> torch.Tensor:
    """Soften the matte with a gaussian blur of standard deviation ``sigma`` pixels.

    Separable: the 1-D kernel of :func:`gaussian_kernel` (truncated at 3σ and
    normalised to sum 1, so a flat matte stays flat) runs along the rows, then
    the columns, over a replicate-padded image. ``sigma == 0`` returns ``a``
    itself.
    """
    _check(a)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return a
    x, shape, dtype = _as_planes(a)
    k = gaussian_kernel(sigma, x.device, x.dtype)
    r = (k.numel() - 1) // 2
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return _from_planes(x.clamp(0.0, 1.0), shape, dtype)


# --------------------------------------------------------------------------- levels


def clip(a: torch.Tensor, black: float = 0.0, white: float = 1.0) -> torch.Tensor:
    """Levels: ``out = clamp((a - black) / (white - black), 0, 1)``.

    Alpha at or below ``black`` becomes 0, at or above ``white`` becomes 1 —
    the compositor's "clip black / clip white" that cleans grey noise out of a
    matte's core and background.
    """
    _check(a)
    if not white > black:
        raise ValueError(f"white ({white}) must be above black ({black})")
    return ((a - black) / (white - black)).clamp(0.0, 1.0)


def invert(a: torch.Tensor) -> torch.Tensor:
    """``out = 1 - a``: the background instead of the object."""
    _check(a)
    return 1.0 - a


# --------------------------------------------------------------------------- combine


def combine(layers: Sequence[torch.Tensor] | torch.Tensor, mode: CombineMode) -> torch.Tensor:
    """Merge several mattes into one.

    ``layers`` is a sequence of equally shaped mattes, or one tensor whose
    first dimension indexes them. With ``a0, a1, ...`` the layers in order:

    - ``union``:     ``max(a0, a1, ...)``
    - ``add``:       ``clamp(a0 + a1 + ..., 0, 1)``
    - ``subtract``:  ``clamp(a0 - (a1 + a2 + ...), 0, 1)`` (the first minus the rest)
    - ``intersect``: ``min(a0, a1, ...)``

    One layer comes back unchanged (clamped to [0, 1] for add/subtract).
    """
    stack = layers if isinstance(layers, torch.Tensor) else None
    if stack is None:
        if len(layers) == 0:
            raise ValueError("combine needs at least one layer")
        shapes = {tuple(t.shape) for t in layers}
        if len(shapes) != 1:
            raise ValueError(f"combine needs layers of one shape, got {sorted(shapes)}")
        stack = torch.stack(list(layers))
    if stack.ndim < 3 or stack.shape[0] == 0:
        raise ValueError(f"combine needs a stack of H×W layers, got shape {tuple(stack.shape)}")
    _check(stack)
    if mode == "union":
        return stack.amax(dim=0)
    if mode == "intersect":
        return stack.amin(dim=0)
    if mode == "add":
        return stack.sum(dim=0).clamp(0.0, 1.0)
    if mode == "subtract":
        return (stack[0] - stack[1:].sum(dim=0)).clamp(0.0, 1.0)
    raise ValueError(f"unknown combine mode {mode!r}; use union, add, subtract or intersect")
