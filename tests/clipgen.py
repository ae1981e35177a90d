"""Synthetic test media whose pictures say what they are.

* :func:`numbered_image` burns a frame number into the picture as a grid of
  big black/white blocks (16 data bits + 4 check bits). Each block is many
  pixels wide, so the code survives H.264 at low bit rates, ProRes, 4:2:0
  chroma, and the reader's view transform; :func:`decode_number` reads it
  back and raises ValueError when the check bits disagree, so a wrong or
  blank frame can never pass for a right one.
* :func:`green_screen` draws frame n of a green screen with a moving orange
  disc, and returns its exact alpha (pixel coverage by 4×4 supersampling):
  the ground truth for keyers and matte metrics.
* :func:`write_video` / :func:`write_sequence` / :func:`write_green_screen_clip`
  write clips with the ffmpeg binary of imageio-ffmpeg and OpenImageIO, the
  same tools the reader uses, so tests need nothing from the system.

Keep clips small (160×120 .. 320×240, tens of frames): tests run on 2 cores.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GeneratedClip:
    """A generated clip and what it holds; usable wherever a path is (``os.fspath``).

    ``path`` is the video file or, for sequences, the ``name.####.ext``
    pattern; ``first``/``last`` are its source frame numbers.
    """

    path: str
    first: int
    last: int
    width: int
    height: int
    fps: float
    codec: str

    @property
    def frame_count(self) -> int:
        return self.last - self.first + 1

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path


GRID_COLS, GRID_ROWS = 5, 4
DATA_BITS = 16
LOW, HIGH = 16, 235
"""Block levels: video-legal black and white, so no codec clips them."""
GREEN = (0, 177, 64)
ORANGE = (235, 140, 90)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ------------------------------------------------------------------ numbered frames

def _bits(n: int) -> list[int]:
    if not 0 <= n < 1 << DATA_BITS:
        raise ValueError(f"numbered_image encodes 0..{(1 << DATA_BITS) - 1}, not {n}")
    data = [(n >> i) & 1 for i in range(DATA_BITS)]
    nibbles = [(n >> s) & 0xF for s in (0, 4, 8, 12)]
    check = (nibbles[0] ^ nibbles[1] ^ nibbles[2] ^ nibbles[3] ^ 0b1010)
    return data + [(check >> i) & 1 for i in range(4)]


def _cells(w: int, h: int) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of each code block, row-major."""
    xs = np.linspace(0, w, GRID_COLS + 1).astype(int)
    ys = np.linspace(0, h, GRID_ROWS + 1).astype(int)
    return [(ys[r], ys[r + 1], xs[c], xs[c + 1]) for r in range(GRID_ROWS) for c in range(GRID_COLS)]


def numbered_image(n: int, w: int = 160, h: int = 120) -> np.ndarray:
    """An H×W×3 uint8 picture whose blocks encode ``n`` (0 ≤ n < 65536)."""
    if w < GRID_COLS * 8 or h < GRID_ROWS * 8:
        raise ValueError(f"numbered_image needs at least {GRID_COLS * 8}×{GRID_ROWS * 8} pixels")
    img = np.empty((h, w, 3), np.uint8)
    for bit, (y0, y1, x0, x1) in zip(_bits(n), _cells(w, h), strict=True):
        img[y0:y1, x0:x1] = HIGH if bit else LOW
    return img


def decode_number(image: np.ndarray) -> int:
    """Read back the number of :func:`numbered_image` (uint8/uint16 or float in [0, 1]).

    Each block is judged on its central half (away from codec ringing at the
    edges) against the mid level. Raises ValueError if the check bits fail.
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        level = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        level = img.astype(np.float32) / 65535.0
    else:
        level = img.astype(np.float32)
    if level.ndim == 3:
        level = level.mean(axis=2)
    h, w = level.shape
    bits = []
    for y0, y1, x0, x1 in _cells(w, h):
        qy, qx = (y1 - y0) // 4, (x1 - x0) // 4
        bits.append(1 if level[y0 + qy: y1 - qy, x0 + qx: x1 - qx].mean() > 0.5 else 0)
    n = sum(b << i for i, b in enumerate(bits[:DATA_BITS]))
    if _bits(n) != bits:
        raise ValueError("picture holds no valid frame number (check bits disagree)")
    return n


# ---------------------------------------------------------------------- green screen

def green_screen(n: int, w: int = 160, h: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``n`` of a green screen with a moving orange disc: (RGB uint8, alpha float32).

    The disc's centre moves with ``n`` (a left-right sweep of 20 frames and a
    slower vertical bob); alpha is its exact coverage of each pixel (4×4
    supersampled), and the picture is ``alpha·orange + (1-alpha)·green``
    rounded to uint8.
    """
    phase = (n % 40) / 20.0
    sweep = phase if phase <= 1 else 2 - phase
    cx = w * (0.25 + 0.5 * sweep)
    cy = h * (0.5 + 0.15 * np.sin(n / 5.0))
    radius = min(w, h) * 0.22
    ss = 4
    offs = (np.arange(ss) + 0.5) / ss
    ys = (np.arange(h)[:, None] + offs[None, :]).reshape(-1)
    xs = (np.arange(w)[:, None] + offs[None, :]).reshape(-1)
    inside = ((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) <= radius ** 2
    alpha = inside.reshape(h, ss, w, ss).mean(axis=(1, 3)).astype(np.float32)
    fg = np.array(ORANGE, np.float32)
    bg = np.array(GREEN, np.float32)
    rgb = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), alpha


