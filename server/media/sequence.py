"""Image sequences and stills through OpenImageIO.

Accepted spellings of a sequence, all naming the same files:

* ``plate.####.exr`` (one ``#`` or ``@`` per digit of zero padding),
* ``plate.%04d.exr`` / ``plate.%d.exr`` (printf),
* ``plate.[1001-1100].exr`` (an explicit range; padding from the digits of
  the first number, so ``[0001-0100]`` is 4-padded),
* any one file of it, ``plate.1001.exr``: its siblings (same prefix and
  suffix, a number in place of the last run of digits) are found on disk.

Padding follows printf ``%0Nd``: numbers wider than N are written unpadded
(``####`` matches ``0999`` and ``10000``, not ``999``). A lone image file
with no siblings is a still (frame 0).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import OpenImageIO as oiio

from segmatte.client import patterns
from segmatte.client.patterns import SequenceName

from .info import MediaError, MediaInfo, check_size

IMAGE_EXTS = frozenset({
    ".exr", ".sxr", ".dpx", ".cin", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".tga",
    ".bmp", ".hdr", ".webp", ".sgi", ".rgb", ".psd", ".jp2", ".j2k", ".jxl",
})
LINEAR_FORMATS = frozenset({"openexr", "hdr"})
"""File formats whose float data is scene-linear by convention."""


def is_image_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTS


def is_pattern(source: str) -> bool:
    """Whether a source names a sequence by pattern rather than one existing file."""
    if os.path.exists(source):
        return False
    return patterns.is_pattern_text(source)


def parse_pattern(source: str) -> tuple[SequenceName, tuple[int, int] | None]:
    """Split a pattern into its name parts and optional explicit range (the hosts' parser)."""
    try:
        return patterns.parse_pattern(source)
    except patterns.PatternError as exc:
        raise MediaError(str(exc)) from None


def scan(name: SequenceName) -> dict[int, str]:
    """Frame number → file name of every file on disk that fits the name."""
    folder = name.folder or "."
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        raise MediaError(f"the folder {folder} does not exist") from None
    except OSError as exc:
        raise MediaError(f"the folder {folder} cannot be listed ({exc.strerror})") from None
    found: dict[int, str] = {}
    head, tail = len(name.prefix), len(name.suffix)
    for entry in entries:
        if not (entry.startswith(name.prefix) and entry.endswith(name.suffix)):
            continue
        digits = entry[head: len(entry) - tail] if tail else entry[head:]
        if digits.isdigit() and digits.isascii() and name.matches(digits):
            found[int(digits)] = entry
    return found


def _siblings_of(path: str) -> tuple[SequenceName, dict[int, str]] | None:
    """The sequence a single file belongs to, if it has numbered siblings."""
    folder, base = os.path.split(path)
    runs = list(re.finditer(r"\d+", base))
    if not runs:
        return None
    m = runs[-1]
    digits, prefix, suffix = m.group(0), base[: m.start()], base[m.end():]
    if digits.startswith("0") and len(digits) > 1:
        padding = len(digits)
    else:
        # No leading zero: the padding is the width of the narrowest sibling,
        # unless a same-width sibling shows zeros (then this width is padded).
        siblings = _raw_siblings(folder, prefix, suffix)
        padded = any(len(d) == len(digits) and d.startswith("0") for d in siblings)
        unpadded = [len(d) for d in siblings if not d.startswith("0") or d == "0"]
        padding = len(digits) if padded else min([len(digits), *unpadded])
    name = SequenceName(folder, prefix, suffix, padding)
    found = scan(name)
    return (name, found) if len(found) > 1 else None


def _raw_siblings(folder: str, prefix: str, suffix: str) -> list[str]:
    """The digit runs of every file named ``prefix<digits>suffix`` in the folder."""
    out = []
    for entry in os.listdir(folder or "."):
        if entry.startswith(prefix) and entry.endswith(suffix) and len(entry) > len(prefix) + len(suffix):
            digits = entry[len(prefix): len(entry) - len(suffix)]
            if digits.isdigit() and digits.isascii():
                out.append(digits)
    return out


# ------------------------------------------------------------------- headers/probe

@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    codec: str
    sample: str
    bit_depth: int
    linear: bool
    fps: float | None
    timecode: str | None
    part: str | None = None
    parts: tuple[str, ...] = ()


def _oiio_error(default: str) -> str:
    msg = (oiio.geterror() or "").strip().splitlines()
    return msg[0].rstrip(".") if msg else default


def _open(path: str, what: str | None = None) -> oiio.ImageInput:
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)  # keep the colour as stored, not premultiplied
    inp = oiio.ImageInput.open(path, config)
    if inp is None:
        reason = _oiio_error("unknown format")
        if what:
            raise MediaError(f"{what} cannot be read ({os.path.basename(path)}: {reason})")
        raise MediaError(f"{os.path.basename(path)} cannot be read as an image ({reason})")
    return inp


