"""Image sequences and stills through OpenImageIO: patterns, gaps, exact frames, bad input."""

from __future__ import annotations

import os
import shutil

import clipgen
import numpy as np
import OpenImageIO as oiio
import pytest

from segmatte.server.media import MediaError, open_reader, probe, read_frame


def _decoded(info, first, last, **kw):
    with open_reader(info, first, last, **kw) as reader:
        return [(f.number, clipgen.decode_number(f.image)) for f in reader]


def _write_numbered(folder, name, numbers, ext="png", dtype="uint8", padding=4, size=(160, 120)):
    return clipgen.write_sequence(folder, name, numbers,
                                  [clipgen.numbered_image(n, *size) for n in numbers],
                                  ext=ext, dtype=dtype, padding=padding)


@pytest.fixture
def gappy(exr_sequence, tmp_path):
    """The EXR sequence copied without frames 1005 and 1006."""
    src = os.path.dirname(exr_sequence.path)
    for entry in os.listdir(src):
        if entry not in ("numbered.1005.exr", "numbered.1006.exr"):
            shutil.copy(os.path.join(src, entry), tmp_path / entry)
    return tmp_path


# --------------------------------------------------------------------------- probe

def test_probe_exr_sequence(exr_sequence):
    info = probe(exr_sequence.path)
    assert info.kind == "sequence"
    assert (info.width, info.height) == (160, 120)
    assert (info.first, info.last, info.frame_count) == (1001, 1024, 24)
    assert info.fps is None
    assert (info.codec, info.pix_fmt, info.bit_depth, info.linear) == ("openexr", "half", 16, True)
    assert info.missing == ()
    assert info.pattern.endswith("numbered.%04d.exr")
    assert info.frame_path(1010).endswith("numbered.1010.exr")


def test_pattern_spellings_agree(exr_sequence):
    folder = os.path.dirname(exr_sequence.path)
    hashes = probe(exr_sequence.path)
    printf = probe(os.path.join(folder, "numbered.%04d.exr"))
    one_file = probe(os.path.join(folder, "numbered.1013.exr"))
    for info in (printf, one_file):
        assert (info.first, info.last, info.pattern) == (hashes.first, hashes.last, hashes.pattern)
    assert one_file.path.endswith("numbered.####.exr")
    ranged = probe(os.path.join(folder, "numbered.[1005-1010].exr"))
    assert (ranged.first, ranged.last, ranged.missing) == (1005, 1010, ())


def test_gaps_are_reported(gappy):
    info = probe(str(gappy / "numbered.####.exr"))
    assert info.missing == (1005, 1006)
    assert info.frame_count == 24 and info.present_count == 22


def test_range_pattern_reports_frames_it_lacks(exr_sequence):
    folder = os.path.dirname(exr_sequence.path)
    info = probe(os.path.join(folder, "numbered.[0998-1002].exr"))
    assert (info.first, info.last, info.missing) == (998, 1002, (998, 999, 1000))


def test_unpadded_sequence_from_one_file(tmp_path):
    _write_numbered(tmp_path, "shot", [1, 2, 9, 10, 11, 12], padding=1)
    info = probe(str(tmp_path / "shot.10.png"))
    assert (info.first, info.last, info.missing) == (1, 12, (3, 4, 5, 6, 7, 8))
    assert probe(str(tmp_path / "shot.%d.png")).missing == info.missing


def test_padding_is_respected(tmp_path):
    _write_numbered(tmp_path, "a", [998, 999], padding=3)
    _write_numbered(tmp_path, "a", [1000, 1001], padding=4)
    _write_numbered(tmp_path, "a", [7], padding=4)  # a.0007.png: not 3-padded
    info = probe(str(tmp_path / "a.###.png"))
    assert (info.first, info.last, info.missing) == (998, 1001, ())
    assert probe(str(tmp_path / "a.####.png")).first == 7


