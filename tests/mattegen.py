"""Ground truth we can trust: composites whose alpha is exact by construction.

A soft-alpha foreground — a body, a head and hair-like strands thinner than a
pixel, motion-blurred — moves over a background (real vtest.avi frames when
the test assets are there, a synthetic panning texture otherwise). Each frame
is rendered at ``ss``× resolution for ``shutter_samples`` instants inside the
shutter interval; the exact alpha is the coverage averaged over space (area
downsampling of the ss×ss sub-pixels) and time (the sub-frames), and the
image is composited in premultiplied form::

    α   = mean_k coverage_k
    αF  = mean_k (coverage_body,k · F_body,k + coverage_strand,k · F_strand,k)
    I   = αF + (1 − α) · B

so ``alpha`` is the matte of ``image`` with no approximation beyond float
rounding. Used by the refine and reduce-chatter tests to measure against the
truth (``segmatte.models.metrics``).

Also here: the degradations those stages must undo — a coarse matte (what a
low-resolution segmenter gives) and per-frame edge jitter (chatter).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Composite:
    number: int
    image: np.ndarray  # H×W×3 float32 RGB in [0, 1]
    alpha: np.ndarray  # H×W float32, exact
    background: np.ndarray  # H×W×3 float32


def vtest_path() -> Path:
    env = os.environ.get("SEGMATTE_TEST_ASSETS")
    root = Path(env) if env else Path.home() / ".cache" / "segmatte" / "test-assets"
    return root / "vtest.avi"


def _vtest_backgrounds(count: int, size: tuple[int, int], first: int = 300) -> list[np.ndarray] | None:
    path = vtest_path()
    if not path.is_file():
        return None
    h, w = size
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    out = []
    for _ in range(count):
        ok, bgr = cap.read()
        if not ok:
            return None
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        # The busy middle band of the frame (road, people, lawn edge), scaled to size.
        crop = rgb[100:100 + 360, 150:150 + 480]
        out.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255)
    cap.release()
    return out


def _synthetic_backgrounds(count: int, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """A textured plane panning 1.5 px per frame: gradient, blobs, a few edges."""
    h, w = size
    rng = np.random.default_rng(seed)
    big_h, big_w = h + 8, w + int(2 * count) + 8
    y, x = np.mgrid[0:big_h, 0:big_w].astype(np.float32)
    base = np.stack([0.35 + 0.25 * x / big_w, 0.45 + 0.2 * y / big_h, 0.3 + 0.1 * np.sin(x / 17)], -1)
    noise = cv2.GaussianBlur(rng.random((big_h, big_w, 3)).astype(np.float32), (0, 0), 3)
    tex = base + 0.3 * (noise - noise.mean())
    for _ in range(12):
        x0, y0 = int(rng.integers(0, big_w - 20)), int(rng.integers(0, big_h - 20))
        cv2.rectangle(tex, (x0, y0), (x0 + int(rng.integers(6, 30)), y0 + int(rng.integers(6, 30))),
                      tuple(float(v) for v in rng.random(3)), -1)
    tex = np.clip(tex, 0, 1)
    out = []
    for t in range(count):
        dx = 1.5 * t
        m = np.float32([[1, 0, -dx], [0, 1, 0]])
        out.append(cv2.warpAffine(tex, m, (big_w, big_h), flags=cv2.INTER_LINEAR)[4:4 + h, 4:4 + w].copy())
    return out


def _render_labels(shape_hw: tuple[int, int], ss: int, cx: float, cy: float, scale: float,
                   strands: list[np.ndarray]) -> np.ndarray:
    """Labels at ss× resolution: 0 background, 1 body/head, 2 strand."""
    h, w = shape_hw
    lab = np.zeros((h * ss, w * ss), np.uint8)
    shift = 4  # cv2 sub-pixel precision bits
    f = ss * (1 << shift)

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(x * f)), int(round(y * f))

    # body (ellipse) and head (circle), in output-pixel units
    cv2.ellipse(lab, pt(cx, cy + 10 * scale), (int(14 * scale * f), int(22 * scale * f)), 0, 0, 360,
                1, -1, cv2.LINE_8, shift)
    cv2.circle(lab, pt(cx, cy - 16 * scale), int(10 * scale * f), 1, -1, cv2.LINE_8, shift)
    for s in strands:
        pts = np.array([pt(cx + px * scale, cy + py * scale) for px, py in s], np.int32)
        cv2.polylines(lab, [pts], False, 2, thickness=max(1, ss // 3), lineType=cv2.LINE_8, shift=shift)
    return lab


def _strands(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Wavy hair strands from the top of the head, in object units."""
    out = []
    for _ in range(count):
        a = rng.uniform(-2.4, -0.7)  # angle around the head
        x0, y0 = 10 * np.cos(a), -16 + 10 * np.sin(a)
        length = rng.uniform(8, 16)
        direction = np.array([np.cos(a), np.sin(a)])
        bend = rng.uniform(-0.4, 0.4)
        pts = []
        for s in np.linspace(0, 1, 12):
            d = direction + bend * s * np.array([-direction[1], direction[0]])
            p = np.array([x0, y0]) + length * s * d + 0.8 * np.sin(6 * s + a) * np.array([-d[1], d[0]])
            pts.append(p)
        out.append(np.array(pts))
    return out


