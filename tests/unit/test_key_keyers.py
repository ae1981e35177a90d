"""The key formulas on exact values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segmatte.models.key import keyers


def px(*rgb) -> torch.Tensor:
    """A 1×N×3 image from RGB triples."""
    return torch.tensor([list(rgb)], dtype=torch.float32)


def test_dominance_is_channel_minus_max_of_the_others():
    img = px((0.1, 0.8, 0.3), (0.5, 0.5, 0.5), (0.9, 0.2, 0.1), (0.2, 0.3, 0.9))
    np.testing.assert_allclose(keyers.dominance(img, 1).numpy()[0], [0.5, 0.0, -0.7, -0.6],
                               atol=1e-6)
    np.testing.assert_allclose(keyers.dominance(img, 2).numpy()[0], [-0.5, 0.0, -0.8, 0.6],
                               atol=1e-6)


def test_dominance_of_a_grey_over_screen_mix_is_linear_in_coverage():
    screen = torch.tensor([0.1, 0.8, 0.2])
    grey = torch.tensor([0.4, 0.4, 0.4])
    for alpha in (0.0, 0.25, 0.5, 0.75, 1.0):
        mix = alpha * grey + (1 - alpha) * screen
        assert keyers.dominance(mix, 1).item() == pytest.approx((1 - alpha) * 0.6, abs=1e-6)


def test_measured_screen_dominance_is_the_screens_not_the_foregrounds():
    img = torch.zeros(40, 40, 3)
    img[..., 1] = 0.7                      # screen dominance 0.7
    img[10:30, 10:30] = torch.tensor([0.5, 0.55, 0.5])  # a greenish foreground, 0.05
    dom = keyers.dominance(img, 1)
    assert keyers.measure_screen_dominance(dom).item() == pytest.approx(0.7)


def test_measured_screen_dominance_has_a_floor():
    img = torch.full((8, 8, 3), 0.5)
    dom = keyers.dominance(img, 1)
    assert keyers.measure_screen_dominance(dom).item() == pytest.approx(
        keyers.MIN_MEASURED_DOMINANCE)


def test_measured_screen_dominance_subsamples_big_frames():
    dom = torch.full((1200, 1000), 0.6)
    assert keyers.measure_screen_dominance(dom).item() == pytest.approx(0.6)


def test_chroma_alpha_formula():
    # D = 1 (pure green); k = dominance; spill 0 → k' = k; hi = 1 - 0.1; softness 0.8
    img = px((0, 1, 0), (0.5, 0.75, 0.5), (0.5, 0.5, 0.5), (0.05, 0.95, 0.05), (0.6, 0.8, 0.6))
    out = keyers.chroma_alpha(img, 1, 1.0, tolerance=0.1, softness=0.8, spill=0.0)
    expected = [0.0, (0.9 - 0.25) / 0.8, 1.0, 0.0, (0.9 - 0.2) / 0.8]
    np.testing.assert_allclose(out.numpy()[0], expected, atol=1e-6)


def test_chroma_alpha_spill_bends_weak_dominance_towards_foreground():
    img = px((0.5, 0.7, 0.5))  # k = 0.2
    plain = keyers.chroma_alpha(img, 1, 1.0, 0.0, 1.0, spill=0.0).item()
    bent = keyers.chroma_alpha(img, 1, 1.0, 0.0, 1.0, spill=1.0).item()
    assert plain == pytest.approx(0.8)
    assert bent == pytest.approx(1 - 0.2**3)


def test_chroma_alpha_hard_edge():
    img = px((0, 1, 0), (0.3, 0.7, 0.3), (0.45, 0.55, 0.45))  # k = 1, 0.4, 0.1
    out = keyers.chroma_alpha(img, 1, 1.0, tolerance=0.5, softness=0.0, spill=0.0)
    assert out.tolist() == [[0.0, 1.0, 1.0]]


def test_difference_alpha_formula():
    plate = torch.full((1, 4, 3), 0.5)
    img = plate.clone()
    img[0, 1] += 0.05                      # d = 0.05 (all channels) → background
    img[0, 2] = torch.tensor([0.5, 0.5, 0.65])  # d = 0.15/√3
    img[0, 3] = 1.0                        # d = 0.5 → object
    out = keyers.difference_alpha(img, plate, threshold=0.06, softness=0.1)
    d2 = 0.15 / np.sqrt(3)
    np.testing.assert_allclose(out.numpy()[0], [0.0, 0.0, (d2 - 0.06) / 0.1, 1.0], atol=1e-6)
    hard = keyers.difference_alpha(img, plate, threshold=0.06, softness=0.0)
    assert hard.tolist() == [[0.0, 0.0, 1.0, 1.0]]
