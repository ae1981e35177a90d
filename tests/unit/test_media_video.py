"""Video probing and frame-exact reading through the bundled ffmpeg (no mocks).

Every generated frame carries its number (clipgen.numbered_image), so each
test checks the *pictures* it got, not just the numbers the reader claims.
The H.264 clip has a GOP of 12 with B-frames, so ranges that start mid-GOP
really exercise seeking.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import clipgen
import numpy as np
import pytest

from segmatte.server.media import MediaError, open_reader, probe, read_frame
from segmatte.server.media.video import ffmpeg_exe


def _numbers(info, first, last, **kw):
    with open_reader(info, first, last, **kw) as reader:
        return [(f.number, clipgen.decode_number(f.image)) for f in reader]


def _check(pairs, expected):
    assert [n for n, _ in pairs] == list(expected)
    assert [d for _, d in pairs] == list(expected), "a decoded picture is not the frame asked for"


# --------------------------------------------------------------------------- probe

def test_probe_h264(h264_clip):
    info = probe(h264_clip.path)
    assert info.kind == "video"
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(24.0)
    assert (info.first, info.last, info.frame_count) == (0, 47, 48)
    assert info.codec == "h264"
    assert info.pix_fmt == "yuv420p" and info.bit_depth == 8
    assert info.timecode == "01:00:00:00"
    assert info.linear is False and info.missing == () and info.pattern is None


def test_probe_prores_is_ten_bit(prores_clip):
    info = probe(prores_clip.path)
    assert (info.codec, info.pix_fmt, info.bit_depth) == ("prores", "yuv422p10le", 10)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 30
    assert info.timecode is None


def test_probe_ntsc_rate_is_exact(tmp_path):
    path = clipgen.write_video(tmp_path / "ntsc.mp4", (clipgen.numbered_image(n) for n in range(6)),
                               30000 / 1001)
    assert probe(path).fps == pytest.approx(30000 / 1001, abs=1e-9)


def test_clip_info_from_probe(h264_clip):
    clip = probe(h264_clip.path).clip(10, 20)
    assert (clip.first, clip.last, clip.frame_count, clip.fps) == (10, 20, 11, 24.0)


# ------------------------------------------------------------------- exact reading

@pytest.mark.parametrize("first,last", [
    (0, 47),    # whole clip
    (5, 9),     # mid-GOP start
    (11, 13),   # across the keyframe at 12
    (23, 37),   # across two keyframes
    (30, 30),   # one frame
    (47, 47),   # the last frame
    (40, 47),   # up to the last frame
])
def test_h264_ranges_are_exact(h264_clip, first, last):
    _check(_numbers(probe(h264_clip.path), first, last), range(first, last + 1))


@pytest.mark.parametrize("first,last", [(0, 29), (7, 12), (29, 29), (14, 14)])
def test_prores_ranges_are_exact(prores_clip, first, last):
    _check(_numbers(probe(prores_clip.path), first, last), range(first, last + 1))


@pytest.mark.parametrize("first,last", [(0, 47), (9, 26), (45, 47), (12, 12)])
def test_h264_reversed_ranges_are_exact(h264_clip, first, last, monkeypatch):
    # Small chunks so reversing really stitches several forward decodes.
    monkeypatch.setattr("segmatte.server.media.reader.REVERSE_CHUNK_MAX", 5)
    _check(_numbers(probe(h264_clip.path), first, last, reverse=True), range(last, first - 1, -1))


def test_prores_reversed(prores_clip):
    _check(_numbers(probe(prores_clip.path), 3, 17, reverse=True), range(17, 2, -1))


@pytest.mark.parametrize("number", [0, 1, 11, 12, 13, 25, 46, 47])
def test_read_frame_random_access(h264_clip, number):
    frame = read_frame(probe(h264_clip.path), number)
    assert frame.number == number
    assert clipgen.decode_number(frame.image) == number


def test_frames_are_float_rgb_in_unit_range(h264_clip, prores_clip):
    for clip in (h264_clip, prores_clip):
        frame = read_frame(probe(clip.path), 3)
        assert frame.image.dtype == np.float32
        assert frame.image.shape == (120, 160, 3)
        assert frame.image.flags.c_contiguous
        assert 0.0 <= frame.image.min() and frame.image.max() <= 1.0


def test_ten_bit_source_keeps_more_than_eight_bits(prores_clip):
    image = read_frame(probe(prores_clip.path), 2).image
    codes = np.unique(np.rint(image * 65535).astype(np.int64) % 257)
    assert codes.size > 1, "a 10-bit source was read through an 8-bit pipe"


def test_top_left_origin(tmp_path):
    img = np.zeros((120, 160, 3), np.uint8)
    img[:30, :40] = (235, 16, 16)  # red block in the top-left corner
    path = clipgen.write_video(tmp_path / "corner.mp4", [img] * 3, 24, pix_fmt="yuv444p", crf=0)
    image = read_frame(probe(path), 1).image
    assert image[5, 5, 0] > 0.8 and image[5, 5, 1] < 0.2
    assert image[-5, -5].max() < 0.2


def test_real_footage_seek_matches_sequential(vtest_avi):
    info = probe(str(vtest_avi))
    assert (info.width, info.height, info.frame_count) == (768, 576, 795)
    with open_reader(info, 0, 60) as reader:
        sequential = {f.number: f.image for f in reader}
    with open_reader(info, 50, 60) as reader:
        for frame in reader:
            np.testing.assert_array_equal(frame.image, sequential[frame.number])


# ----------------------------------------------------------------------- bad input

def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no file at"):
        probe(str(tmp_path / "nope.mp4"))


def test_garbage_named_mp4(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match="not a video"):
        probe(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mov"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(str(path))


def test_folder_is_not_a_source(tmp_path):
    with pytest.raises(MediaError, match="is a folder"):
        probe(str(tmp_path))


def test_no_video_stream(tmp_path):
    path = tmp_path / "tone.m4a"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=duration=0.5", str(path)], check=True)
    with pytest.raises(MediaError, match="no video stream"):
        probe(str(path))


def _cut_in_half(src, dst):
    data = open(src, "rb").read()
    dst.write_bytes(data[: len(data) // 2])
    return str(dst)


def test_truncated_video_index_at_end(h264_clip, tmp_path):
    with pytest.raises(MediaError, match="truncated"):
        probe(_cut_in_half(h264_clip.path, tmp_path / "half.mp4"))


def test_truncated_video_index_at_start(tmp_path):
    # faststart puts the index first: the index survives, the pictures do not.
    path = clipgen.write_video(tmp_path / "fast.mp4", (clipgen.numbered_image(n) for n in range(48)),
                               24, extra=["-movflags", "+faststart"])
    with pytest.raises(MediaError, match="truncated"):
        probe(_cut_in_half(path, tmp_path / "half_fast.mp4"))


def test_truncated_prores(prores_clip, tmp_path):
    with pytest.raises(MediaError, match="truncated"):
        probe(_cut_in_half(prores_clip.path, tmp_path / "half.mov"))


@pytest.mark.parametrize("first,last", [(40, 48), (48, 48), (10, 5), (0, 1000)])
def test_range_outside_clip(h264_clip, first, last):
    info = probe(h264_clip.path)
    with pytest.raises(MediaError, match=r"outside|ends before"):
        open_reader(info, first, last)
    if first == last:
        with pytest.raises(MediaError, match="outside"):
            read_frame(info, first)


def test_messages_are_one_sentence(h264_clip, tmp_path):
    for source in (str(tmp_path / "nope.mov"), str(tmp_path)):
        with pytest.raises(MediaError) as err:
            probe(source)
        assert "\n" not in str(err.value) and str(err.value)
    with pytest.raises(MediaError) as err:
        open_reader(probe(h264_clip.path), 0, 99)
    assert str(err.value) == "frames 0-99 are outside numbered_h264.mp4, which has frames 0-47"


def test_file_deleted_while_reading_fails_cleanly(h264_clip, tmp_path):
    path = shutil.copy(h264_clip.path, tmp_path / "moved.mp4")
    info = probe(str(path))
    os.remove(path)
    with pytest.raises(MediaError, match="moved.mp4 is no longer there"), \
            open_reader(info, 3, 5) as reader:
        list(reader)


# ------------------------------------------------------- timestamps that are not 0, 1/fps, ...

def test_transport_stream_with_nonzero_start(tmp_path):
    """MPEG-TS starts its clock at 1.4 s: frame numbers still count from 0."""
    path = clipgen.write_video(tmp_path / "clip.ts", (clipgen.numbered_image(n) for n in range(36)), 24)
    info = probe(path)
    assert info.frame_count == 36 and info.seek_origin > 1.0
    _check(_numbers(info, 13, 20), range(13, 21))
    _check(_numbers(info, 30, 35, reverse=True), range(35, 29, -1))
    assert clipgen.decode_number(read_frame(info, 0).image) == 0


def test_variable_frame_rate_counts_pictures(tmp_path):
    """A 2 s hole after frame 11: frame 12 is the 13th picture, not the one at 12/24 s."""
    path = clipgen.write_video(
        tmp_path / "vfr.mp4", (clipgen.numbered_image(n) for n in range(30)), 24,
        extra=["-vf", "setpts=N/24/TB+gte(N\\,12)*2/TB", "-fps_mode", "vfr"])
    info = probe(path)
    assert info.frame_count == 30
    assert info.frame_times[12] - info.frame_times[11] > 1.5
    _check(_numbers(info, 10, 16), range(10, 17))
    _check(_numbers(info, 12, 14), range(12, 15))
    assert clipgen.decode_number(read_frame(info, 29).image) == 29


def test_late_seek_is_detected_and_redone(h264_clip, monkeypatch):
    """If ffmpeg's fast seek lands after the wanted frame, the reader decodes from the top."""
    from segmatte.server.media import video

    def late(self, number):
        return self.info.frame_times[min(number + 5, len(self.info.frame_times) - 1)]

    monkeypatch.setattr(video.VideoDecode, "_seek_seconds", late)
    _check(_numbers(probe(h264_clip.path), 20, 25), range(20, 26))