def _part_names(inp: oiio.ImageInput) -> tuple[str, ...]:
    """Every part's (subimage's) name; an unnamed part is called by its index."""
    names = []
    index = 0
    while inp.seek_subimage(index, 0):
        names.append(inp.spec().get_string_attribute("oiio:subimagename", "") or str(index))
        index += 1
    inp.seek_subimage(0, 0)
    return tuple(names)


def _part_index(inp: oiio.ImageInput, path: str, part: str | None,
                parts: tuple[str, ...] | None = None) -> int:
    """The subimage of ``part`` (a name, or an index), 0 when None; MediaError if absent."""
    if part is None:
        return 0
    names = parts if parts is not None else _part_names(inp)
    if part in names:
        return names.index(part)
    if part.isdigit() and int(part) < len(names):
        return int(part)
    raise MediaError(f"{os.path.basename(path)} has no part {part!r}; its parts are "
                     f"{', '.join(names)}")


def read_header(path: str, part: str | None = None) -> _Header:
    inp = _open(path)
    try:
        parts = _part_names(inp)
        index = _part_index(inp, path, part, parts)
        inp.seek_subimage(index, 0)
        spec = inp.spec()
        codec = inp.format_name()
    finally:
        inp.close()
    if spec.deep:
        raise MediaError(f"{os.path.basename(path)} is a deep image (several samples per pixel), "
                         "which segmatte cannot matte; flatten it first "
                         "(oiiotool in.exr --flatten -o flat.exr)")
    width, height = spec.full_width or spec.width, spec.full_height or spec.height
    check_size(width, height, os.path.basename(path))
    sample = str(spec.format)
    bits = {"uint8": 8, "int8": 8, "uint16": 16, "int16": 16, "half": 16, "float": 32,
            "uint32": 32, "int32": 32, "double": 64}.get(sample, 8)
    declared = spec.get_int_attribute("oiio:BitsPerSample", 0)
    if sample in ("uint16", "uint8") and 0 < declared < bits:
        bits = declared
    is_float = sample in ("half", "float", "double")
    colourspace = spec.get_string_attribute("oiio:ColorSpace", "").lower()
    linear = is_float and (codec in LINEAR_FORMATS or "lin" in colourspace)
    fps = None
    rate = spec.getattribute("FramesPerSecond")
    if isinstance(rate, tuple) and len(rate) == 2 and rate[1]:
        fps = rate[0] / rate[1]
    elif spec.get_float_attribute("dpx:FrameRate", 0.0) > 0:
        fps = spec.get_float_attribute("dpx:FrameRate", 0.0)
    timecode = spec.get_string_attribute("smpte:TimeCode", "") or None
    multi = len(parts) > 1
    return _Header(width, height, codec, sample, bits, linear, fps, timecode,
                   parts[index] if multi else None, parts if multi else ())


def _info(path: str, kind: str, header: _Header, first: int, last: int,
          missing: tuple[int, ...] = (), pattern: str | None = None) -> MediaInfo:
    return MediaInfo(
        path=path, kind=kind, width=header.width, height=header.height, fps=header.fps,  # type: ignore[arg-type]
        first=first, last=last, frame_count=last - first + 1, codec=header.codec,
        pix_fmt=header.sample, bit_depth=header.bit_depth, linear=header.linear,
        timecode=header.timecode, missing=missing, pattern=pattern, part=header.part,
        parts=header.parts)


