"""The finisher: documented order, each option, layers, numpy contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from segmatte.models.finish import ops
from segmatte.models.finish.finisher import COMBINED_LAYER, Finisher
from segmatte.models.finish.options import FinishOptions
from segmatte.models.frames import Matte


def square(size: int = 11, lo: int = 2, hi: int = 9) -> np.ndarray:
    a = np.zeros((size, size), np.float32)
    a[lo:hi, lo:hi] = 1.0
    return a


def finish(layers: dict[str, np.ndarray], **options) -> Matte:
    return Finisher(FinishOptions(**options)).apply(Matte(7, layers))


def test_identity_options_return_the_matte_itself():
    m = Matte(3, {"a": square()}, {"a": 0.9})
    assert Finisher(FinishOptions()).apply(m) is m
    assert Finisher().is_identity


def test_empty_matte_passes_through():
    m = Matte(3, {})
    assert Finisher(FinishOptions(invert=True)).apply(m) is m


def test_output_is_float32_numpy_in_unit_range_with_frame_number():
    rng = np.random.default_rng(0)
    m = finish({"a": rng.random((6, 8), dtype=np.float32)}, feather=1.0, choke=-1.0)
    out = m.layer("a")
    assert m.number == 7
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (6, 8)
    assert out.min() >= 0 and out.max() <= 1


def test_threshold():
    a = np.array([[0.2, 0.5, 0.8]], np.float32)
    assert finish({"a": a}, threshold=0.5).layer().tolist() == [[0.0, 1.0, 1.0]]
    soft = finish({"a": a}, threshold=0.5, softness=0.4).layer()
    np.testing.assert_allclose(soft, [[0.0, 0.5, 1.0]], atol=1e-6)


def test_softness_without_threshold_is_refused():
    with pytest.raises(ValidationError, match="give a threshold"):
        FinishOptions(softness=0.4)


def test_threshold_zero_is_refused():
    # a >= 0 everywhere: a threshold of 0 would turn every frame white.
    with pytest.raises(ValidationError):
        FinishOptions(threshold=0.0)


def test_choke_and_grow():
    assert np.array_equal(finish({"a": square()}, choke=1).layer(), square(11, 3, 8))
    grown = finish({"a": square()}, choke=-1).layer()
    assert grown.sum() == 81 - 4


def test_feather():
    out = finish({"a": square()}, feather=1.0).layer()
    expected = ops.feather(torch.from_numpy(square()), 1.0).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-7)
    assert 0 < out[2, 2] < 1


def test_clip():
    a = np.array([[0.1, 0.5, 0.9]], np.float32)
    out = finish({"a": a}, clip_black=0.2, clip_white=0.8).layer()
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]], atol=1e-6)


def test_invert():
    a = np.array([[0.0, 0.25, 1.0]], np.float32)
    assert finish({"a": a}, invert=True).layer().tolist() == [[1.0, 0.75, 0.0]]


@pytest.mark.parametrize("mode, expected", [
    ("union", [[0.5, 1.0, 1.0]]),
    ("add", [[0.75, 1.0, 1.0]]),
    ("subtract", [[0.0, 0.0, 1.0]]),
    ("intersect", [[0.25, 0.5, 0.0]]),
])
def test_combine_makes_one_layer_named_matte(mode, expected):
    layers = {"b": np.array([[0.25, 0.5, 1.0]], np.float32),
              "a": np.array([[0.5, 1.0, 0.0]], np.float32)}
    m = Finisher(FinishOptions(combine=mode)).apply(Matte(1, layers, {"a": 0.9, "b": 0.4}))
    assert list(m.layers) == [COMBINED_LAYER] == ["matte"]
    assert m.layer().tolist() == expected  # subtract: the first layer (b) minus the rest
    assert m.scores == {"matte": 0.4}


def test_layers_keep_names_order_and_scores():
    layers = {"z": square(), "a": square(11, 4, 6), "m": np.zeros((11, 11), np.float32)}
    m = Finisher(FinishOptions(invert=True)).apply(Matte(2, layers, {"a": 0.5}))
    assert list(m.layers) == ["z", "a", "m"]
    assert m.scores == {"a": 0.5}
    for name, a in layers.items():
        np.testing.assert_array_equal(m.layer(name), 1.0 - a)


def test_input_matte_is_not_modified():
    a = square()
    m = Matte(1, {"a": a})
    Finisher(FinishOptions(choke=1, invert=True)).apply(m)
    assert m.layers["a"] is a and np.array_equal(a, square())


def test_layers_of_different_sizes_are_refused():
    m = Matte(5, {"a": square(), "b": np.zeros((3, 3), np.float32)})
    with pytest.raises(ValueError, match="frame 5"):
        Finisher(FinishOptions(invert=True)).apply(m)


def test_order_is_combine_threshold_choke_feather_clip_invert():
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 16, 16), dtype=np.float32)
    o = FinishOptions(combine="union", threshold=0.6, softness=0.2, choke=1.5, feather=1.2,
                      clip_black=0.1, clip_white=0.9, invert=True)
    x = torch.from_numpy(np.stack([a, b]))
    x = ops.combine(x, "union")
    x = ops.threshold(x, 0.6, 0.2)
    x = ops.choke(x, 1.5)
    x = ops.feather(x, 1.2)
    x = ops.clip(x, 0.1, 0.9)
    x = ops.invert(x)
    out = Finisher(o).apply(Matte(1, {"a": a, "b": b})).layer()
    np.testing.assert_allclose(out, x.numpy(), atol=1e-6)


def test_threshold_comes_before_feather():
    # feathered after the cut, the edge is soft; cut after the feather it would be hard
    out = finish({"a": square()}, threshold=0.5, feather=1.0).layer()
    assert ((out > 0.01) & (out < 0.99)).any()


def test_invert_comes_last():
    # at exactly the threshold: threshold then invert gives 0; invert then threshold would give 1
    a = np.full((3, 3), 0.5, np.float32)
    assert finish({"a": a}, threshold=0.5, invert=True).layer().max() == 0.0


def test_choke_comes_before_feather():
    out = finish({"a": square()}, choke=3, feather=0.8).layer()
    # choked by 3 the 7×7 square is a single pixel, which the feather then spreads;
    # feathered first, a choke of 3 would leave the 1×1 core near 1
    assert out.max() < 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_finisher_on_cuda_matches_cpu():
    rng = np.random.default_rng(2)
    layers = {"a": rng.random((32, 40), dtype=np.float32)}
    o = FinishOptions(threshold=0.4, softness=0.1, choke=-2.5, feather=1.5, invert=True)
    gpu = Finisher(o, device="cuda").apply(Matte(1, layers)).layer()
    cpu = Finisher(o).apply(Matte(1, layers)).layer()
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)
