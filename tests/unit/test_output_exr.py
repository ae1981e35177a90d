"""EXR matte files: naming, layouts, values, metadata, atomic writes, checks.

Real files through OpenImageIO; our own half-ZIP encoder is checked against
OpenImageIO's writer pixel for pixel.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmatte.server.output import exr
from segmatte.server.output.exr import (
    ExrError,
    file_sha256,
    is_complete,
    is_ours,
    matte_header,
    read_matte,
    sequence_path,
    write_matte,
)

HALF_STEP = 1e-3  # half's spacing is 4.9e-4 just below 1


def blob_matte(h: int = 120, w: int = 200) -> np.ndarray:
    """Soft-edged disc: exact 0/1 away from the edge, a ramp across it."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - w * 0.45, yy - h * 0.5)
    return np.clip((h * 0.3 - d) / 6 + 0.5, 0, 1).astype(np.float32)


def oiio_read(path: Path) -> tuple[oiio.ImageSpec, np.ndarray]:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    try:
        spec = inp.spec()
        return spec, inp.read_image(oiio.FLOAT)
    finally:
        inp.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------- naming


def test_sequence_path_pads_the_source_frame_number(tmp_path):
    assert sequence_path(tmp_path, "matte", 7) == tmp_path / "matte.0007.exr"
    assert sequence_path(tmp_path, "matte", 1001, padding=6) == tmp_path / "matte.001001.exr"
    assert sequence_path(tmp_path, "m", 0, padding=1) == tmp_path / "m.0.exr"


def test_sequence_path_writes_wider_numbers_in_full(tmp_path):
    assert sequence_path(tmp_path, "matte", 123456) == tmp_path / "matte.123456.exr"


def test_sequence_path_layer(tmp_path):
    assert sequence_path(tmp_path, "shot", 12, layer="person") == tmp_path / "shot_person.0012.exr"
    assert sequence_path(tmp_path, "shot", 12, layer=None) == tmp_path / "shot.0012.exr"


def test_sequence_path_rejects_negative_numbers(tmp_path):
    with pytest.raises(ValueError, match="negative"):
        sequence_path(tmp_path, "m", -1)


# --------------------------------------------------------------- layouts


@pytest.mark.parametrize("encoder", ["auto", "oiio"])
@pytest.mark.parametrize(
    "channels, names", [("rgba", ("R", "G", "B", "A")), ("a", ("A",)), ("y", ("Y",))]
)
def test_layout_round_trip(tmp_path, channels, names, encoder):
    alpha = blob_matte()
    path = tmp_path / "m.0001.exr"
    write_matte(path, alpha, channels=channels, encoder=encoder)

    spec, pixels = oiio_read(path)
    assert tuple(spec.channelnames) == names
    assert spec.format == oiio.TypeDesc("half")
    assert spec.get_string_attribute("compression") == "zip"
    assert (spec.width, spec.height) == (200, 120)
    for c in range(len(names)):  # R = G = B = A
        np.testing.assert_array_equal(pixels[:, :, c], pixels[:, :, 0])
    back, _ = read_matte(path)
    assert back.shape == alpha.shape and back.dtype == np.float32
    np.testing.assert_allclose(back, alpha, atol=HALF_STEP)


def test_float_datatype(tmp_path):
    alpha = blob_matte()
    path = tmp_path / "f.exr"
    write_matte(path, alpha, datatype="float", channels="a")
    spec, pixels = oiio_read(path)
    assert spec.format == oiio.TypeDesc("float")
    np.testing.assert_array_equal(pixels[:, :, 0], exr.prepare_alpha(alpha))


@pytest.fixture(params=[1, 0], ids=["exr-core", "exr-cxx"])
def exr_decoder(request):
    """Read through OpenEXR's C core library, then through its C++ API:
    OpenImageIO has an input plugin for each."""
    before = oiio.get_int_attribute("openexr:core")
    oiio.attribute("openexr:core", request.param)
    yield request.param
    oiio.attribute("openexr:core", before)