def composite_sequence(count: int = 8, size: tuple[int, int] = (120, 160), *, seed: int = 0,
                       background: str = "auto", ss: int = 4, shutter_samples: int = 5,
                       velocity: tuple[float, float] = (3.0, 0.6)) -> list[Composite]:
    """``count`` consecutive composites of one moving, motion-blurred soft foreground.

    ``background``: ``"vtest"`` (real footage; falls back to synthetic when the
    assets are absent), ``"synthetic"``, or ``"auto"`` (vtest if present).
    """
    h, w = size
    rng = np.random.default_rng(seed)
    backgrounds = None
    if background in ("auto", "vtest"):
        backgrounds = _vtest_backgrounds(count, size)
    if backgrounds is None:
        backgrounds = _synthetic_backgrounds(count, size, seed)
    strands = _strands(rng, 40)
    scale = h / 120
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for t in range(count):
        alpha = np.zeros((h, w), np.float32)
        premult = np.zeros((h, w, 3), np.float32)
        for k in range(shutter_samples):
            tt = t + 0.5 * k / max(1, shutter_samples - 1)  # 180° shutter
            cx = w * 0.3 + velocity[0] * tt * scale
            cy = h * 0.5 + velocity[1] * tt * scale
            lab = _render_labels((h, w), ss, cx, cy, scale, strands)
            body = cv2.resize((lab == 1).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
            strand = cv2.resize((lab == 2).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
            # Foreground colours move with the object: a warm textured body, dark hair.
            u, v = xx - cx, yy - cy
            f_body = np.stack([0.85 + 0.1 * np.sin(u / 3), 0.45 + 0.1 * np.cos(v / 4),
                               0.35 + 0.05 * np.sin((u + v) / 5)], -1)
            f_strand = np.stack([0.25 + 0.05 * np.sin(v / 2), 0.15 + 0.0 * u, 0.08 + 0.0 * u], -1)
            alpha += (body + strand) / shutter_samples
            premult += (body[..., None] * f_body + strand[..., None] * f_strand) / shutter_samples
        alpha = np.clip(alpha, 0, 1)
        bg = backgrounds[t]
        image = np.clip(premult + (1 - alpha[..., None]) * bg, 0, 1).astype(np.float32)
        out.append(Composite(t, image, alpha, bg))
    return out


def coarse_matte(alpha: np.ndarray, factor: int = 6) -> np.ndarray:
    """What a low-resolution segmenter gives: the matte at 1/factor, bilinear
    back up, thresholded at 0.5 — hard, rounded, strands lost."""
    h, w = alpha.shape
    small = cv2.resize(alpha, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return (up >= 0.5).astype(np.float32)


def jittered(alphas: list[np.ndarray], amplitude: float = 1.2, seed: int = 0) -> list[np.ndarray]:
    """Chatter: each frame's edge moved in or out by an independent random
    sub-pixel amount in [−amplitude, amplitude] (fractional grey-scale
    erosion/dilation), plus faint speckle in the edge band."""
    import torch

    from segmatte.models.finish import ops

    rng = np.random.default_rng(seed)
    out = []
    for a in alphas:
        shift = float(rng.uniform(-amplitude, amplitude))
        m = ops.as_numpy(ops.choke(torch.from_numpy(a.copy()), shift))
        band = (a > 0.02) & (a < 0.98)
        m = m + band * rng.normal(0, 0.08, a.shape).astype(np.float32)
        out.append(np.clip(m, 0, 1).astype(np.float32))
    return out
