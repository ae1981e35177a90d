"""Prompt conversion: source pixels to processor inputs, masks from image files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segmatte.models.engine import EngineError
from segmatte.models.prompts import Box, Keyframe, Point
from segmatte.models.track.prompts_convert import keyframe_prompt, read_mask

W, H = 80, 48


def test_points_and_box_keep_source_pixels():
    """The processor scales coordinates itself; we must not scale them twice."""
    kf = Keyframe(frame=1, points=(Point(x=10, y=20), Point(x=30.5, y=5, label=0)),
                  boxes=(Box(x0=1, y0=2, x1=40, y1=30),))
    kw = keyframe_prompt(kf, W, H).kwargs()
    assert kw["input_points"] == [[[[10.0, 20.0], [30.5, 5.0]]]]
    assert kw["input_labels"] == [[[1, 0]]]
    assert kw["input_boxes"] == [[[1.0, 2.0, 40.0, 30.0]]]


def test_processor_normalises_to_its_square():
    from tiny_track import tiny_processor

    proc = tiny_processor(64)
    enc = proc(input_points=[[[[40.0, 24.0]]]], input_labels=[[[1]]],
               original_sizes=[[H, W]], return_tensors="pt")
    assert enc["input_points"].flatten().tolist() == [32.0, 32.0]  # frame centre → square centre


def test_mask_png_rgba_16bit_and_resize(tmp_path):
    m = np.zeros((H, W), np.uint8)
    m[10:20, 30:50] = 255
    Image.fromarray(m).save(tmp_path / "g.png")
    assert (read_mask(tmp_path / "g.png", W, H) == (m > 0)).all()
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = m
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert (read_mask(tmp_path / "a.png", W, H) == (m > 0)).all()
    Image.fromarray(m.astype(np.uint16) * 257).save(tmp_path / "w.png")  # 16-bit grey
    assert (read_mask(tmp_path / "w.png", W, H) == (m > 0)).all()
    small = Image.fromarray(m).resize((W // 2, H // 2), Image.NEAREST)
    small.save(tmp_path / "s.png")
    got = read_mask(tmp_path / "s.png", W, H)
    assert got.shape == (H, W) and abs(int(got.sum()) - int((m > 0).sum())) <= 40


def test_mask_exr_through_openimageio(tmp_path):
    oiio = pytest.importorskip("OpenImageIO")
    m = np.zeros((H, W, 1), np.float32)
    m[5:15, 5:25] = 1.0
    out = oiio.ImageOutput.create(str(tmp_path / "m.exr"))
    out.open(str(tmp_path / "m.exr"), oiio.ImageSpec(W, H, 1, "half"))
    out.write_image(m)
    out.close()
    assert (read_mask(tmp_path / "m.exr", W, H) == (m[..., 0] > 0.5)).all()


def test_bad_masks(tmp_path):
    with pytest.raises(EngineError, match="does not exist"):
        read_mask(tmp_path / "nope.png", W, H)
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "e.png")
    with pytest.raises(EngineError, match="empty"):
        read_mask(tmp_path / "e.png", W, H)
    with pytest.raises(EngineError, match="cannot be combined"):
        keyframe_prompt(Keyframe(frame=1, mask="x.png", points=(Point(x=1, y=1),)), W, H)
