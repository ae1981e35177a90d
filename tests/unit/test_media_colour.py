"""The documented pixel transforms of colour.py, through real files (exact arrays).

The expected values are computed here in float64 from the formulas in
colour.py's docstring, independently of its code.
"""

from __future__ import annotations

import clipgen
import numpy as np
import OpenImageIO as oiio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmatte.server.media import colour, probe, read_frame


def _reference_view(x):
    """colour.py's view transform, written out in float64."""
    x = np.nan_to_num(np.asarray(x, np.float64), nan=0.0, posinf=1e300, neginf=0.0)
    x = np.maximum(x, 0.0)
    k = 0.8
    t = np.maximum(x - k, 0) / (1 - k)
    r = np.where(x <= k, x, k + (1 - k) * t / (1 + t))
    return np.where(r <= 0.0031308, 12.92 * r, 1.055 * np.power(r, 1 / 2.4) - 0.055)


def _write(path, data, fmt):
    out = oiio.ImageOutput.create(path)
    spec = oiio.ImageSpec(data.shape[1], data.shape[0], data.shape[2], fmt)
    assert out.open(path, spec) and out.write_image(data)
    out.close()


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_sixteen_bit_integer_scales_to_unit(tmp_path, ext):
    data = np.random.default_rng(7).integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    data[0, 0] = (0, 65535, 32768)
    path = str(tmp_path / f"deep.{ext}")
    _write(path, data, "uint16")
    info = probe(path)
    assert info.bit_depth == 16 and not info.linear
    image = read_frame(info, 0).image
    np.testing.assert_allclose(image, data / 65535.0, rtol=0, atol=1e-7)
    assert tuple(image[0, 0]) == (0.0, 1.0, pytest.approx(32768 / 65535))


def test_eight_bit_scales_to_unit(tmp_path):
    data = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    path = str(tmp_path / "ramp.png")
    _write(path, data, "uint8")
    np.testing.assert_allclose(read_frame(probe(path), 0).image, data / 255.0, rtol=0, atol=1e-7)


VALUES = [-1.0, 0.0, 1e-4, 0.0031308, 0.01, 0.18, 0.5, 0.79, 0.8, 0.81, 1.0, 2.0, 8.0, 100.0,
          1e6, np.inf, np.nan]


def test_float_exr_gets_the_view_transform(tmp_path):
    data = np.array(VALUES, np.float32)
    data = np.stack([data, data[::-1], np.roll(data, 3)], axis=-1)[None]  # 1×N×3
    path = str(tmp_path / "linear.exr")
    _write(path, data, "float")
    info = probe(path)
    assert info.linear and info.pix_fmt == "float" and info.bit_depth == 32
    image = read_frame(info, 0).image
    # float32 goes through the half table: the reference sees the half-rounded values.
    with np.errstate(over="ignore"):
        rounded = data.astype(np.float16)
    np.testing.assert_allclose(image, _reference_view(rounded), rtol=0, atol=2e-6)
    np.testing.assert_allclose(image, _reference_view(data), rtol=0, atol=1e-3)
    assert image.max() <= 1.0 and image.min() >= 0.0


def test_half_exr_gets_the_view_transform(exr_sequence):
    info = probe(exr_sequence.path)
    image = read_frame(info, 1001).image
    # The fixture stores 2.0 and 0.02 (see conftest), as half floats.
    levels = np.unique(image)
    expected = _reference_view(np.array([np.float16(0.02), np.float16(2.0)], np.float64))
    np.testing.assert_allclose(levels, expected, rtol=0, atol=2e-6)


def test_display_referred_float_is_clipped_not_curved(tmp_path):
    data = np.array([[[-0.5, 0.25, 1.5]]], np.float32)
    path = str(tmp_path / "display.tif")
    _write(path, data, "float")
    info = probe(path)
    assert not info.linear
    np.testing.assert_array_equal(read_frame(info, 0).image, [[[0.0, 0.25, 1.0]]])


def test_video_frames_match_the_integer_rule(tmp_path):
    grey = np.full((120, 160, 3), 128, np.uint8)
    path = clipgen.write_video(tmp_path / "grey.mp4", [grey] * 2, 24, pix_fmt="yuv444p", crf=0)
    image = read_frame(probe(path), 0).image
    assert np.abs(image - 128 / 255).max() <= 1.5 / 255


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1e4, allow_nan=False), st.floats(0, 1e4, allow_nan=False))
def test_view_transform_is_monotonic_and_bounded(a, b):
    lo, hi = sorted((a, b))
    out = colour.linear_to_display(np.array([lo, hi], np.float32))
    assert 0.0 <= out[0] <= out[1] <= 1.0


def test_half_table_matches_the_formula_everywhere():
    every = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    table = colour.half_to_display(every)
    finite = np.isfinite(every)
    np.testing.assert_allclose(table[finite], _reference_view(every[finite]), rtol=0, atol=2e-6)
    assert np.all(table[np.isnan(every)] == 0.0)
    assert table[np.isposinf(every)].tolist() == [pytest.approx(1.0, abs=1e-7)]


def test_rolloff_is_smooth_at_the_knee():
    k = colour.KNEE
    eps = 1e-3
    below, at, above = colour.highlight_rolloff(np.array([k - eps, k, k + eps], np.float32))
    assert at == pytest.approx(k)
    assert (above - at) / eps == pytest.approx(1.0, abs=0.01)  # slope 1 on both sides
    assert (at - below) / eps == pytest.approx(1.0, abs=0.01)
    far = colour.highlight_rolloff(np.array([1.0, 4.0, 20.0], np.float32))
    assert far[0] < far[1] < far[2] < 1.0  # highlights stay distinct, never hard-clipped
    np.testing.assert_allclose(far, [0.9, 0.8 + 0.2 * 16 / 17, 0.8 + 0.2 * 96 / 97], rtol=1e-6)


def test_display_to_linear_inverts_the_view_transform() -> None:
    # video: the sRGB decode, the inverse of the OETF
    s = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(colour.srgb_oetf(colour.display_to_linear(s, linear_source=False)),
                               s, atol=2e-6)
    # scene-linear plates: the roll-off too, so highlights above 1 come back
    x = np.array([0.0, 0.002, 0.18, 0.7, 0.8, 0.95, 1.0, 2.5, 8.0], np.float32)
    back = colour.display_to_linear(colour.linear_to_display(x), linear_source=True)
    np.testing.assert_allclose(back, x, rtol=2e-3, atol=1e-5)
    assert np.isfinite(colour.display_to_linear(np.ones(3, np.float32), linear_source=True)).all()


def test_integer_to_unit_is_the_exact_quotient_product() -> None:
    raw = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = colour.integer_to_unit(raw)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, raw.astype(np.float32) * np.float32(1 / 255))
    deep = np.array([0, 1, 32768, 65535], np.uint16)
    np.testing.assert_array_equal(colour.integer_to_unit(deep),
                                  deep.astype(np.float32) * np.float32(1 / 65535))
