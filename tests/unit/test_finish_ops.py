"""Matte ops on exact small arrays, identities, shapes/dtypes, and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from segmatte.models.finish import ops


def t(x) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float32)


def square(size: int = 11, lo: int = 2, hi: int = 9) -> torch.Tensor:
    a = torch.zeros(size, size)
    a[lo:hi, lo:hi] = 1.0
    return a


def brute_morph(a: torch.Tensor, radius: int, grow: bool) -> torch.Tensor:
    """min/max over the disc dx²+dy² <= r², edges replicated: the definition, spelled out."""
    h, w = a.shape[-2:]
    out = None
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius:
                continue
            ys = (torch.arange(h) + dy).clamp(0, h - 1)
            xs = (torch.arange(w) + dx).clamp(0, w - 1)
            s = a[..., ys, :][..., xs]
            out = s if out is None else (torch.maximum(out, s) if grow else torch.minimum(out, s))
    return out


# ----------------------------------------------------------------- threshold


def test_threshold_hard_step_at_level():
    a = t([[0.0, 0.3, 0.5, 0.7, 1.0]])
    assert ops.threshold(a, 0.5).tolist() == [[0.0, 0.0, 1.0, 1.0, 1.0]]


def test_threshold_soft_is_smoothstep_centred_on_level():
    a = t([[0.29, 0.3, 0.4, 0.5, 0.6, 0.7, 0.71]])
    # width 0.4 around 0.5: t = (a - 0.3) / 0.4; out = t²(3 - 2t)
    expected = [0.0, 0.0, 0.15625, 0.5, 0.84375, 1.0, 1.0]
    np.testing.assert_allclose(ops.threshold(a, 0.5, 0.4).numpy()[0], expected, atol=1e-6)


def test_threshold_rejects_negative_softness():
    with pytest.raises(ValueError, match="softness"):
        ops.threshold(t([[0.5]]), 0.5, -0.1)


# ----------------------------------------------------------------- choke


def test_choke_by_one_turns_7x7_square_into_5x5():
    expected = square(11, 3, 8)
    assert torch.equal(ops.choke(square(), 1), expected)


def test_choke_by_two_turns_7x7_square_into_3x3():
    assert torch.equal(ops.choke(square(), 2), square(11, 4, 7))


def test_grow_by_one_is_9x9_without_corners():
    expected = square(11, 1, 10)
    for y, x in [(1, 1), (1, 9), (9, 1), (9, 9)]:
        expected[y, x] = 0.0
    assert torch.equal(ops.choke(square(), -1), expected)


def test_grow_by_two_is_the_disc_of_radius_two_around_the_square():
    grown = ops.choke(square(13, 3, 10), -2)
    # rows of the disc: half-widths 0, 1, 2, 1, 0 → the square grows 2 straight
    # out, corners are cut along the disc.
    assert ops.disc_half_widths(2) == [0, 1, 2, 1, 0]
    assert grown[1, 3:10].eq(1).all() and grown[1, 2] == 0 and grown[2, 2] == 1
    assert grown[1, 1] == 0 and grown[2, 1] == 0 and grown[0].eq(0).all()
    assert grown.sum() == 11 * 11 - 4 * 3


def test_fractional_choke_interpolates_between_radii():
    out = ops.choke(square(), 0.5)
    # the 5×5 core stays 1, the ring between radius 0 and 1 gets 1 - 0.5
    expected = square(11, 3, 8) + 0.5 * (square() - square(11, 3, 8))
    assert torch.allclose(out, expected)


def test_fractional_grow_interpolates_between_radii():
    out = ops.choke(square(), -0.25)
    ring = ops.choke(square(), -1) - square()
    assert torch.allclose(out, square() + 0.25 * ring)


def test_choke_keeps_a_soft_edge_profile_moved():
    a = t([[0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]])
    assert ops.choke(a, 1).tolist() == [[0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]]
    assert ops.choke(a, -1).tolist() == [[0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]]


def test_choke_does_not_eat_a_matte_from_the_frame_edge():
    a = torch.zeros(6, 6)
    a[:, :4] = 1.0  # touches the left, top and bottom edges
    out = ops.choke(a, 1)
    assert out[:, :3].eq(1).all() and out[:, 3:].eq(0).all()


def test_choke_zero_returns_the_input():
    a = square()
    assert ops.choke(a, 0) is a


@pytest.mark.parametrize("radius", [1, 2, 3, 4, 5, 8, 9, 16, 30])
def test_choke_matches_brute_force_disc_morphology(radius):
    gen = torch.Generator().manual_seed(radius)
    a = torch.rand(2, 17, 23, generator=gen)
    assert torch.equal(ops.choke(a, radius), brute_morph(a, radius, grow=False))
    assert torch.equal(ops.choke(a, -radius), brute_morph(a, radius, grow=True))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.floats(-4.0, 4.0), st.integers(0, 2**16))
def test_choke_property_bounds_and_order(h, w, pixels, seed):
    a = torch.rand(h, w, generator=torch.Generator().manual_seed(seed))
    out = ops.choke(a, pixels)
    assert out.shape == a.shape
    if pixels >= 0:
        assert (out <= a + 1e-6).all()
    else:
        assert (out >= a - 1e-6).all()
    assert out.min() >= a.min() - 1e-6 and out.max() <= a.max() + 1e-6


# ----------------------------------------------------------------- feather


def test_gaussian_kernel_is_normalised_and_truncated_at_3_sigma():
    k = ops.gaussian_kernel(1.0)
    assert k.numel() == 7
    x = np.arange(-3, 4)
    g = np.exp(-(x**2) / 2.0)
    np.testing.assert_allclose(k.numpy(), g / g.sum(), rtol=1e-6)


def test_feather_impulse_is_the_separable_kernel():
    a = torch.zeros(15, 15)
    a[7, 7] = 1.0
    k = ops.gaussian_kernel(1.0)
    expected = torch.zeros(15, 15)
    expected[4:11, 4:11] = torch.outer(k, k)
    assert torch.allclose(ops.feather(a, 1.0), expected, atol=1e-7)


def test_feather_keeps_flat_mattes_flat_up_to_the_border():
    for v in (0.0, 0.3, 1.0):
        a = torch.full((9, 9), v)
        assert torch.allclose(ops.feather(a, 2.0), a, atol=1e-6)


def test_feather_replicates_the_border():
    a = torch.zeros(8, 16)
    a[:, :8] = 1.0
    out = ops.feather(a, 1.5)
    # every row is the same: no fading towards the top and bottom edges
    assert torch.allclose(out, out[:1].expand_as(out), atol=1e-6)
    assert out[0, 0] == pytest.approx(1.0) and out[0, 15] == pytest.approx(0.0)


def test_feather_zero_returns_the_input():
    a = square()
    assert ops.feather(a, 0) is a


def test_feather_rejects_negative_sigma():
    with pytest.raises(ValueError, match="sigma"):
        ops.feather(square(), -1)


# ----------------------------------------------------------------- clip, invert


def test_clip_levels():
    a = t([[0.0, 0.1, 0.2, 0.5, 0.8, 0.9, 1.0]])
    np.testing.assert_allclose(ops.clip(a, 0.2, 0.8).numpy()[0],
                               [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0], atol=1e-6)


def test_clip_identity_levels_keep_the_matte():
    a = torch.rand(4, 5)
    assert torch.equal(ops.clip(a, 0.0, 1.0), a)


def test_clip_rejects_white_not_above_black():
    with pytest.raises(ValueError, match="above"):
        ops.clip(square(), 0.5, 0.5)


def test_invert():
    assert ops.invert(t([[0.0, 0.25, 1.0]])).tolist() == [[1.0, 0.75, 0.0]]


# ----------------------------------------------------------------- combine

A = t([[0.0, 0.5, 1.0, 0.25]])
B = t([[0.5, 0.75, 0.0, 0.25]])
C = t([[0.25, 0.0, 0.5, 0.5]])


@pytest.mark.parametrize("mode, expected", [
    ("union", [[0.5, 0.75, 1.0, 0.5]]),
    ("add", [[0.75, 1.0, 1.0, 1.0]]),
    ("subtract", [[0.0, 0.0, 0.5, 0.0]]),
    ("intersect", [[0.0, 0.0, 0.0, 0.25]]),
])
def test_combine_modes(mode, expected):
    assert ops.combine([A, B, C], mode).tolist() == expected
    assert ops.combine(torch.stack([A, B, C]), mode).tolist() == expected


def test_combine_subtract_two_layers():
    assert ops.combine([A, B], "subtract").tolist() == [[0.0, 0.0, 1.0, 0.0]]


@pytest.mark.parametrize("mode", ["union", "add", "subtract", "intersect"])
def test_combine_one_layer_is_that_layer(mode):
    assert torch.equal(ops.combine([A], mode), A)


def test_combine_errors():
    with pytest.raises(ValueError, match="at least one"):
        ops.combine([], "union")
    with pytest.raises(ValueError, match="one shape"):
        ops.combine([A, torch.zeros(2, 2)], "union")
    with pytest.raises(ValueError, match="unknown combine mode"):
        ops.combine([A, B], "xor")


# ----------------------------------------------------------------- contracts of every op

OPS = [
    ("threshold", lambda a: ops.threshold(a, 0.5, 0.2)),
    ("threshold_hard", lambda a: ops.threshold(a, 0.5)),
    ("choke", lambda a: ops.choke(a, 1.5)),
    ("grow", lambda a: ops.choke(a, -2)),
    ("feather", lambda a: ops.feather(a, 1.2)),
    ("clip", lambda a: ops.clip(a, 0.1, 0.9)),
    ("invert", ops.invert),
]


@pytest.mark.parametrize("name, op", OPS, ids=[n for n, _ in OPS])
@pytest.mark.parametrize("shape", [(9, 7), (3, 9, 7), (2, 2, 9, 7)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_ops_keep_shape_dtype_range_and_input(name, op, shape, dtype):
    a = torch.rand(shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    before = a.clone()
    out = op(a)
    assert out.shape == a.shape and out.dtype == dtype and out.device == a.device
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(a, before)


def test_batched_ops_equal_per_layer_ops():
    a = torch.rand(3, 10, 12, generator=torch.Generator().manual_seed(2))
    for _, op in OPS:
        assert torch.allclose(op(a), torch.stack([op(x) for x in a]), atol=1e-6)


def test_ops_reject_non_mattes():
    with pytest.raises(TypeError):
        ops.choke(np.zeros((3, 3)), 1)
    with pytest.raises(TypeError, match="floating"):
        ops.feather(torch.zeros(3, 3, dtype=torch.uint8), 1)
    with pytest.raises(ValueError, match="H×W"):
        ops.invert(torch.zeros(3))


def test_on_numpy_is_numpy_in_numpy_out():
    a = square().numpy()
    out = ops.on_numpy(ops.choke, a, 1)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, square(11, 3, 8).numpy())
    out64 = ops.on_numpy(ops.threshold, a.astype(np.float64), 0.5)
    assert out64.dtype == np.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ops_on_cuda_match_cpu():
    a = torch.rand(2, 40, 50, generator=torch.Generator().manual_seed(3))
    for _, op in OPS:
        out = op(a.cuda())
        assert out.is_cuda
        assert torch.allclose(out.cpu(), op(a), atol=1e-5)


mattes = st.integers(0, 2**16).map(
    lambda seed: torch.rand(3, 5, 6, generator=torch.Generator().manual_seed(seed)))


@settings(max_examples=40, deadline=None)
@given(mattes, st.floats(0, 1), st.floats(0, 1))
def test_threshold_property_monotone_and_in_range(a, level, softness):
    out = ops.threshold(a, level, softness)
    assert out.min() >= 0 and out.max() <= 1
    order = a.flatten().argsort()
    assert (out.flatten()[order].diff() >= -1e-6).all()  # never decreases as alpha grows


@settings(max_examples=40, deadline=None)
@given(mattes, mattes)
def test_combine_properties(a, b):
    union, inter = ops.combine([a, b], "union"), ops.combine([a, b], "intersect")
    assert torch.equal(union, ops.combine([b, a], "union"))
    assert (inter <= union).all()
    assert (ops.combine([a, b], "add") >= union).all()
    assert (ops.combine([a, b], "subtract") <= a).all()
    # intersect is the complement of the union of the complements
    assert torch.allclose(inter, ops.invert(ops.combine([ops.invert(a), ops.invert(b)], "union")))
