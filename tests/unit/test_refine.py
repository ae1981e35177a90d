"""Edge refinement: where the matte is unsure, the guided filter's maths, ViTMatte
plumbing, and a measured improvement against exact ground truth."""

from __future__ import annotations

import mattegen
import numpy as np
import pytest
import torch

from segmatte.models import metrics
from segmatte.models.finish import ops
from segmatte.models.finish.refine import (
    SOLVE_SHARE,
    ViTMatteRefiner,
    auto_radius,
    auto_subsample,
    box_mean,
    guided_filter,
    refine_guided,
    solve_hard_band,
    srgb_to_linear,
    trimap_from_mask,
    trimap_from_uncertainty,
    uncertainty,
)


def _square(size: int = 21, lo: int = 6, hi: int = 15) -> torch.Tensor:
    m = torch.zeros(size, size)
    m[lo:hi, lo:hi] = 1.0
    return m


def test_trimap_erode_dilate_by_a_disc() -> None:
    tri = trimap_from_mask(_square() * 0.8, band=2)  # soft input: binarised at 0.5 first
    assert set(tri.unique().tolist()) == {0.0, 0.5, 1.0}
    # 9×9 square eroded by the radius-2 disc is 5×5; dilated, 13×13 minus rounded corners.
    assert torch.all(tri[8:13, 8:13] == 1.0) and tri[7, 10] == 0.5 and tri[8, 7] == 0.5
    assert tri[4, 10] == 0.5 and tri[3, 10] == 0.0  # 2 px outside: unknown; 3 px: background
    assert tri[4, 4] == 0.0  # the dilated disc does not reach the diagonal corner
    assert int((tri == 1).sum()) == 25
    assert torch.equal(trimap_from_mask(_square(), 0), _square())


def test_box_mean_is_the_clipped_window_mean() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 1, 7, 9, dtype=torch.float64)
    r = 2
    got = box_mean(x, r)
    for i in range(7):
        for j in range(9):
            want = x[0, 0, max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].mean()
            assert abs(got[0, 0, i, j] - want) < 1e-12


def test_guided_filter_limits() -> None:
    torch.manual_seed(0)
    p = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    # Guide == input, ε → 0: a = 1, b = 0 everywhere, so q == p (edge-preserving identity).
    torch.testing.assert_close(guided_filter(p, p, 2, 1e-12), p, atol=1e-6, rtol=0)
    # Constant guide: var = 0, a = 0, b = mean(p), q = mean(mean(p)).
    flat = torch.full_like(p, 0.3)
    torch.testing.assert_close(guided_filter(flat, p, 2, 1e-3), box_mean(box_mean(p, 2), 2))


