"""Closed-form matting of a hard edge's band (models/finish/closed_form.py) and its place in refine.

Pictures made of two flat colours mixed in linear light by a known alpha: there
the local linear model holds exactly, so the solve must find that alpha from a
band around a wrong, hard contour — which one guided-filter pass cannot.
"""

from __future__ import annotations

import numpy as np
import torch

from segmatte.models import metrics
from segmatte.models.finish import closed_form
from segmatte.models.finish.refine import refine_guided, solve_hard_band

FG = np.array([0.60, 0.08, 0.05])
BG = np.array([0.05, 0.40, 0.10])


def _disc(h: int = 48, w: int = 64, r: float = 14.0, ramp: float = 5.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.clip((r - np.hypot(yy - h / 2, xx - w / 2)) / ramp + 0.5, 0, 1)


def _mix(alpha: np.ndarray) -> np.ndarray:
    return alpha[..., None] * FG + (1 - alpha[..., None]) * BG


def test_the_band_system_is_the_matting_laplacians() -> None:
    """The band's equations built from the windows that touch it are pymatting's
    full-picture Laplacian restricted to the band: L_UU and −L_UK·m."""
    from pymatting import cf_laplacian

    rng = np.random.default_rng(7)
    image = rng.random((23, 31, 3))
    matte = rng.random((23, 31))
    unknown = rng.random((23, 31)) < 0.2
    unknown[0, 5] = unknown[10, 0] = unknown[22, 30] = True  # border pixels too
    lap = cf_laplacian(image, epsilon=1e-5, radius=1)
    u, k = unknown.ravel(), ~unknown.ravel()
    l_uu, rhs = closed_form.band_system(image, matte, unknown, epsilon=1e-5)
    np.testing.assert_allclose(l_uu.toarray(), lap[u][:, u].toarray(), atol=1e-9)
    np.testing.assert_allclose(rhs, -(lap[u][:, k] @ matte.ravel()[k]), atol=1e-9)


def test_the_band_is_solved_from_the_colours_and_the_rest_is_kept() -> None:
    alpha = _disc()
    hard = (_disc(r=17.0) >= 0.5).astype(np.float32)  # the contour 3 px too far out, hard
    band = np.abs(_disc(r=15.5, ramp=1.0) - 0.5) < 0.5  # ±6 px around it: the unsure band
    band |= (_disc(r=21.0, ramp=1.0) > 0) & (_disc(r=9.0, ramp=1.0) < 1)
    out = closed_form.solve_band(_mix(alpha), hard, band)
    assert out is not None and out.dtype == np.float32
    np.testing.assert_array_equal(out[~band], hard[~band])
    # Inside the band the true, soft alpha comes back to within a percent.
    assert np.abs(out[band] - alpha[band]).max() < 0.01
    assert np.abs(hard[band] - alpha[band]).max() > 0.9


def test_soft_known_pixels_are_constraints_not_zero_or_one() -> None:
    """A plateau at alpha 0.25 beside the band: the solve continues it, where a
    trimap (known = 0 or 1) would pull the band's left side to 0."""
    w = 40
    x = np.arange(w, dtype=np.float64)
    row = np.where(x < 14, 0.25, np.clip(0.25 + (x - 14) / 8 * 0.75, 0, 1))
    alpha = np.repeat(row[None], 16, 0)
    given = alpha.copy()
    band = np.zeros_like(alpha, bool)
    band[:, 10:26] = True
    given[band] = 0.0  # nothing known inside
    out = closed_form.solve_band(_mix(alpha), given, band)
    assert out is not None
    assert np.abs(out - alpha).max() < 0.01


def test_nothing_to_solve_or_nothing_known_gives_none() -> None:
    image, matte = _mix(_disc()), (_disc() >= 0.5).astype(np.float32)
    assert closed_form.solve_band(image, matte, np.zeros(matte.shape, bool)) is None
    assert closed_form.solve_band(image, matte, np.ones(matte.shape, bool)) is None


def test_refine_places_a_displaced_hard_contour_with_the_solve() -> None:
    """The CLI's --refine guided on a hard matte whose contour is 3 px off: the
    default (the band solved, then mixed with the wide filter) is clearly closer
    to the truth than the filter alone, in the band and overall."""
    alpha = _disc()
    srgb = np.where(_mix(alpha) <= 0.0031308, 12.92 * _mix(alpha),
                    1.055 * _mix(alpha) ** (1 / 2.4) - 0.055).astype(np.float32)
    hard = (_disc(r=17.0) >= 0.5).astype(np.float32)
    solved = refine_guided(srgb, hard, radius=3)
    filtered = refine_guided(srgb, hard, radius=3, solve=False)
    truth = alpha.astype(np.float32)
    assert metrics.edge_mad(solved, truth) < 0.8 * metrics.edge_mad(filtered, truth)
    assert metrics.mad(solved, truth) < metrics.mad(filtered, truth) < metrics.mad(hard, truth)


def test_solve_hard_band_keeps_the_fallback_where_nothing_is_hard() -> None:
    guide = torch.from_numpy(_mix(_disc())).permute(2, 0, 1)[None].float()
    m = torch.from_numpy((_disc() >= 0.5).astype(np.float32))[None, None]
    fallback = torch.full_like(m, 0.3)
    out = solve_hard_band(guide, m, torch.zeros_like(m), fallback)
    assert torch.equal(out, fallback)


def test_a_subsampled_solve_still_finds_the_edge_and_keeps_the_rest() -> None:
    """At 1/2 resolution (what refine does at 1080 lines and more) the band comes back
    up bilinearly: close to the true soft edge, and outside the band the fallback."""
    alpha = _disc(h=96, w=128, r=28.0, ramp=10.0)
    hard_np = (_disc(h=96, w=128, r=34.0) >= 0.5).astype(np.float32)  # 6 px too far out
    guide = torch.from_numpy(_mix(alpha)).permute(2, 0, 1)[None].float()
    m = torch.from_numpy(hard_np)[None, None]
    band = torch.from_numpy(np.abs(_disc(h=96, w=128, r=31.0, ramp=1.0) - 0.5) < 0.5)
    band = (band | torch.from_numpy((_disc(h=96, w=128, r=42.0, ramp=1.0) > 0)
                                    & (_disc(h=96, w=128, r=20.0, ramp=1.0) < 1)))[None, None].float()
    fallback = torch.full_like(m, 0.3)
    out = solve_hard_band(guide, m, band, fallback, subsample=2)[0, 0].numpy()
    inside = band[0, 0].numpy() > 0
    assert np.all(out[~inside] == np.float32(0.3))
    assert np.abs(out[inside] - alpha[inside]).mean() < 0.02
    assert np.abs(out[inside] - alpha[inside]).max() < 0.15


def test_refine_solves_at_half_resolution_from_1080_lines(monkeypatch) -> None:
    """The solve's subsample follows the filter's (auto_subsample) but keeps ≥ 540 lines."""
    seen: list[tuple[int, int]] = []

    def spy(image, matte, unknown, **kw):
        seen.append(image.shape[:2])
        return None  # the fallback: only the size matters here

    monkeypatch.setattr(closed_form, "solve_band", spy)

    def edge(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        # a vertical soft edge from top to bottom: the band's crop is the picture's height
        ramp = np.clip((np.arange(w, dtype=np.float64) - w / 2) / 6 + 0.5, 0, 1)
        alpha = np.repeat(ramp[None], h, 0)
        return (_mix(alpha) ** (1 / 2.2)).astype(np.float32), (alpha >= 0.5).astype(np.float32)

    for h, w in ((1080, 1440), (540, 720)):
        refine_guided(*edge(h, w), radius=16)
    refine_guided(*edge(540, 720), radius=16, subsample=2)
    # 1080 lines: solved at 1/2; 540: at full size, also when the filter is made to subsample
    assert [shape[0] for shape in seen] == [540, 540, 540]