def _sequence_info(name: SequenceName, found: dict[int, str],
                   span: tuple[int, int] | None, shown: str, part: str | None = None) -> MediaInfo:
    if span is not None:
        found = {n: f for n, f in found.items() if span[0] <= n <= span[1]}
    if not found:
        where = name.folder or "."
        raise MediaError(f"no files match {os.path.basename(shown)} in {where}")
    first, last = span if span is not None else (min(found), max(found))
    missing = tuple(n for n in range(first, last + 1) if n not in found)
    header = read_header(os.path.join(name.folder, found[min(found)]), part)
    return _info(shown, "sequence", header, first, last, missing, name.printf)


def probe_pattern(source: str, part: str | None = None) -> MediaInfo:
    """Probe a sequence given as a pattern (``####``, ``%04d``, ``[a-b]``)."""
    name, span = parse_pattern(source)
    return _sequence_info(name, scan(name), span, source, part)


def probe_image_file(path: str, part: str | None = None) -> MediaInfo:
    """Probe one image file: a sequence if it has numbered siblings, else a still."""
    seq = _siblings_of(path)
    if seq is not None:
        name, found = seq
        return _sequence_info(name, found, None, name.hashes, part)
    return _info(path, "still", read_header(path, part), 0, 0)


# ------------------------------------------------------------------------- reading

def read_raw(path: str, width: int, height: int, *, what: str, linear: bool = False,
             part: str | None = None) -> np.ndarray:
    """One image as H×W×3 in its stored sample type (uint8/uint16/float16/float32).

    The display window is returned (an EXR data window smaller or larger than
    it is padded with black or cropped); one- and two-channel images are
    grey, so their first channel is repeated; channels past RGB are dropped.
    ``what`` names the frame in error messages. ``linear`` float data is
    returned as half: the view transform works from half anyway (colour.py)
    and OpenImageIO converts faster than numpy. ``part`` is the part of a
    multi-part EXR (None: the first).
    """
    if not os.path.exists(path):
        raise MediaError(f"{what} is missing ({os.path.basename(path)})")
    inp = _open(path, what)
    try:
        index = _part_index(inp, path, part)
        if not inp.seek_subimage(index, 0):
            raise MediaError(f"{what} has no part {part!r}")
        spec = inp.spec()
        if spec.deep:
            raise MediaError(f"{what} is a deep image, which segmatte cannot matte; flatten it first")
        full_w, full_h = spec.full_width or spec.width, spec.full_height or spec.height
        if (full_w, full_h) != (width, height):
            raise MediaError(f"{what} is {full_w}×{full_h} but the sequence is {width}×{height}")
        nch = min(spec.nchannels, 3)
        native = spec.format if str(spec.format) in ("uint8", "uint16", "half", "float") else oiio.FLOAT
        if linear and str(spec.format) in ("float", "double"):
            native = oiio.HALF
        windowed = (spec.x, spec.y, spec.width, spec.height) != (
            spec.full_x, spec.full_y, full_w, full_h)
        if windowed:
            data = _read_display_window(path, spec, nch, native, index)
        else:
            data = inp.read_image(index, 0, 0, nch, native)
    finally:
        inp.close()
    if data is None or not isinstance(data, np.ndarray):
        raise MediaError(f"{what} cannot be decoded ({_oiio_error('damaged file')})")
    data = data.reshape(height, width, nch)
    if nch < 3:
        data = np.repeat(data[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(data)


def _read_display_window(path: str, spec: oiio.ImageSpec, nch: int, fmt: oiio.TypeDesc,
                         subimage: int = 0) -> np.ndarray:
    buf = oiio.ImageBuf(path, subimage, 0)
    full = oiio.ROI(spec.full_x, spec.full_x + spec.full_width, spec.full_y,
                    spec.full_y + spec.full_height, 0, 1, 0, nch)
    cut = oiio.ImageBufAlgo.crop(buf, full)
    return cut.get_pixels(fmt, full)
