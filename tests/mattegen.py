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
                       velocity: tuple[float, float] = (3.0, 0.6),
                       backgrounds: list[np.ndarray] | None = None) -> list[Composite]:
    """``count`` consecutive composites of one moving, motion-blurred soft foreground.

    ``background``: ``"vtest"`` (real footage; falls back to synthetic when the
    assets are absent), ``"synthetic"``, or ``"auto"`` (vtest if present);
    ``backgrounds`` (H×W×3 each) overrides it.
    """
    h, w = size
    rng = np.random.default_rng(seed)
    if backgrounds is None and background in ("auto", "vtest"):
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


def binary_mask(alpha: np.ndarray, erode: int = 0) -> np.ndarray:
    """What a tracker gives: the matte thresholded at 0.5 (hard, strands lost), its
    edge pulled in by ``erode`` pixels (a square) when the tracker sits inside."""
    hard = (alpha >= 0.5).astype(np.uint8)
    if erode:
        hard = cv2.erode(hard, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    return hard.astype(np.float32)


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


# --------------------------------------------------------------------------- real footage
#
# Composites made from real frames. The exact alpha is a known soft matte of
# the real picture — the person engine's matte of the source frames (RVM,
# when its weights are in the test assets) with hair-like strands drawn at
# sub-pixel width out of the top of each figure — and the foreground colour F
# is the real frame itself, so ``I = α·F + (1 − α)·B`` holds exactly, in
# linear light (sRGB decoded, composited, encoded again, as a camera would
# have mixed the light). Backgrounds: another real clip, or an unevenly lit,
# grainy green screen whose light spills onto the subject.


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def asset_path(name: str) -> Path:
    return vtest_path().with_name(name)


def read_frames(name: str, first: int, count: int, size: tuple[int, int],
                crop: tuple[int, int, int, int] | None = None) -> list[np.ndarray] | None:
    """``count`` RGB frames of a test asset from ``first``, cropped to ``crop``
    (x0, y0, x1, y1) if given, area-scaled to ``size`` (w, h), float32
    display-referred [0, 1]; None when the asset is absent."""
    path = asset_path(name)
    if not path.is_file():
        return None
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    out = []
    for _ in range(count):
        ok, bgr = cap.read()
        if not ok:
            break
        if crop is not None:
            bgr = bgr[crop[1]:crop[3], crop[0]:crop[2]]
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255)
    cap.release()
    return out if len(out) == count else None


VTEST_NO_PEOPLE = (0, 300, 460, 576)
"""A part of vtest.avi where nobody walks in frames 30-235 (lawn, road edge): a real
background for subjects whose matte must not pick up other people."""


def real_backgrounds(count: int, size: tuple[int, int], first: int = 60) -> list[np.ndarray] | None:
    return read_frames("vtest.avi", first, count, size, VTEST_NO_PEOPLE)


def rvm_weights() -> Path | None:
    path = vtest_path().parent / "rvm" / "rvm.json"
    return path if path.is_file() else None


def person_mattes(frames: list[np.ndarray], first: int = 0, ratio: float | str = "auto") -> list[np.ndarray]:
    """The person engine's mattes of ``frames`` (needs the RVM test weights)."""
    from segmatte.models.frames import ClipInfo, Frame
    from segmatte.models.person.engine_person import PersonEngine

    h, w = frames[0].shape[:2]
    engine = PersonEngine({"weights": str(rvm_weights()), "downsample_ratio": ratio})
    engine.open(ClipInfo(w, h, 24.0, first, first + len(frames) - 1))
    try:
        return [m.layers["matte"] for m in engine.stream(
            Frame(first + i, f) for i, f in enumerate(frames))]
    finally:
        engine.close()