def test_lone_numbered_file_is_a_still(tmp_path):
    _write_numbered(tmp_path, "IMG", [42])
    info = probe(str(tmp_path / "IMG.0042.png"))
    assert (info.kind, info.first, info.last, info.frame_count) == ("still", 0, 0, 1)
    assert clipgen.decode_number(read_frame(info, 0).image) == 42
    with pytest.raises(MediaError, match="outside"):
        read_frame(info, 1)


@pytest.mark.parametrize("ext,dtype", [("png", "uint8"), ("tif", "uint16"), ("dpx", "uint16"),
                                       ("jpg", "uint8"), ("exr", "float")])
def test_still_formats(tmp_path, ext, dtype):
    clipgen.write_sequence(tmp_path, "still", [0], [clipgen.numbered_image(321)], ext=ext, dtype=dtype)
    os.rename(tmp_path / f"still.0000.{ext}", tmp_path / f"still.{ext}")
    info = probe(str(tmp_path / f"still.{ext}"))
    assert info.kind == "still" and (info.width, info.height) == (160, 120)
    frame = read_frame(info, 0)
    assert frame.image.dtype == np.float32 and frame.image.shape == (120, 160, 3)
    assert clipgen.decode_number(frame.image) == 321


# ------------------------------------------------------------------- exact reading

@pytest.mark.parametrize("first,last,reverse", [
    (1001, 1024, False), (1010, 1012, False), (1024, 1024, False), (1001, 1001, False),
    (1003, 1020, True), (1024, 1024, True),
])
def test_exr_ranges_are_exact(exr_sequence, first, last, reverse):
    pairs = _decoded(probe(exr_sequence.path), first, last, reverse=reverse)
    want = list(range(last, first - 1, -1)) if reverse else list(range(first, last + 1))
    assert [n for n, _ in pairs] == want
    assert [d for _, d in pairs] == want


@pytest.mark.parametrize("ext,dtype", [("tif", "uint16"), ("dpx", "uint16"), ("png", "uint16")])
def test_sixteen_bit_sequences_read_exactly(tmp_path, ext, dtype):
    _write_numbered(tmp_path, "deep", range(50, 56), ext=ext, dtype=dtype)
    info = probe(str(tmp_path / f"deep.####.{ext}"))
    assert info.bit_depth in (10, 16) and not info.linear
    assert _decoded(info, 51, 54, reverse=True) == [(n, n) for n in (54, 53, 52, 51)]


def test_missing_frame_raises_naming_it(gappy):
    info = probe(str(gappy / "numbered.####.exr"))
    got = []
    with pytest.raises(MediaError, match="frame 1005 of numbered.####.exr is missing"), \
            open_reader(info, 1003, 1008) as reader:
        for frame in reader:
            got.append(frame.number)
    assert got == [1003, 1004]
    with pytest.raises(MediaError, match="frame 1006 .* is missing"):
        read_frame(info, 1006)


def test_hold_previous_frame_over_gaps(gappy):
    info = probe(str(gappy / "numbered.####.exr"))
    pairs = _decoded(info, 1003, 1008, hold_missing=True)
    assert pairs == [(1003, 1003), (1004, 1004), (1005, 1004), (1006, 1004), (1007, 1007), (1008, 1008)]
    reverse = _decoded(info, 1003, 1008, hold_missing=True, reverse=True)
    assert reverse == pairs[::-1]
    assert clipgen.decode_number(read_frame(info, 1006, hold_missing=True).image) == 1004


def test_gap_at_the_head_holds_the_next_frame(exr_sequence):
    folder = os.path.dirname(exr_sequence.path)
    info = probe(os.path.join(folder, "numbered.[0999-1002].exr"))
    assert _decoded(info, 999, 1002, hold_missing=True) == [(999, 1001), (1000, 1001),
                                                           (1001, 1001), (1002, 1002)]