def test_colour_guided_filter_matches_a_direct_solve() -> None:
    torch.manual_seed(1)
    guide = torch.rand(1, 3, 10, 12, dtype=torch.float64)
    p = torch.rand(1, 1, 10, 12, dtype=torch.float64)
    r, eps = 2, 1e-2
    got = guided_filter(guide, p, r, eps)
    # Reference: per-window 3×3 solve with torch.linalg, then averaged coefficients.
    h, w = p.shape[-2:]
    a = torch.zeros(3, h, w, dtype=torch.float64)
    b = torch.zeros(h, w, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            win_i = guide[0, :, max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].reshape(3, -1)
            win_p = p[0, 0, max(0, i - r):i + r + 1, max(0, j - r):j + r + 1].reshape(-1)
            mu, mp = win_i.mean(1), win_p.mean()
            cov = (win_i - mu[:, None]) @ (win_i - mu[:, None]).T / win_i.shape[1]
            cip = (win_i * win_p).mean(1) - mu * mp
            a[:, i, j] = torch.linalg.solve(cov + eps * torch.eye(3, dtype=torch.float64), cip)
            b[i, j] = mp - a[:, i, j] @ mu
    ma, mb = box_mean(a[None], r)[0], box_mean(b[None, None], r)[0, 0]
    want = (ma * guide[0]).sum(0) + mb
    torch.testing.assert_close(got[0, 0], want, atol=1e-9, rtol=1e-7)


def test_auto_subsample_rule() -> None:
    assert auto_subsample(1080, 1920, 8) == 2
    assert auto_subsample(2160, 3840, 16) == 4
    assert auto_subsample(2160, 3840, 3) == 1
    assert auto_subsample(120, 160, 8) == 1


@pytest.fixture(scope="module", params=["synthetic", "vtest"])
def composite(request) -> mattegen.Composite:
    if request.param == "vtest" and not mattegen.vtest_path().is_file():
        pytest.skip("vtest.avi absent: run python3 install/test_assets.py")
    return mattegen.composite_sequence(4, (120, 160), background=request.param)[3]


def _far_from_contour(matte: np.ndarray, distance: int) -> np.ndarray:
    """Pixels more than ``distance`` px (a square) from the matte's 0.5 contour."""
    import cv2

    edge = metrics.boundary_map(matte).astype(np.uint8)
    return cv2.dilate(edge, np.ones((2 * distance + 3, 2 * distance + 3), np.uint8)) == 0


def test_guided_refinement_beats_the_coarse_matte(composite) -> None:
    coarse = mattegen.coarse_matte(composite.alpha)
    refined = refine_guided(composite.image, coarse)
    assert isinstance(refined, np.ndarray) and refined.shape == coarse.shape
    # Away from the contour (beyond the hard-step band, 2·radius) nothing changes.
    far = _far_from_contour(coarse, 2 * auto_radius(*coarse.shape))
    np.testing.assert_array_equal(refined[far], coarse[far])
    assert metrics.mad(refined, composite.alpha) < 0.8 * metrics.mad(coarse, composite.alpha)
    assert metrics.grad(refined, composite.alpha) < 0.5 * metrics.grad(coarse, composite.alpha)
    assert metrics.edge_mad(refined, composite.alpha) < 0.7 * metrics.edge_mad(coarse, composite.alpha)
    # The fast (subsampled) variant still improves.
    fast = refine_guided(composite.image, coarse, radius=4, subsample=2)
    assert metrics.mad(fast, composite.alpha) < 0.9 * metrics.mad(coarse, composite.alpha)


def test_auto_radius_rule() -> None:
    assert auto_radius(120, 160) == 2 and auto_radius(264, 360) == 4
    assert auto_radius(1080, 1920) == 16 and auto_radius(2160, 3840) == 33


def _soft_disc(h: int = 64, w: int = 80, r: float = 18.0, ramp: float = 4.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(yy - h / 2, xx - w / 2)
    return np.clip((r - d) / ramp + 0.5, 0, 1).astype(np.float32)


def test_a_soft_mattes_confident_core_is_never_eroded_and_its_background_kept() -> None:
    rng = np.random.default_rng(3)
    matte = _soft_disc()
    image = rng.random((64, 80, 3)).astype(np.float32)  # a picture that disagrees everywhere
    out = refine_guided(image, matte)
    core = matte >= 0.99
    assert core.sum() > 500 and (out[core] >= matte[core]).all()
    # Confident background more than a pixel from the soft ring: exactly as it came.
    import cv2

    ring = cv2.dilate(((matte > 0.01) & (matte < 0.99)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    bg = (matte <= 0.01) & ~ring
    np.testing.assert_array_equal(out[bg], matte[bg])
    # The soft pixels may move, the most where the matte is least sure (m = 1/2).
    assert np.abs(out - matte)[ring].max() > 0.05


def test_uncertainty_weights() -> None:
    m = torch.from_numpy(_soft_disc())[None, None]
    flat = torch.full((1, 3, 64, 80), 0.5)
    unc = uncertainty(flat, m, band=4, radius=2)
    w = unc.weight[0, 0]
    mid = (m[0, 0] - 0.5).abs() < 0.05
    assert torch.all(w[mid] > 0.98)  # 4·m·(1 − m) at m ≈ ½
    assert torch.all(w[m[0, 0] >= 0.99] <= 0.5) and torch.all(unc.hard == 0)
    assert torch.all(unc.core[0, 0][m[0, 0] >= 0.99] == 1)


def test_on_a_flat_picture_a_hard_step_stays_put() -> None:
    matte = _square(40, 10, 30)[None, None]
    flat = torch.full((1, 3, 40, 40), 0.4)
    unc = uncertainty(flat, matte, band=6, radius=3)
    # No picture edge to snap to: the hard band is only the step's own two pixel
    # rings, grown by one — nothing 3 px or more from it, not the band of 6.
    near = ops.choke(matte, -2.0) - ops.choke(matte, 2.0)
    assert torch.all(unc.hard <= near) and torch.all(unc.hard[near > 0] == 1)
    out = refine_guided(flat, matte, band=6, radius=3)
    assert torch.equal(out[near == 0], matte[near == 0])
    textured = flat.clone()
    textured[..., 8:32, 8:32] = 0.9  # a picture edge 2 px outside the matte's
    unc2 = uncertainty(textured, matte, band=6, radius=3)
    assert int(unc2.hard.sum()) > int(unc.hard.sum())


def test_the_guide_is_linear_light() -> None:
    """Two flat colours mixed in linear light over a 6 px ramp: the colour
    guided filter of the hard mask recovers the ramp, and does it better in
    linear light (where alpha is affine in colour) than in code values."""
    w = 48
    x = np.arange(w, dtype=np.float32)
    alpha_row = np.clip((x - 21) / 6, 0, 1)
    alpha = np.repeat(alpha_row[None], 24, 0)
    fg = mattegen.srgb_to_linear(np.array([0.7, 0.2, 0.15], np.float32))
    bg = mattegen.srgb_to_linear(np.array([0.1, 0.6, 0.2], np.float32))
    image = mattegen.linear_to_srgb(alpha[..., None] * fg + (1 - alpha[..., None]) * bg)
    hard = (alpha >= 0.5).astype(np.float32)
    lin = refine_guided(image, hard, radius=4, band=4)
    code = refine_guided(image, hard, radius=4, band=4, linear=False)
    assert metrics.mad(lin, alpha) < 0.5 * metrics.mad(hard, alpha)
    assert metrics.mad(lin, alpha) < metrics.mad(code, alpha)


def test_guided_refinement_on_tensors_keeps_the_batch_layout(composite) -> None:
    coarse = torch.from_numpy(mattegen.coarse_matte(composite.alpha))[None, None]
    image = torch.from_numpy(composite.image).permute(2, 0, 1)[None]
    out = refine_guided(image, coarse)
    assert isinstance(out, torch.Tensor) and out.shape == coarse.shape
    np.testing.assert_allclose(out[0, 0].numpy(), refine_guided(composite.image, coarse[0, 0].numpy()),
                               atol=1e-6)


@pytest.fixture(scope="module")
def tiny_vitmatte() -> torch.nn.Module:
    from transformers import VitDetConfig, VitMatteConfig, VitMatteForImageMatting

    backbone = VitDetConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            num_channels=4, image_size=64, pretrain_image_size=64, patch_size=16,
                            out_features=["stage2"])
    config = VitMatteConfig(backbone_config=backbone, hidden_size=32,
                            convstream_hidden_sizes=[8, 16, 32], fusion_hidden_sizes=[32, 16, 8, 8])
    torch.manual_seed(0)
    return VitMatteForImageMatting(config).eval()


def test_vitmatte_input_is_what_the_processor_makes() -> None:
    image = torch.rand(1, 3, 50, 70)
    tri = trimap_from_mask(torch.nn.functional.pad(torch.ones(1, 1, 20, 30), (20, 20, 15, 15)), 3)
    x = ViTMatteRefiner.network_input(image, tri)
    assert x.shape == (1, 4, 64, 96)  # padded up to multiples of 32
    torch.testing.assert_close(x[:, :3, :50, :70], image * 2 - 1)
    values = x[0, 3, :50, :70].unique().tolist()
    assert values == pytest.approx([0.0, 128 / 255, 1.0])
    assert torch.all(x[:, :, 50:] == 0) and torch.all(x[:, :, :, 70:] == 0)


def test_vitmatte_refiner_only_changes_the_uncertain_pixels(tiny_vitmatte, composite) -> None:
    seen = []
    tiny_vitmatte.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs["pixel_values"].shape),
                                            with_kwargs=True)
    refiner = ViTMatteRefiner(tiny_vitmatte, band=5, margin=8)
    coarse = mattegen.coarse_matte(composite.alpha)
    out = refiner(composite.image, coarse)
    assert out.shape == coarse.shape and out.dtype == np.float32
    m = torch.from_numpy(coarse)[None, None]
    guide = srgb_to_linear(torch.from_numpy(composite.image).permute(2, 0, 1)[None])
    unc = uncertainty(guide, m, band=5, radius=auto_radius(120, 160))
    tri = trimap_from_uncertainty(m, unc)[0, 0].numpy()
    known = tri != 0.5
    np.testing.assert_array_equal(out[known], coarse[known])
    assert out.min() >= 0 and out.max() <= 1
    # Only the unknown pixels' bounding box (+ margin), padded to 32, went through the network.
    ys, xs = np.nonzero(~known)
    h = min(120, ys.max() + 1 + 8) - max(0, ys.min() - 8)
    w = min(160, xs.max() + 1 + 8) - max(0, xs.min() - 8)
    assert seen[-1][-2:] == (h + (-h) % 32, w + (-w) % 32)
    # Nothing unsure: the network is not run at all.
    before = len(seen)
    np.testing.assert_array_equal(refiner(composite.image, np.zeros_like(coarse)), 0)
    assert len(seen) == before


def test_band_crop_gives_the_full_frame_result() -> None:
    torch.manual_seed(2)
    image = torch.rand(1, 3, 60, 80)
    matte = torch.zeros(1, 1, 60, 80)
    matte[..., 25:40, 30:50] = 1
    matte[..., 24, 30:50] = 0.4  # a soft row too
    r, eps = 3, 1e-3
    guide = srgb_to_linear(image)
    unc = uncertainty(guide, matte, band=2 * r, radius=r)
    wide = guided_filter(guide, matte, 2 * r, eps).clamp(0, 1)
    for solve in (False, True):
        band = torch.lerp(wide, solve_hard_band(guide, matte, unc.hard, wide), SOLVE_SHARE) \
            if solve else wide
        q = torch.lerp(guided_filter(guide, matte, r, eps).clamp(0, 1), band, unc.hard)
        res = matte + unc.weight * (q - matte)
        want = torch.where(unc.core > 0, torch.maximum(res, matte), res)
        got = refine_guided(image, matte, radius=r, eps=eps, subsample=1, solve=solve)
        # The solve is iterative (conjugate gradients to 1e-7): the crop's system is the
        # full frame's, solved to the same tolerance.
        torch.testing.assert_close(got, want, atol=1e-4 if solve else 1e-5, rtol=0)
    assert torch.equal(refine_guided(image, torch.zeros_like(matte)), torch.zeros_like(matte))


def test_refine_matte_applies_to_every_layer(composite) -> None:
    from segmatte.models.finish.refine import refine_matte
    from segmatte.models.frames import Frame, Matte

    coarse = mattegen.coarse_matte(composite.alpha)
    matte = Matte(3, {"a": coarse, "b": 1 - coarse}, {"a": 0.7})
    out = refine_matte(Frame(3, composite.image), matte, band=4)
    assert out.number == 3 and out.layers.keys() == {"a", "b"} and out.scores == {"a": 0.7}
    np.testing.assert_array_equal(out.layers["a"], refine_guided(composite.image, coarse, band=4))
    np.testing.assert_array_equal(out.layers["b"], refine_guided(composite.image, 1 - coarse, band=4))