def test_rotated_phone_clip_comes_out_upright(h264_clip, tmp_path):
    """A display-matrix rotation (phone footage): ffmpeg turns the frames, probe swaps the size."""
    path = str(tmp_path / "rotated.mp4")
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-display_rotation", "90",
                    "-i", h264_clip.path, "-c", "copy", path], check=True)
    info = probe(path)
    assert (info.width, info.height) == (120, 160)
    frame = read_frame(info, 13)
    assert frame.image.shape == (160, 120, 3)
    assert clipgen.decode_number(np.rot90(frame.image, -1)) == 13


def test_real_footage_with_packed_b_frames(test_asset):
    """Megamind.avi (XviD, packed B-frames, no presentation times in the container)."""
    info = probe(str(test_asset("Megamind.avi")))
    assert (info.width, info.height, info.frame_count) == (720, 528, 270)
    assert info.fps == pytest.approx(24000 / 1001)
    with open_reader(info, 90, 110) as reader:
        sequential = {f.number: f.image for f in reader}
    with open_reader(info, 100, 105) as reader:
        for frame in reader:
            np.testing.assert_array_equal(frame.image, sequential[frame.number])
    np.testing.assert_array_equal(read_frame(info, 110).image, sequential[110])


@pytest.mark.parametrize("pix_fmt,bits", [
    ("yuv420p", 8), ("nv12", 8), ("yuvj422p", 8), ("yuv422p10le", 10), ("yuv420p10le", 10),
    ("yuv444p12le", 12), ("p010le", 10), ("gray16le", 16), ("rgb48le", 16), ("yuva444p16le", 16),
])
def test_bit_depth_of_pixel_formats(pix_fmt, bits):
    from segmatte.server.media.video import _bit_depth

    assert _bit_depth(pix_fmt) == bits


@pytest.mark.parametrize("printed,exact", [
    (23.98, 24000 / 1001), (29.97, 30000 / 1001), (59.94, 60000 / 1001), (24.0, 24.0),
    (25.0, 25.0), (12.5, 12.5), (10.0, 10.0),
])
def test_printed_rates_snap_to_ntsc_fractions(printed, exact):
    from segmatte.server.media.video import _snap_rate

    assert _snap_rate(printed) == pytest.approx(exact, abs=1e-9)
