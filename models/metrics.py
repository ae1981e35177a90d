"""Matte quality metrics, defined and scaled as the matting literature reports them.

Alpha mattes are float arrays in [0, 1] of the same shape (H×W). The scale
factors follow Robust Video Matting's evaluation (Lin et al. 2022), which
follows the image matting benchmark of Rhemann et al. (2009) and the video
matting one of Erofeev et al. (2015), so our figures compare with published
tables:

- ``mad``  = mean |α̂ − α| × 10³
- ``mse``  = mean (α̂ − α)² × 10³
- ``grad`` = Σ (‖∇G_σ α̂ₙ‖ − ‖∇G_σ αₙ‖)² / 10³, gradients by first-order
  Gaussian derivative filters (σ = 1.4) of the min-max-normalised mattes
  (Rhemann et al. 2009)
- ``conn`` = Σ |φ(α̂) − φ(α)| / 10³, connectivity error (Rhemann et al.
  2009), threshold step 0.1, θ = 0.15
- ``edge_mad`` = ``mad`` over the edge band only: the pixels within
  ``width`` px (a disc) of a soft pixel (0.02 < α < 0.98) or of the 0.5
  contour of the true matte — where refining and keying differ; the whole
  frame's MAD is mostly the easy core and background
- ``dtssd`` (per frame pair) = √(Σ ((α̂ₜ − α̂ₜ₋₁) − (αₜ − αₜ₋₁))² / N) × 10²
  (Erofeev et al. 2015): temporal coherence, penalises flicker the ground
  truth does not have

Segmentation (binary masks, or mattes thresholded at 0.5), as DAVIS
(Perazzi et al. 2016; Pont-Tuset et al. 2017) defines them:

- ``jaccard`` J = |M ∩ G| / |M ∪ G| (1 when both are empty)
- ``boundary_f`` F = 2PR / (P + R) of boundary pixels matched within a
  tolerance of ⌈0.008 × image diagonal⌉ pixels (a disk)
- ``j_and_f`` = (J + F) / 2
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

# -- matting --------------------------------------------------------------


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"shapes differ: {pred.shape} vs {true.shape}")
    return pred, true


def mad(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute difference × 10³."""
    pred, true = _pair(pred, true)
    return float(np.abs(pred - true).mean() * 1e3)


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean squared error × 10³."""
    pred, true = _pair(pred, true)
    return float(((pred - true) ** 2).mean() * 1e3)


def edge_band(true: np.ndarray, width: int = 3) -> np.ndarray:
    """The boolean edge band of a true matte (see ``edge_mad``)."""
    true = np.asarray(true, dtype=np.float32)
    soft = (true > 0.02) & (true < 0.98)
    seed = (soft | boundary_map(true)).astype(np.uint8)
    return cv2.dilate(seed, _disk(width)).astype(bool) if width > 0 else seed.astype(bool)


def edge_mad(pred: np.ndarray, true: np.ndarray, width: int = 3) -> float:
    """Mean absolute difference × 10³ inside the true matte's edge band (0 if it is empty)."""
    pred, true = _pair(pred, true)
    band = edge_band(true, width)
    return float(np.abs(pred - true)[band].mean() * 1e3) if band.any() else 0.0