@pytest.mark.parametrize("compression", ["zip", "zips"])
@pytest.mark.parametrize("channels", ["rgba", "a", "y"])
def test_own_encoder_decodes_like_openimageio(tmp_path, channels, compression, exr_decoder):
    # 1920 wide (OIIO's 2-D pitfall width), a height that leaves a short last chunk
    alpha = blob_matte(h=37, w=1920)
    ours, theirs = tmp_path / "ours.exr", tmp_path / "theirs.exr"
    write_matte(ours, alpha, channels=channels, compression=compression, encoder="auto")
    write_matte(theirs, alpha, channels=channels, compression=compression, encoder="oiio")
    spec_o, px_o = oiio_read(ours)
    spec_t, px_t = oiio_read(theirs)
    assert tuple(spec_o.channelnames) == tuple(spec_t.channelnames)
    assert spec_o.get_string_attribute("compression") == compression
    np.testing.assert_array_equal(px_o, px_t)


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5])
def test_constant_frames(tmp_path, value):
    path = tmp_path / "c.exr"
    write_matte(path, np.full((40, 64), value, np.float32))
    back, _ = read_matte(path)
    np.testing.assert_array_equal(back, np.float32(value))


def test_incompressible_chunks_are_stored_raw(tmp_path, monkeypatch):
    # zlib level 0 only ever grows the data: every chunk takes the raw path
    monkeypatch.setattr(exr, "ZIP_LEVEL", 0)
    exr._constant_chunk.cache_clear()
    try:
        alpha = np.random.default_rng(1).uniform(0, 1, (33, 50)).astype(np.float32)
        alpha[:16] = 1.0  # one constant chunk too
        path = tmp_path / "raw.exr"
        write_matte(path, alpha)
        _, pixels = oiio_read(path)
        np.testing.assert_array_equal(pixels[:, :, 3], exr.prepare_alpha(alpha).astype(np.float16))
    finally:
        exr._constant_chunk.cache_clear()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 70),
    seed=st.integers(0, 2**16),
    channels=st.sampled_from(["rgba", "a", "y"]),
    compression=st.sampled_from(["zip", "zips"]),
)
def test_own_encoder_is_exact_for_any_matte(tmp_path, h, w, seed, channels, compression):
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(-0.2, 1.2, (h, w)).astype(np.float32)
    alpha[rng.uniform(size=(h, w)) < 0.5] = rng.choice([0.0, 1.0])
    path = tmp_path / f"h{seed}.exr"
    write_matte(path, alpha, channels=channels, compression=compression)
    back, _ = read_matte(path)
    expected = exr.prepare_alpha(alpha).astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(back, expected)


# ----------------------------------------------------------------- values


def test_values_are_clamped_and_snapped(tmp_path):
    alpha = np.array([[-1.0, 0.0004, 0.5, 0.9995, 2.0, np.nan, np.inf, 0.25]], np.float32)
    path = tmp_path / "v.exr"
    write_matte(path, alpha, channels="a")
    back, _ = read_matte(path)
    np.testing.assert_array_equal(back[0], [0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 1.0, 0.25])


def test_input_array_is_not_modified(tmp_path):
    alpha = np.array([[-1.0, 0.0004, 2.0]], np.float32)
    before = alpha.copy()
    write_matte(tmp_path / "k.exr", alpha)
    np.testing.assert_array_equal(alpha, before)


def test_accepts_h_w_1(tmp_path):
    write_matte(tmp_path / "x.exr", blob_matte()[:, :, None])
    assert read_matte(tmp_path / "x.exr")[0].shape == (120, 200)


@pytest.mark.parametrize("shape", [(4, 5, 3), (10,), (0, 5)])
def test_bad_shape_raises_and_leaves_nothing(tmp_path, shape):
    with pytest.raises(ValueError, match="H×W"):
        write_matte(tmp_path / "bad.exr", np.zeros(shape, np.float32))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- metadata

META = {
    "engine": "key",
    "model": "chroma",
    "source": "/shots/a.mov",
    "frame": 1042,
    "prompts": "3f2a",
    "job": "0123456789abcdef",
    "version": "0.1.0",
    "score": 0.75,
}


@pytest.mark.parametrize("encoder", ["auto", "oiio"])
def test_metadata_round_trip(tmp_path, encoder):
    path = tmp_path / "m.exr"
    write_matte(path, blob_matte(), metadata=META, encoder=encoder)
    _, meta = read_matte(path)
    assert meta == META
    assert matte_header(path) == META
    spec, _ = oiio_read(path)
    assert spec.get_string_attribute("segmatte/engine") == "key"
    assert spec.get_int_attribute("segmatte/frame") == 1042


