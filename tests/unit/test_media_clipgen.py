"""The test clip generator itself: codes survive codecs, ground truth is exact."""

from __future__ import annotations

import clipgen
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmatte.server.media import open_reader, probe


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 65535))
def test_numbers_round_trip(n):
    assert clipgen.decode_number(clipgen.numbered_image(n, 160, 120)) == n


def test_blank_or_wrong_pictures_are_rejected():
    with pytest.raises(ValueError, match="no valid frame number"):
        clipgen.decode_number(np.zeros((120, 160, 3), np.uint8))
    img = clipgen.numbered_image(1234)
    img[:30, :32] = 255 - img[:30, :32]  # flip one block
    with pytest.raises(ValueError):
        clipgen.decode_number(img)


def test_numbers_survive_h264(h264_clip):
    with open_reader(probe(h264_clip.path), h264_clip.first, h264_clip.last) as reader:
        assert [clipgen.decode_number(f.image) for f in reader] == list(range(48))


def test_green_screen_ground_truth_is_its_composite():
    rgb, alpha = clipgen.green_screen(7, 160, 120)
    assert rgb.dtype == np.uint8 and alpha.dtype == np.float32
    assert alpha.shape == (120, 160) and 0 < alpha.mean() < 0.5
    assert ((alpha > 0) & (alpha < 1)).any(), "edges should be anti-aliased"
    expected = alpha[..., None] * np.array(clipgen.ORANGE) + (1 - alpha[..., None]) * np.array(clipgen.GREEN)
    assert np.abs(rgb - expected).max() <= 0.5
    assert tuple(rgb[0, 0]) == clipgen.GREEN


def test_green_screen_object_moves():
    a0 = clipgen.green_screen(0)[1]
    a5 = clipgen.green_screen(5)[1]
    assert np.abs(a0 - a5).sum() > 100


def test_green_screen_clip_is_clean(green_screen_clip):
    with open_reader(probe(green_screen_clip.path), 0, green_screen_clip.last) as reader:
        for frame in reader:
            rgb, _ = clipgen.green_screen(frame.number, green_screen_clip.width, green_screen_clip.height)
            assert np.abs(frame.image * 255 - rgb).mean() < 2.0
