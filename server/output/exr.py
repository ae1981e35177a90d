"""Matte frames as OpenEXR files: naming, writing, reading, verifying.

One EXR per source frame, named ``name.####.exr`` (``name_<layer>.####.exr``
for multi-layer jobs). Three layouts:

- ``rgba`` (default): R=G=B=A. Every host reads it; Blender's sequencer cannot
  use an ``A``-only EXR.
- ``a``: one channel named ``A``.
- ``y``: one channel named ``Y`` (luminance; Blender reads it as grey).

**Values.** The input is clamped to [0, 1] (NaN → 0) and values within
:data:`SNAP` (1e-3) of 0 or 1 are made exactly 0 or 1 before writing. A raw
sigmoid never reaches 0 or 1, so without this every "solid" pixel carries
noise in its low bits and a half ZIP file is ~5× larger and slower to write;
1e-3 is below what any keyer or comp would notice and about the step of half
near 1 (4.9e-4), so mattes lose nothing real.

**Never half-written.** Each file is written under a hidden temporary name in
the same folder (same file system, so the rename is atomic) and moved into
place with :func:`os.replace`; the temporary file is removed on any error. A
reader sees either the old file, no file, or the whole new file. ``fsync`` is
off by default: a power cut can still leave a renamed-but-empty file on some
file systems, but :func:`is_complete` reads the pixel data, so a resumed job
rewrites such a frame; pass ``fsync=True`` for deliverables written once.

**Speed.** OpenImageIO writes RGBA half ZIP ~5× slower than one channel
(four channels to compress). For half-float ZIP/ZIPS — the default — we encode
the file ourselves (:func:`_encode_zip_half`): the same standard scanline EXR
OpenEXR would write (same chunking, the same byte reorder and predictor, zlib
deflate), built with numpy, where a 16-line chunk that is one constant value
(all 0 or all 1: most of a matte) is compressed once and reused, and only
chunks crossing an edge are compressed. Everything else (float, PIZ, DWA, …)
goes through OpenImageIO, and ``encoder="oiio"`` forces that path for any
layout. Both paths are read back by OpenImageIO in the tests, pixel for pixel.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import OpenImageIO as oiio

Channels = Literal["rgba", "a", "y"]
Datatype = Literal["half", "float"]
Encoder = Literal["auto", "oiio"]

PREFIX = "segmatte/"
"""Header attributes we write and recognise start with this."""

SNAP = 1e-3
"""Values within this of 0 or 1 are written as exactly 0 or 1."""

ZIP_LEVEL = 1
"""zlib level for the chunks that cross an edge. Level 1 compresses them ~2×
faster than OpenEXR's default (4) for larger files: a 1080p RGBA matte with
two soft blobs is ~180 KB instead of ~120 KB (see bench/bench_writer.py)."""

CHANNEL_NAMES: dict[str, tuple[str, ...]] = {
    "rgba": ("R", "G", "B", "A"),
    "a": ("A",),
    "y": ("Y",),
}

MetaValue = str | int | float


class ExrError(RuntimeError):
    """An EXR that could not be written or read; ``str()`` names the file."""


# --------------------------------------------------------------------- naming


def sequence_path(
    folder: str | os.PathLike[str],
    name: str,
    number: int,
    padding: int = 4,
    layer: str | None = None,
) -> Path:
    """``folder/name.0042.exr`` or ``folder/name_<layer>.0042.exr``.

    ``number`` is the source frame number, zero-padded to ``padding`` digits;
    wider numbers are written in full (``name.12345.exr`` at padding 4), which
    is what hosts' ``####`` patterns expect.
    """
    if number < 0:
        raise ValueError(f"frame number {number} is negative")
    stem = f"{name}_{layer}" if layer else name
    return Path(folder) / f"{stem}.{number:0{padding}d}.exr"


# ------------------------------------------------------------------- writing


def prepare_alpha(alpha: np.ndarray) -> np.ndarray:
    """The H×W float32 array that gets written: clamped, NaN-free, snapped.

    Accepts H×W or H×W×1; anything else raises ValueError.
    """
    a = np.asarray(alpha)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"a matte must be an H×W array, not shape {a.shape}")
    a = np.clip(a.astype(np.float32, copy=False), 0.0, 1.0)  # a new array: the caller's is kept
    a[~(a >= SNAP)] = 0.0  # also NaN → 0
    a[a > 1.0 - SNAP] = 1.0
    return np.ascontiguousarray(a)


def write_matte(
    path: str | os.PathLike[str],
    alpha: np.ndarray,
    *,
    channels: Channels = "rgba",
    compression: str = "zip",
    datatype: Datatype = "half",
    metadata: Mapping[str, MetaValue] | None = None,
    fsync: bool = False,
    encoder: Encoder = "auto",
) -> str:
    """Write one matte frame atomically; return the file's sha256 (hex).

    ``metadata`` keys are stored as ``segmatte/<key>`` header attributes
    (``engine``, ``model``, ``source``, ``frame``, ``prompts``, ``job`` = the
    job digest, ``version``, …); a key already carrying the prefix is kept.
    """
    path = Path(path)
    if encoder not in ("auto", "oiio"):
        raise ValueError(f"encoder {encoder!r} is not 'auto' or 'oiio'")
    if channels not in CHANNEL_NAMES:
        raise ValueError(f"channels {channels!r} is not one of {', '.join(CHANNEL_NAMES)}")
    if datatype not in ("half", "float"):
        raise ValueError(f"datatype {datatype!r} is not 'half' or 'float'")
    a = prepare_alpha(alpha)
    attrs = _header_attrs(metadata or {})
    names = CHANNEL_NAMES[channels]
    comp = compression.lower()

    fast = encoder == "auto" and datatype == "half" and comp in ("zip", "zips")
    data = _encode_zip_half(a, names, 16 if comp == "zip" else 1, attrs) if fast else None

    fd, tmp = create_temp(path)
    try:
        if data is not None:
            with os.fdopen(fd, "wb") as f:
                fd = -1
                f.write(data)
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            digest = hashlib.sha256(data).hexdigest()
        else:
            os.close(fd)
            fd = -1
            _write_oiio(tmp, a, names, comp, datatype, attrs)
            digest = file_sha256(tmp, fsync=fsync)
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_folder(path.parent)
    return digest


def write_via_temp(path: Path, write: Callable[[Path], None], *, fsync: bool = False) -> str:
    """Write a file through OIIO atomically: ``write(tmp)`` fills a hidden
    temporary beside ``path`` (:func:`create_temp`), which is hashed and renamed
    over ``path``; on any error the temporary is removed and ``path`` is left
    as it was. Returns the sha256 of what was written."""
    fd, tmp = create_temp(path)
    os.close(fd)
    try:
        write(tmp)
        digest = file_sha256(tmp, fsync=fsync)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_folder(path.parent)
    return digest


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders
    cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


TEMP_PREFIX = ".segmatte-"
_TEMP = re.compile(r"^\.segmatte-[0-9a-f]{16}\.(?P<final>.+)\.tmp$")
"""The names :func:`create_temp` makes: ``.segmatte-<16 hex>.<final name>.tmp``. The
prefix is segmatte's own, so a user's file never looks like one of its temporary files
(only those are ever removed)."""


def stale_temps(folder: Path, finals: set[str]) -> list[Path]:
    """Temporary files left in ``folder`` by a writer that died (kill -9, power
    cut) before renaming them to one of the ``finals`` names. Never a whole
    frame: the rename is what makes one."""
    if not folder.is_dir():
        return []
    out = []
    for entry in os.scandir(folder):
        m = _TEMP.match(entry.name)
        if m and m.group("final") in finals and entry.is_file(follow_symlinks=False):
            out.append(Path(entry.path))
    return out


def create_temp(path: Path) -> tuple[int, Path]:
    """Create and open a hidden temporary file beside ``path`` (same folder,
    so a rename is atomic). Unlike :func:`tempfile.mkstemp` (mode 0600) the
    file gets the usual umask permissions, so the renamed matte is readable
    by the render farm and other users like any file the artist makes."""
    for _ in range(100):
        tmp = path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}.{path.name}.tmp")
        try:
            return os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            ), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot find a free temporary name beside {path}")


def _header_attrs(metadata: Mapping[str, MetaValue]) -> dict[str, MetaValue]:
    out: dict[str, MetaValue] = {}
    for key, value in metadata.items():
        name = key if key.startswith(PREFIX) else PREFIX + key
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(
                f"metadata {key!r} must be a str, int or float, not {type(value).__name__}"
            )
        # EXR attributes here are 32-bit: OpenImageIO drops doubles, so floats are
        # stored as float32 and ints beyond 32 bits as text.
        if isinstance(value, int) and not -(2**31) <= value < 2**31:
            value = str(value)  # EXR ints are 32-bit
        out[name] = value
    return out


def _write_oiio(
    path: Path,
    a: np.ndarray,
    names: tuple[str, ...],
    compression: str,
    datatype: Datatype,
    attrs: Mapping[str, MetaValue],
) -> None:
    h, w = a.shape
    fmt = oiio.HALF if datatype == "half" else oiio.FLOAT
    spec = oiio.ImageSpec(w, h, len(names), fmt)
    spec.channelnames = names
    spec.alpha_channel = names.index("A") if "A" in names else -1
    spec.attribute("compression", compression)
    for key, value in attrs.items():
        spec.attribute(key, value)
    # (H, W, C), contiguous: OIIO 3.2 mis-writes a 2-D (H, W) array.
    oiio_write(path, spec, np.ascontiguousarray(np.repeat(a[:, :, None], len(names), axis=2)))


def oiio_write(path: str | os.PathLike[str], spec: oiio.ImageSpec, pixels: np.ndarray) -> None:
    """Write ``pixels`` (H×W×C) as an OpenEXR with ``spec``; ExrError on failure."""
    out = oiio.ImageOutput.create("openexr")
    if out is None:
        raise ExrError(f"OpenImageIO has no OpenEXR writer: {oiio.geterror()}")
    try:
        if not out.open(str(path), spec):
            raise ExrError(f"cannot write {path}: {out.geterror() or oiio.geterror()}")
        if not out.write_image(pixels):
            raise ExrError(f"cannot write {path}: {out.geterror()}")
    finally:
        out.close()


def file_sha256(path: str | os.PathLike[str], *, fsync: bool = False) -> str:
    """sha256 (hex) of a file's bytes, as the manifest records it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
        if fsync:
            os.fsync(f.fileno())
    return h.hexdigest()