def write_green_screen_clip(path: str | os.PathLike[str], frames: int, w: int = 160,
                            h: int = 120, fps: float = 24.0) -> str:
    """An H.264 4:4:4 near-lossless clip of :func:`green_screen` frames 0..frames-1."""
    return write_video(path, (green_screen(n, w, h)[0] for n in range(frames)), fps,
                       codec="h264", pix_fmt="yuv444p", crf=4)


# ------------------------------------------------------------------------- writers

def write_video(path: str | os.PathLike[str], images: Iterable[np.ndarray], fps: float = 24.0,
                codec: str = "h264", *, gop: int = 12, timecode: str | None = None,
                pix_fmt: str | None = None, crf: int = 18, extra: Sequence[str] = ()) -> str:
    """Pipe uint8 RGB frames into ffmpeg: ``h264`` (libx264, yuv420p, GOP ``gop``,
    B-frames on) or ``prores`` (prores_ks HQ, yuv422p10le). Returns the path."""
    path = os.fspath(path)
    it = iter(images)
    first = next(it)
    h, w = first.shape[:2]
    if codec == "h264":
        enc = ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-g", str(gop),
               "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "2",
               "-pix_fmt", pix_fmt or "yuv420p"]
    elif codec == "prores":
        enc = ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", pix_fmt or "yuv422p10le"]
    else:
        raise ValueError(f"write_video writes h264 or prores, not {codec!r}")
    tc = ["-timecode", timecode] if timecode else []
    cmd = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "pipe:",
           *enc, *tc, *extra, path]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in itertools.chain([first], it):
            if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                raise ValueError("write_video takes H×W×3 uint8 frames of one size")
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode() if proc.stderr else ""
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}: {err.strip()}")
    return path


_OIIO_TYPES = {"uint8": "uint8", "uint16": "uint16", "half": "half", "float": "float"}


def write_sequence(folder: str | os.PathLike[str], name: str, numbers: Iterable[int],
                   images: Iterable[np.ndarray], ext: str = "exr", dtype: str = "half",
                   padding: int = 4) -> list[str]:
    """Write ``name.NNNN.ext`` files through OpenImageIO; returns their paths.

    ``images`` are uint8 (scaled to [0, 1] for float types, ×257 for uint16),
    uint16, or float arrays (written as given: scene-linear values above 1
    stay above 1 in EXR).
    """
    import OpenImageIO as oiio

    if dtype not in _OIIO_TYPES:
        raise ValueError(f"write_sequence dtype is one of {sorted(_OIIO_TYPES)}, not {dtype!r}")
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for number, img in zip(numbers, images, strict=True):
        data = _convert(np.asarray(img), dtype)
        if data.ndim == 2:
            data = data[:, :, None]  # OIIO needs (H, W, C), see MEASURED.md
        path = os.path.join(folder, f"{name}.{number:0{padding}d}.{ext}")
        out = oiio.ImageOutput.create(path)
        if out is None:
            raise RuntimeError(f"OpenImageIO cannot write {ext}: {oiio.geterror()}")
        spec = oiio.ImageSpec(data.shape[1], data.shape[0], data.shape[2], _OIIO_TYPES[dtype])
        if ext == "exr":
            spec.attribute("compression", "zip")
        if not out.open(path, spec) or not out.write_image(data):
            raise RuntimeError(f"OpenImageIO failed writing {path}: {out.geterror()}")
        out.close()
        paths.append(path)
    return paths


def _convert(img: np.ndarray, dtype: str) -> np.ndarray:
    if dtype in ("half", "float"):
        if img.dtype == np.uint8:
            return img.astype(np.float32) / 255.0
        if img.dtype == np.uint16:
            return img.astype(np.float32) / 65535.0
        return img.astype(np.float32)
    if dtype == "uint16":
        if img.dtype == np.uint8:
            return img.astype(np.uint16) * 257
        if img.dtype.kind == "f":
            return np.clip(np.rint(img * 65535), 0, 65535).astype(np.uint16)
        return img.astype(np.uint16)
    if img.dtype.kind == "f":
        return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    return img.astype(np.uint8)