def gaussian_derivative_filters(sigma: float = 1.4, epsilon: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """The x and y filters of the Grad metric.

    ``fₓ[i, j] = g(i − h)·g'(j − h)``, normalised to unit L2 norm, with
    ``g`` the Gaussian of std σ, ``g'(x) = −x·g(x)/σ²``, and half size
    ``h = ⌈σ·√(−2·ln(√(2π)·σ·ε))⌉`` (where ``g`` falls below ε of its peak
    scale); ``f_y = fₓᵀ``. σ = 1.4 gives 9×9.
    """
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dg = -x * g / sigma**2
    fx = np.outer(g, dg)
    fx /= np.sqrt((fx**2).sum())
    return fx, fx.T.copy()


def _normalise(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi - lo > np.finfo(np.float32).eps else np.zeros_like(a)


def _gradient_magnitude(a: np.ndarray, fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
    gx = cv2.filter2D(a, cv2.CV_64F, fx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(a, cv2.CV_64F, fy, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx**2 + gy**2)


def grad(pred: np.ndarray, true: np.ndarray, sigma: float = 1.4) -> float:
    """Gradient error / 10³ (see the module docstring)."""
    pred, true = _pair(pred, true)
    fx, fy = gaussian_derivative_filters(sigma)
    gp = _gradient_magnitude(_normalise(pred), fx, fy)
    gt = _gradient_magnitude(_normalise(true), fx, fy)
    return float(((gp - gt) ** 2).sum() / 1e3)


def conn(pred: np.ndarray, true: np.ndarray, step: float = 0.1, theta: float = 0.15) -> float:
    """Connectivity error / 10³ (Rhemann et al. 2009).

    For thresholds t = step, 2·step, …, 1: Ω_t is the largest 4-connected
    component of {α̂ ≥ t} ∩ {α ≥ t}; each pixel's level l is the last
    threshold before it left Ω (1 if it never did). With d = α − l,
    φ(α) = 1 − d·[d ≥ θ]; the error is Σ |φ(α̂) − φ(α)|.
    """
    pred, true = _pair(pred, true)
    thresholds = np.arange(0, 1 + step, step)
    level = -np.ones_like(true)
    for i in range(1, len(thresholds)):
        both = ((true >= thresholds[i]) & (pred >= thresholds[i])).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(both, connectivity=4)
        omega = np.zeros(true.shape, dtype=bool)
        if count > 1:
            omega = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        level[(level == -1) & ~omega] = thresholds[i - 1]
    level[level == -1] = 1
    true_d = true - level
    pred_d = pred - level
    true_phi = 1 - true_d * (true_d >= theta)
    pred_phi = 1 - pred_d * (pred_d >= theta)
    return float(np.abs(true_phi - pred_phi).sum() / 1e3)


def dtssd(pred_t: np.ndarray, pred_prev: np.ndarray, true_t: np.ndarray, true_prev: np.ndarray) -> float:
    """Temporal coherence of one frame pair × 10² (see the module docstring)."""
    pred_t, true_t = _pair(pred_t, true_t)
    pred_prev, true_prev = _pair(pred_prev, true_prev)
    d = (pred_t - pred_prev) - (true_t - true_prev)
    return float(math.sqrt((d**2).sum() / true_t.size) * 1e2)


def dtssd_sequence(pred: Sequence[np.ndarray], true: Sequence[np.ndarray]) -> float:
    """Mean dtSSD over the T − 1 consecutive pairs of a clip.

    (RVM's evaluation spreadsheet also counts a 0 for the first frame, which
    scales its averages by (T − 1)/T.)
    """
    if len(pred) != len(true) or len(pred) < 2:
        raise ValueError("dtSSD needs two equally long sequences of at least two frames")
    return float(np.mean([dtssd(pred[t], pred[t - 1], true[t], true[t - 1])
                          for t in range(1, len(pred))]))


# -- segmentation (DAVIS) ---------------------------------------------------


def _binary(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    mask = np.asarray(mask)
    return mask.astype(bool) if mask.dtype == bool else mask >= threshold


def jaccard(pred: np.ndarray, true: np.ndarray) -> float:
    """Region similarity J: intersection over union (1 when both are empty)."""
    p, t = _binary(pred), _binary(true)
    union = np.logical_or(p, t).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, t).sum() / union)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-thin boundary (DAVIS ``seg2bmap`` at the mask's own size):
    pixels that differ from their right, lower or lower-right neighbour."""
    seg = _binary(mask)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return (x**2 + y**2 <= radius**2).astype(np.uint8)


def boundary_f(pred: np.ndarray, true: np.ndarray, bound_th: float = 0.008) -> float:
    """Contour accuracy F (DAVIS).

    Tolerance r = ⌈bound_th × √(H² + W²)⌉ pixels (bound_th ≥ 1: pixels as
    given). P = share of predicted boundary pixels within r of the true
    boundary, R = share of true boundary pixels within r of the predicted
    one; F = 2PR/(P + R). Both boundaries empty: 1; one empty: 0.
    """
    p, t = boundary_map(pred), boundary_map(true)
    radius = int(bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*p.shape)))
    disk = _disk(radius)
    t_dil = cv2.dilate(t.astype(np.uint8), disk).astype(bool)
    p_dil = cv2.dilate(p.astype(np.uint8), disk).astype(bool)
    n_p, n_t = int(p.sum()), int(t.sum())
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    precision = float((p & t_dil).sum() / n_p)
    recall = float((t & p_dil).sum() / n_t)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def j_and_f(pred: np.ndarray, true: np.ndarray) -> float:
    """(J + F) / 2, DAVIS's headline figure."""
    return 0.5 * (jaccard(pred, true) + boundary_f(pred, true))