def test_prefixed_and_long_keys(tmp_path):
    long_key = "a_rather_long_metadata_key_name_over_31"
    path = tmp_path / "k.exr"
    write_matte(path, blob_matte(), metadata={"segmatte/job": "d", long_key: "x"})
    assert matte_header(path) == {"job": "d", long_key: "x"}


def test_big_ints_become_text(tmp_path):
    path = tmp_path / "i.exr"
    write_matte(path, blob_matte(), metadata={"n": 2**40})
    assert matte_header(path) == {"n": str(2**40)}


def test_metadata_values_must_be_plain(tmp_path):
    with pytest.raises(TypeError, match="'objects'"):
        write_matte(tmp_path / "t.exr", blob_matte(), metadata={"objects": [1, 2]})
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------- atomic write


@pytest.mark.parametrize("encoder", ["auto", "oiio"])
def test_success_leaves_no_temporary_file(tmp_path, encoder):
    path = tmp_path / "m.0001.exr"
    digest = write_matte(path, blob_matte(), encoder=encoder)
    assert [p.name for p in tmp_path.iterdir()] == ["m.0001.exr"]
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)


@pytest.mark.parametrize("encoder", ["auto", "oiio"])
def test_failure_at_rename_removes_the_temporary_file(tmp_path, encoder):
    target = tmp_path / "m.0001.exr"
    target.mkdir()  # os.replace onto a folder fails after the data is written
    with pytest.raises(OSError):
        write_matte(target, blob_matte(), encoder=encoder)
    assert leftovers(tmp_path) == []


def test_failure_while_encoding_removes_the_temporary_file(tmp_path):
    with pytest.raises(ValueError, match="255"):
        write_matte(tmp_path / "m.exr", blob_matte(), metadata={"k" * 300: "v"})
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_matte(tmp_path / "nope" / "m.exr", blob_matte())


def test_replaces_an_existing_frame(tmp_path):
    path = tmp_path / "m.exr"
    write_matte(path, np.zeros((20, 30), np.float32), metadata={"job": "a"})
    write_matte(path, np.ones((20, 30), np.float32), metadata={"job": "b"})
    back, meta = read_matte(path)
    assert meta == {"job": "b"} and back.min() == 1.0
    assert leftovers(tmp_path) == []


def test_files_get_ordinary_permissions(tmp_path):
    path = tmp_path / "m.exr"
    write_matte(path, blob_matte())
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------- checking

DIGEST = "0123456789abcdef"


@pytest.fixture(params=["auto", "oiio"])
def good(tmp_path, request) -> Path:
    path = tmp_path / "good.exr"
    write_matte(path, blob_matte(200, 300), metadata={"job": DIGEST}, encoder=request.param)
    return path


def test_complete_frame(good):
    assert is_complete(good, DIGEST)
    assert is_ours(good)


def test_wrong_digest_is_not_complete(good):
    assert not is_complete(good, "fedcba9876543210")


@pytest.mark.parametrize("keep", [0.95, 0.5, 0.1])
def test_truncated_file_is_not_complete(good, keep):
    data = good.read_bytes()
    cut = good.with_name("cut.exr")
    cut.write_bytes(data[: int(len(data) * keep)])
    assert matte_header(cut) is not None  # the header alone still reads…
    assert not is_complete(cut, DIGEST)  # …but the pixels do not


def test_tiny_or_garbage_files(tmp_path, good):
    stub = tmp_path / "stub.exr"
    stub.write_bytes(good.read_bytes()[:20])
    junk = tmp_path / "junk.exr"
    junk.write_text("not an exr")
    for p in (stub, junk, tmp_path / "missing.exr"):
        assert matte_header(p) is None
        assert not is_ours(p)
        assert not is_complete(p, DIGEST)
    with pytest.raises(ExrError, match="not a readable OpenEXR"):
        read_matte(junk)


def test_foreign_exr_is_not_ours(tmp_path):
    path = tmp_path / "plate.exr"
    buf = oiio.ImageBuf(oiio.ImageSpec(16, 8, 3, oiio.HALF))
    assert buf.write(str(path))
    assert matte_header(path) == {}
    assert not is_ours(path)
    assert not is_complete(path, DIGEST)