def strand_alpha(alpha: np.ndarray, rng: np.random.Generator, count: int = 24, ss: int = 4,
                 length: float = 0.06, t: float = 0.0) -> np.ndarray:
    """Coverage of thin wavy strands (about 1/3 px wide) growing up and out of
    the top contour of every figure in ``alpha``; ``length`` is a share of the
    image height; ``t`` sways them (a frame's time) so a clip's strands move."""
    h, w = alpha.shape
    hard = (alpha >= 0.5).astype(np.uint8)
    count_cc, labels, stats, _ = cv2.connectedComponentsWithStats(hard, connectivity=8)
    lab = np.zeros((h * ss, w * ss), np.uint8)
    shift = 4
    f = ss * (1 << shift)
    per = np.random.default_rng(int(rng.integers(1 << 30)))
    for c in range(1, count_cc):
        x, y, bw, bh, area = stats[c]
        if area < 12:
            continue
        n = max(2, int(count * min(1.0, bw / (0.3 * w))))
        tops = []
        for _ in range(n):
            cx = min(w - 1, int(per.integers(x + bw // 6, x + bw - bw // 6 + 1)))
            col = np.nonzero(labels[:, cx] == c)[0]
            if col.size:
                tops.append((cx, int(col[0])))
        size = max(3.0, length * h * min(1.0, bh / (0.25 * h)))
        for cx, cy in tops:
            a = per.uniform(-2.6, -0.55)
            d = np.array([np.cos(a), np.sin(a)])
            bend = per.uniform(-0.5, 0.5) + 0.15 * np.sin(t * 0.7 + cx)
            pts = []
            for s in np.linspace(0, 1, 10):
                dd = d + bend * s * np.array([-d[1], d[0]])
                p = np.array([cx, cy + 1.0]) + size * s * dd
                pts.append((int(round(p[0] * f)), int(round(p[1] * f))))
            cv2.polylines(lab, [np.array(pts, np.int32)], False, 1, thickness=1,
                          lineType=cv2.LINE_8, shift=shift)
    return cv2.resize(lab.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)


@dataclass
class Plate:
    """A real subject with exact alpha, before it is composited."""
    alpha: np.ndarray  # H×W exact alpha of the subject
    fg: np.ndarray  # H×W×3 linear-light foreground colour (un-premultiplied)


MEGAMIND_HERO = (312, 0, 720, 528)
"""The part of Megamind.avi's restaurant shots (frames 90-200) with one
person only: a close-up, head and shoulders."""


def subject_plates(name: str, first: int, count: int, size: tuple[int, int], *, strands: int = 24,
                   ratio: float | str = "auto", seed: int = 0,
                   crop: tuple[int, int, int, int] | None = None) -> list[Plate] | None:
    """Subjects cut from real footage (``crop`` of it, if given): the person
    matte of the frames plus strands (dark, hair-coloured), the frames
    themselves as foreground. None when the footage or the RVM weights are
    absent."""
    frames = read_frames(name, first, count, size, crop)
    if frames is None or rvm_weights() is None:
        return None
    mattes = person_mattes(frames, first, ratio)
    rng = np.random.default_rng(seed)
    state = int(rng.integers(1 << 30))
    out = []
    for t, (frame, a) in enumerate(zip(frames, mattes, strict=True)):
        # Levels 0.15-0.85 on the engine's matte: RVM leaves a wide faint halo on
        # dark backgrounds and half-transparent patches on what it is unsure of;
        # a real subject's soft alpha is at its edges (the clipped matte still
        # has soft edges a few pixels wide, and the strands below).
        a = np.clip((a - 0.15) / 0.7, 0.0, 1.0).astype(np.float32)
        fg = srgb_to_linear(frame)
        if strands:
            s = strand_alpha(a, np.random.default_rng(state), strands, t=float(t))
            hair = np.array([0.05, 0.035, 0.02], np.float32)
            total = 1 - (1 - a) * (1 - s)
            # premultiplied sum of the two layers, strands over the subject
            pre = s[..., None] * hair + (1 - s[..., None]) * a[..., None] * fg
            fg = np.where(total[..., None] > 1e-6, pre / np.maximum(total[..., None], 1e-6), fg)
            a = total.astype(np.float32)
        out.append(Plate(a, fg.astype(np.float32)))
    return out


def uneven_screen(size_hw: tuple[int, int], t: int = 0, *, falloff: float = 0.55,
                  screen: tuple[float, float, float] = (0.04, 0.42, 0.07)) -> np.ndarray:
    """A linear-light green screen lit unevenly: bright at the upper left,
    falling off to ``falloff`` of that towards the lower right, with a soft hot
    spot and a slight drift over time ``t``."""
    h, w = size_hw
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = x / w, y / h
    light = 1.0 - (1.0 - falloff) * (0.6 * u + 0.4 * v) ** 1.3
    light += 0.12 * np.exp(-(((u - 0.3 - 0.01 * t) ** 2) + (v - 0.25) ** 2) / 0.05)
    return (light[..., None] * np.array(screen, np.float32)).astype(np.float32)


def add_grain(linear: np.ndarray, rng: np.random.Generator, amount: float = 0.02) -> np.ndarray:
    """Film/sensor grain: signal-dependent, slightly soft (≈1.5 px clumps),
    stronger in blue, as camera noise is; ``amount`` is the std in sRGB units
    at mid grey."""
    h, w = linear.shape[:2]
    noise = rng.normal(0, 1, (h, w, 3)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.6)
    noise /= noise.std() + 1e-8
    enc = linear_to_srgb(linear)
    enc = enc + amount * noise * np.array([1.0, 0.8, 1.4], np.float32) * (0.5 + enc)
    return srgb_to_linear(np.clip(enc, 0, 1))


@dataclass
class RealComposite:
    number: int
    image: np.ndarray  # H×W×3 display-referred (sRGB) float32, what a reader delivers
    alpha: np.ndarray  # exact
    fg: np.ndarray  # linear foreground colour, without spill


def synthetic_plates(count: int = 3, size: tuple[int, int] = (96, 128), seed: int = 0) -> list[Plate]:
    """:func:`composite_sequence`'s soft subject (body, head, ~40 strands a
    third of a pixel wide, motion blur) as plates: its colours are taken as
    display values and decoded to linear light. No assets needed."""
    h, w = size
    black = [np.zeros((h, w, 3), np.float32)] * count
    out = []
    for c in composite_sequence(count, size, seed=seed, backgrounds=black):
        fg = np.where(c.alpha[..., None] > 1e-6, c.image / np.maximum(c.alpha[..., None], 1e-6), 0)
        out.append(Plate(c.alpha, srgb_to_linear(np.clip(fg, 0, 1))))
    return out


def green_screen_composites(plates: list[Plate], *, grain: float = 0.02, spill: float = 0.15,
                            falloff: float = 0.55, seed: int = 1) -> list[RealComposite]:
    """The plates over an unevenly lit green screen, with grain, and screen
    light spilling onto the subject near its edges (green added to F where
    the subject faces the screen: a blur of 1 − α), all in linear light."""
    rng = np.random.default_rng(seed)
    out = []
    for t, p in enumerate(plates):
        h, w = p.alpha.shape
        screen = uneven_screen((h, w), t, falloff=falloff)
        near = cv2.GaussianBlur(1 - p.alpha, (0, 0), max(1.5, h / 60))
        fg = p.fg + spill * near[..., None] * screen * np.array([0.2, 1.0, 0.3], np.float32)
        lin = p.alpha[..., None] * fg + (1 - p.alpha[..., None]) * screen
        if grain:
            lin = add_grain(lin, rng, grain)
        out.append(RealComposite(t, linear_to_srgb(lin), p.alpha, p.fg))
    return out


def background_composites(plates: list[Plate], backgrounds: list[np.ndarray], *, grain: float = 0.0,
                          seed: int = 1) -> list[RealComposite]:
    """The plates over real background frames (display-referred, as read)."""
    rng = np.random.default_rng(seed)
    out = []
    for t, (p, bg) in enumerate(zip(plates, backgrounds, strict=True)):
        lin = p.alpha[..., None] * p.fg + (1 - p.alpha[..., None]) * srgb_to_linear(bg)
        if grain:
            lin = add_grain(lin, rng, grain)
        out.append(RealComposite(t, linear_to_srgb(lin), p.alpha, p.fg))
    return out
