"""Matting and segmentation metrics against hand-computed small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmatte.models import metrics


def test_mad_and_mse_scaled_by_1e3() -> None:
    pred = np.array([[0.0, 1.0], [0.5, 0.5]])
    true = np.array([[0.0, 0.0], [1.0, 0.5]])
    # |Δ| = 0, 1, 0.5, 0 → mean 0.375; Δ² = 0, 1, 0.25, 0 → mean 0.3125
    assert metrics.mad(pred, true) == pytest.approx(375.0)
    assert metrics.mse(pred, true) == pytest.approx(312.5)
    with pytest.raises(ValueError):
        metrics.mad(pred, true[:1])


def test_dtssd_pair_and_sequence() -> None:
    pred = [np.array([[0.0, 1.0]]), np.array([[0.5, 1.0]])]
    true = [np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])]
    # Δpred = (0.5, 0), Δtrue = (1, 0): √(0.25 / 2) × 100
    want = math.sqrt(0.125) * 100
    assert metrics.dtssd(pred[1], pred[0], true[1], true[0]) == pytest.approx(want)
    assert metrics.dtssd_sequence(pred, true) == pytest.approx(want)
    # A static error costs nothing in dtSSD: only changes that the truth lacks.
    assert metrics.dtssd_sequence([np.full((2, 2), 0.3)] * 3, [np.zeros((2, 2))] * 3) == 0.0


def test_grad_filters() -> None:
    fx, fy = metrics.gaussian_derivative_filters(1.4)
    # h = ceil(1.4·sqrt(−2·ln(sqrt(2π)·1.4·0.01))) = ceil(3.62) = 4 → 9×9
    assert fx.shape == (9, 9)
    assert np.sum(fx**2) == pytest.approx(1.0)
    np.testing.assert_allclose(fx, -fx[:, ::-1])  # odd in x
    np.testing.assert_allclose(fy, fx.T)


def test_grad_of_a_step_edge_by_hand() -> None:
    # A vertical step, constant along y: the y response vanishes (the
    # derivative sums to 0), the x response at column c is
    # (Σ g)/‖·‖ · Σ_{j: c+j−h ≥ edge} g'(j − h), with the image's borders replicated.
    h, w, edge, sigma = 12, 20, 10, 1.4
    step = np.zeros((h, w))
    step[:, edge:] = 1.0
    half = 4
    x = np.arange(-half, half + 1)
    g = np.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dg = -x * g / sigma**2
    norm = math.sqrt((np.outer(g, dg) ** 2).sum())
    col = np.array([g.sum() / norm * sum(dg[j] for j in range(2 * half + 1)
                                         if min(max(c + j - half, 0), w - 1) >= edge)
                    for c in range(w)])
    want = (np.abs(col) ** 2).sum() * h / 1e3
    assert metrics.grad(step, np.zeros((h, w))) == pytest.approx(want, rel=1e-6)
    assert metrics.grad(step, step) == 0.0
    # Min-max normalisation: a half-strength step has the same gradient error.
    assert metrics.grad(step * 0.5, np.zeros((h, w))) == pytest.approx(want, rel=1e-6)


def test_conn_by_hand() -> None:
    true = np.array([[1.0, 1.0, 0.0]])
    pred = np.array([[1.0, 0.0, 0.0]])
    # Ω_t = {pixel 0} for every t, so levels = (1, 0, 0); d_true = (0, 1, 0),
    # d_pred = (0, 0, 0); φ_true = (1, 0, 1), φ_pred = (1, 1, 1) → error 1 / 10³.
    assert metrics.conn(pred, true) == pytest.approx(1e-3)
    assert metrics.conn(true, true) == 0.0


def test_jaccard_by_hand() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True  # 4 px
    b[0:2, 1:4] = True  # 6 px, 2 shared
    assert metrics.jaccard(a, b) == pytest.approx(2 / 8)
    assert metrics.jaccard(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert metrics.jaccard(np.full((2, 2), 0.6), np.full((2, 2), 0.4)) == 0.0  # thresholded at 0.5


def _half(width: int, cut_top: int, cut_bottom: int | None = None) -> np.ndarray:
    m = np.zeros((100, 100), bool)
    m[:50, :cut_top] = True
    m[50:, : cut_bottom if cut_bottom is not None else cut_top] = True
    return m


def test_boundary_f_tolerance_is_0008_of_the_diagonal() -> None:
    # 100×100: ⌈0.008 × 141.4⌉ = 2 px. Vertical boundaries 2 px apart match, 3 px do not.
    true = _half(100, 50)
    assert metrics.boundary_map(true).sum() == 100  # column 49, every row
    assert metrics.boundary_f(_half(100, 52), true) == 1.0
    assert metrics.boundary_f(_half(100, 53), true) == 0.0
    assert metrics.boundary_f(true, true) == 1.0


def test_boundary_f_partial_by_hand() -> None:
    true = _half(100, 50)  # boundary: column 49, 100 px
    pred = _half(100, 50, 60)  # column 49 rows 0–49, row 49 cols 50–59, column 59 rows 50–99
    assert metrics.boundary_map(pred).sum() == 110
    # P: column-49 part (50) + (49, 50), (49, 51) within 2 px → 52 / 110
    # R: rows 0–49 (50) + (50, 49) and (51, 49) near (49, 49)/(49, 50) → 52 / 100
    p, r = 52 / 110, 52 / 100
    assert metrics.boundary_f(pred, true) == pytest.approx(2 * p * r / (p + r))


def test_boundary_f_empty_cases_and_j_and_f() -> None:
    empty = np.zeros((10, 10))
    full = np.zeros((10, 10))
    full[2:5, 2:5] = 1
    assert metrics.boundary_f(empty, empty) == 1.0
    assert metrics.boundary_f(empty, full) == 0.0
    assert metrics.boundary_f(full, empty) == 0.0
    assert metrics.j_and_f(full, full) == 1.0
    a = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True
    b = np.zeros((4, 4), bool)
    b[0:2, 1:4] = True
    assert metrics.j_and_f(a, b) == pytest.approx(0.5 * (metrics.jaccard(a, b) + metrics.boundary_f(a, b)))


_mattes = arrays(np.float64, (6, 7), elements=st.floats(0, 1))


@settings(max_examples=40, deadline=None)
@given(_mattes, _mattes)
def test_metric_properties(a: np.ndarray, b: np.ndarray) -> None:
    assert metrics.mad(a, b) == pytest.approx(metrics.mad(b, a))
    assert 0 <= metrics.mse(a, b) <= metrics.mad(a, b) + 1e-9  # |d| ≤ 1 so d² ≤ |d|
    assert metrics.mad(a, a) == 0 and metrics.grad(a, a) == 0 and metrics.conn(a, a) == 0
    assert 0 <= metrics.jaccard(a, b) <= 1 and 0 <= metrics.boundary_f(a, b) <= 1
    assert metrics.jaccard(a, b) == pytest.approx(metrics.jaccard(b, a))
    assert metrics.boundary_f(a, b) == pytest.approx(metrics.boundary_f(b, a))
    assert metrics.j_and_f(a, a) == 1.0


def test_edge_mad_counts_only_the_band_around_the_true_edge():
    true = np.zeros((20, 20), np.float32)
    true[5:15, 5:15] = 1.0
    band = metrics.edge_band(true, 2)
    # The contour (DAVIS boundary: row 4 above the top edge) grown by a radius-2 disc.
    assert band[2:7, 10].all() and not band[1, 10] and not band[7, 10] and not band[10, 10]
    pred = true.copy()
    pred[0, 0] = 1.0  # an error far from the edge: MAD sees it, edge MAD does not
    assert metrics.edge_mad(pred, true, 2) == 0.0 and metrics.mad(pred, true) > 0
    pred = true.copy()
    pred[5, 10] = 0.5
    assert metrics.edge_mad(pred, true, 2) == pytest.approx(0.5 / band.sum() * 1e3)
    assert metrics.edge_mad(np.zeros_like(true), np.zeros_like(true)) == 0.0