# ------------------------------------------------ our own half ZIP encoder
#
# A single-part scanline OpenEXR file (openexr.com, "OpenEXR File Layout"):
# magic, version, header attributes, a table of chunk offsets, then chunks of
# (y, packed size, data). ZIP packs 16 scanlines per chunk (ZIPS one): the
# chunk's raw bytes — for each scanline, each channel in name order, W
# little-endian halves — are split into even and odd bytes, delta-coded
# (d = b[i] - b[i-1] + 128 mod 256) and zlib-compressed; a chunk that would
# not shrink is stored raw. All our channels hold the same values.

_HALF, _ZIP, _ZIPS, _INCREASING_Y = 1, 3, 2, 0


def _attr(name: str, type_name: str, value: bytes) -> bytes:
    return b"%s\0%s\0" % (name.encode(), type_name.encode()) + struct.pack("<i", len(value)) + value


def _exr_header(
    width: int, height: int, names: tuple[str, ...], lines: int, attrs: Mapping[str, MetaValue]
) -> bytes:
    chlist = (
        b"".join(n.encode() + b"\0" + struct.pack("<iB3xii", _HALF, 0, 1, 1) for n in sorted(names))
        + b"\0"
    )
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    items = [
        ("channels", "chlist", chlist),
        ("compression", "compression", bytes([_ZIP if lines == 16 else _ZIPS])),
        ("dataWindow", "box2i", window),
        ("displayWindow", "box2i", window),
        ("lineOrder", "lineOrder", bytes([_INCREASING_Y])),
        ("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        ("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
        ("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    for key, value in attrs.items():
        if isinstance(value, str):
            items.append((key, "string", value.encode()))
        elif isinstance(value, int):
            items.append((key, "int", struct.pack("<i", value)))
        else:
            items.append((key, "float", struct.pack("<f", value)))
    items.sort(key=lambda item: item[0])
    long_names = any(len(n) > 31 for n, _, _ in items)
    if any(len(n.encode()) > 255 for n, _, _ in items):
        raise ValueError("an EXR attribute name is longer than 255 bytes")
    version = 2 | (0x400 if long_names else 0)
    return (
        b"\x76\x2f\x31\x01"
        + struct.pack("<i", version)
        + b"".join(_attr(n, t, v) for n, t, v in items)
        + b"\0"
    )


def _predict(lo: np.ndarray, hi: np.ndarray, nch: int) -> np.ndarray:
    """Reordered, delta-coded bytes of one chunk whose channels are all equal.

    ``lo``/``hi`` are the rows' low and high bytes (n×W uint8). The raw chunk
    repeats each row ``nch`` times, so the deltas inside a row are computed
    once and only the first byte of each copy differs.
    """
    n, w = lo.shape
    out = np.empty((2, n, nch, w), np.uint8)
    for k, plane in enumerate((lo, hi)):
        d = out[k]
        d[:, :, 1:] = (plane[:, 1:] - plane[:, :-1] + 128)[:, None, :]
        d[:, 1:, 0] = (plane[:, 0] - plane[:, -1] + 128)[:, None]
        d[1:, 0, 0] = plane[1:, 0] - plane[:-1, -1] + 128
    out[0, 0, 0, 0] = lo[0, 0]
    out[1, 0, 0, 0] = (int(hi[0, 0]) - int(lo[-1, -1]) + 128) & 0xFF
    return out


def _pack_chunk(u: np.ndarray, nch: int, level: int | None = None) -> bytes:
    """The chunk data for rows ``u`` (n×W uint16 bit patterns of halves)."""
    lo = (u & 0xFF).astype(np.uint8)
    hi = (u >> 8).astype(np.uint8)
    packed = zlib.compress(_predict(lo, hi, nch), ZIP_LEVEL if level is None else level)
    raw_size = u.size * nch * 2
    if len(packed) < raw_size:
        return packed
    return np.repeat(u[:, None, :], nch, axis=1).astype("<u2").tobytes()


@functools.lru_cache(maxsize=64)
def _constant_chunk(bits: int, n: int, w: int, nch: int) -> bytes:
    # Made once per shape and value, so it gets zlib's best level: ~260 bytes
    # instead of ~1100 for a 16×1920 RGBA chunk at level 1.
    return _pack_chunk(np.full((n, w), bits, np.uint16), nch, level=9)


def _encode_zip_half(
    a: np.ndarray, names: tuple[str, ...], lines: int, attrs: Mapping[str, MetaValue]
) -> bytes:
    """A complete half-float ZIP (16 lines) or ZIPS (1 line) EXR of ``a``."""
    h, w = a.shape
    nch = len(names)
    row_constant = (a == a[:, :1]).all(axis=1)
    chunks: list[bytes] = []
    for y in range(0, h, lines):
        rows = a[y : y + lines]
        first = rows[0, 0]
        if row_constant[y : y + lines].all() and (rows[:, 0] == first).all():
            bits = int(np.float16(first).view(np.uint16))
            chunks.append(_constant_chunk(bits, rows.shape[0], w, nch))
        else:  # only rows that cross an edge pay for the conversion to half
            chunks.append(_pack_chunk(rows.astype(np.float16).view(np.uint16), nch))
    header = _exr_header(w, h, names, lines, attrs)
    offsets = []
    pos = len(header) + 8 * len(chunks)
    for c in chunks:
        offsets.append(pos)
        pos += 8 + len(c)
    parts = [header, struct.pack(f"<{len(offsets)}Q", *offsets)]
    for i, c in enumerate(chunks):
        parts.append(struct.pack("<ii", i * lines, len(c)))
        parts.append(c)
    return b"".join(parts)


# ------------------------------------------------------------------- reading


def _open(path: str | os.PathLike[str]) -> oiio.ImageInput | None:
    p = Path(path)
    if not p.is_file():
        return None
    inp = oiio.ImageInput.open(str(p))
    if inp is None:
        oiio.geterror()  # clear the pending error message
        return None
    if inp.format_name() != "openexr":
        inp.close()
        return None
    return inp


def _metadata(spec: oiio.ImageSpec) -> dict[str, MetaValue]:
    return {p.name[len(PREFIX) :]: p.value for p in spec.extra_attribs if p.name.startswith(PREFIX)}


def read_matte(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, MetaValue]]:
    """The H×W float32 matte (from A, else Y, else R, else the first channel)
    and the segmatte metadata (keys without the ``segmatte/`` prefix)."""
    inp = _open(path)
    if inp is None:
        raise ExrError(f"{path} is not a readable OpenEXR file")
    try:
        spec = inp.spec()
        names = list(spec.channelnames)
        pick = next((names.index(c) for c in ("A", "Y", "R") if c in names), 0)
        pixels = inp.read_image(0, 0, pick, pick + 1, oiio.FLOAT)
        if pixels is None:
            raise ExrError(f"cannot read the pixels of {path}: {inp.geterror()}")
        return np.asarray(pixels, np.float32).reshape(spec.height, spec.width), _metadata(spec)
    finally:
        inp.close()


def matte_header(path: str | os.PathLike[str]) -> dict[str, MetaValue] | None:
    """The segmatte metadata of an EXR (maybe empty), or None when the file
    is missing or not a readable OpenEXR file. Reads the header only."""
    inp = _open(path)
    if inp is None:
        return None
    try:
        return _metadata(inp.spec())
    finally:
        inp.close()


def is_ours(path: str | os.PathLike[str]) -> bool:
    """True when the file is an EXR carrying segmatte metadata."""
    return bool(matte_header(path))


def is_complete(path: str | os.PathLike[str], job_digest: str) -> bool:
    """True when the file exists, was written for ``job_digest``, and all of
    its pixel data decodes (a truncated or corrupt file is False)."""
    inp = _open(path)
    if inp is None:
        return False
    try:
        spec = inp.spec()
        if _metadata(spec).get("job") != job_digest:
            return False
        pixels = inp.read_image(0, 0, 0, 1, oiio.FLOAT)
        ok = pixels is not None and not inp.has_error
        inp.geterror()
        return ok
    finally:
        inp.close()