def test_exr_display_window_is_honoured(tmp_path):
    """The display window is the picture: black where no data, data outside it cropped."""
    path = str(tmp_path / "window.exr")
    spec = oiio.ImageSpec(40, 30, 3, "half")
    spec.x, spec.y = 10, 20
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, 64, 48
    out = oiio.ImageOutput.create(path)
    out.open(path, spec)
    out.write_image(np.full((30, 40, 3), 0.5, np.float32))
    out.close()
    info = probe(path)
    assert (info.width, info.height) == (64, 48)
    image = read_frame(info, 0).image
    assert image.shape == (48, 64, 3)
    assert image[0, 0].max() == 0.0 and image[47, 63].max() == 0.0
    assert image[:20].max() == 0.0 and image[:, :10].max() == 0.0
    assert image[20:48, 10:50].min() > 0.5  # 0.5 linear displays brighter than 0.5
    assert image[20:48, 50:].max() == 0.0  # (the data window runs past the bottom: cropped)


def test_grey_exr_is_repeated_to_rgb(tmp_path):
    path = str(tmp_path / "grey.exr")
    out = oiio.ImageOutput.create(path)
    spec = oiio.ImageSpec(16, 8, 1, "half")
    spec.channelnames = ("Y",)
    out.open(path, spec)
    out.write_image(np.full((8, 16, 1), 0.18, np.float32))
    out.close()
    image = read_frame(probe(path), 0).image
    assert image.shape == (8, 16, 3)
    assert np.all(image[..., 0] == image[..., 2])


def test_unassociated_alpha_colour_is_kept(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = 0  # fully transparent, colour still stored
    clipgen.write_sequence(tmp_path, "rgba", [0], [rgba], ext="png", dtype="uint8")
    image = read_frame(probe(str(tmp_path / "rgba.0000.png")), 0).image
    np.testing.assert_allclose(image[0, 0], np.array([200, 100, 50]) / 255, atol=1e-6)


# ----------------------------------------------------------------------- bad input

def test_empty_pattern(tmp_path):
    with pytest.raises(MediaError, match=r"no files match plate\.####\.exr"):
        probe(str(tmp_path / "plate.####.exr"))


def test_pattern_in_missing_folder(tmp_path):
    with pytest.raises(MediaError, match="does not exist"):
        probe(str(tmp_path / "nowhere" / "plate.%04d.exr"))


def test_range_outside_sequence(exr_sequence):
    info = probe(exr_sequence.path)
    with pytest.raises(MediaError, match="frames 1000-1005 are outside numbered.####.exr, "
                                         "which has frames 1001-1024"):
        open_reader(info, 1000, 1005)
    with pytest.raises(MediaError, match="outside"):
        read_frame(info, 1025)


def test_frame_of_another_size(tmp_path):
    _write_numbered(tmp_path, "mixed", [1, 2, 3])
    _write_numbered(tmp_path, "mixed", [4], size=(320, 240))
    info = probe(str(tmp_path / "mixed.####.png"))
    with pytest.raises(MediaError, match="frame 4 of mixed.####.png is 320×240 but the sequence is 160×120"):
        read_frame(info, 4)


def test_absurd_size_is_refused(tmp_path):
    clipgen.write_sequence(tmp_path, "wide", [0], [np.zeros((1, 16385, 3), np.uint8)], ext="png",
                           dtype="uint8")
    with pytest.raises(MediaError, match="larger than 16384 pixels"):
        probe(str(tmp_path / "wide.0000.png"))


def test_garbage_image(tmp_path):
    path = tmp_path / "broken.exr"
    path.write_bytes(b"\x76\x2f\x31\x01" + b"\0" * 64)
    with pytest.raises(MediaError, match="broken.exr cannot be read as an image"):
        probe(str(path))


def test_exr_header_rate_and_timecode(tmp_path):
    for n in (1, 2):
        path = str(tmp_path / f"tc.{n:04d}.exr")
        spec = oiio.ImageSpec(8, 8, 3, "half")
        spec.attribute("FramesPerSecond", oiio.TypeDesc("rational"), (25, 1))
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (0x01000000, 0))
        out = oiio.ImageOutput.create(path)
        out.open(path, spec)
        out.write_image(np.zeros((8, 8, 3), np.float32))
        out.close()
    info = probe(str(tmp_path / "tc.####.exr"))
    assert info.fps == 25.0
    assert info.timecode == "01:00:00:00"