def test_other_formats_are_not_exr(tmp_path):
    path = tmp_path / "m.png"
    assert oiio.ImageBuf(oiio.ImageSpec(16, 8, 1, oiio.UINT8)).write(str(path))
    assert matte_header(path) is None


def _parse_exr(data: bytes) -> tuple[dict[str, tuple[str, bytes]], int, list[int]]:
    """Header attributes, version flags and chunk offsets of a scanline EXR."""
    import struct

    assert data[:4] == b"\x76\x2f\x31\x01"
    (version,) = struct.unpack_from("<i", data, 4)
    pos, attrs = 8, {}
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        value = data[type_end + 5 : type_end + 5 + size]
        attrs[data[pos:name_end].decode()] = (data[name_end + 1 : type_end].decode(), value)
        pos = type_end + 5 + size
    return attrs, version, [pos + 1]


@pytest.mark.parametrize("compression, lines", [("zip", 16), ("zips", 1)])
def test_own_files_have_an_exact_chunk_table(tmp_path, compression, lines):
    """OpenEXR can rebuild a broken offset table silently; other readers may not."""
    import struct

    h = 53
    path = tmp_path / "t.exr"
    write_matte(path, blob_matte(h, 64), compression=compression, metadata={"job": "x"})
    data = path.read_bytes()
    attrs, version, (table,) = _parse_exr(data)
    assert version == 2  # single part, scanline, short names
    required = {
        "channels",
        "compression",
        "dataWindow",
        "displayWindow",
        "lineOrder",
        "pixelAspectRatio",
        "screenWindowCenter",
        "screenWindowWidth",
    }
    assert required <= set(attrs)
    assert attrs["segmatte/job"] == ("string", b"x")
    count = -(-h // lines)
    offsets = struct.unpack_from(f"<{count}Q", data, table)
    end = table + 8 * count
    for i, off in enumerate(offsets):
        assert off == end  # chunks follow each other in order, no gaps
        y, size = struct.unpack_from("<ii", data, off)
        assert y == i * lines
        end = off + 8 + size
    assert end == len(data)


def test_fsync_option_writes_the_same_file(tmp_path):
    a, b = tmp_path / "a.exr", tmp_path / "b.exr"
    assert write_matte(a, blob_matte(), fsync=True) == write_matte(b, blob_matte())
    assert write_matte(a, blob_matte(), fsync=True, encoder="oiio") == file_sha256(a)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "names, expected",
    [(("R", "G", "B", "A"), 0.75), (("Y",), 0.25), (("R", "G", "B"), 0.25), (("Z",), 0.25)],
)
def test_read_matte_picks_a_then_y_then_r(tmp_path, names, expected):
    spec = oiio.ImageSpec(6, 4, len(names), oiio.HALF)
    spec.channelnames = names
    pixels = np.full((4, 6, len(names)), 0.5, np.float32)
    pixels[:, :, 0] = 0.25
    if "A" in names:
        pixels[:, :, names.index("A")] = 0.75
    path = tmp_path / "p.exr"
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    assert out.write_image(pixels)
    out.close()
    back, meta = read_matte(path)
    assert meta == {}
    np.testing.assert_array_equal(back, np.full((4, 6), expected, np.float32))


@pytest.mark.parametrize("view", ["transposed", "reversed", "strided", "float64"])
def test_any_array_layout(tmp_path, view):
    base = blob_matte(64, 48)
    alpha = {
        "transposed": np.asfortranarray(base.T).T,  # Fortran order
        "reversed": base[::-1, ::-1],
        "strided": np.repeat(base, 2, axis=1)[:, ::2],
        "float64": base.astype(np.float64),
    }[view]
    path = tmp_path / "v.exr"
    write_matte(path, alpha)
    back, _ = read_matte(path)
    expected = exr.prepare_alpha(np.ascontiguousarray(alpha)).astype(np.float16)
    np.testing.assert_array_equal(back, expected.astype(np.float32))


@pytest.mark.parametrize("encoder", ["auto", "oiio"])
def test_unicode_metadata(tmp_path, encoder):
    path = tmp_path / "u.exr"
    meta = {"prompts": "café, 人, 🎬", "source": "/shots/é.mov"}
    write_matte(path, blob_matte(), metadata=meta, encoder=encoder)
    assert matte_header(path) == meta
