"""Temporal smoothing of the class probabilities lowers flicker (dtSSD) on a
synthetic sequence with known ground truth, without smearing the moving edge.

The clip: a red disc gliding over a textured background (texture so optical
flow has something to follow). Ground truth: the disc's soft coverage. The
"model" is a stand-in segmenter that reads the disc from the picture and adds
what real per-frame segmentation does over time, fresh each frame: the edge
wanders, the whole region's confidence pumps, pixels are noisy (flicker).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.metrics import dtssd_sequence, mad
from segmatte.models.semantic.classes import Selection
from segmatte.models.semantic.engine_semantic import SemanticEngine

H, W, FRAMES = 96, 128, 12


def disc(number: int) -> np.ndarray:
    """Soft coverage of the disc in frame ``number`` (moves 2 px right, 1 px down a frame)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    d = np.hypot(xx - (40 + 2 * number), yy - (40 + number))
    return np.clip(20.0 - d + 0.5, 0.0, 1.0)


def clip() -> tuple[list[Frame], list[np.ndarray]]:
    rng = np.random.default_rng(7)
    background = cv2.resize(rng.random((H // 6, W // 6, 2)).astype(np.float32), (W, H),
                            interpolation=cv2.INTER_CUBIC)
    pattern = cv2.resize(rng.random((H // 6, W // 6, 2)).astype(np.float32), (W, H),
                         interpolation=cv2.INTER_CUBIC)
    frames, truth = [], []
    for n in range(FRAMES):
        a = disc(n)
        # the disc carries its own texture along (a flat disc gives flow nothing to hold)
        moved = cv2.warpAffine(pattern, np.float32([[1, 0, 2 * n], [0, 1, n]]), (W, H),
                               borderMode=cv2.BORDER_REFLECT)
        image = np.empty((H, W, 3), np.float32)
        image[..., 0] = a
        image[..., 1:] = np.clip(background * (1 - a[..., None]) + moved * a[..., None], 0, 1)
        frames.append(Frame(n, image))
        truth.append(a)
    return frames, truth


class FlickeringSegmenter:
    """Reads the disc from the red channel; the edge and the noise change every call."""

    id2label = {0: "background", 1: "person"}

    def __init__(self) -> None:
        self.rng = np.random.default_rng(11)

    def score_size(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def probabilities(self, image: np.ndarray, selections: Sequence[Selection],
                      size: tuple[int, int] | None = None) -> np.ndarray:
        shift = self.rng.uniform(-0.2, 0.2)  # the edge wanders
        confidence = self.rng.uniform(0.6, 1.0)  # the whole region's probability pumps
        red = cv2.GaussianBlur(image[..., 0], (0, 0), 1.0)
        p = confidence / (1 + np.exp(-(red - 0.5 + shift) / 0.08))
        p = np.clip(p + self.rng.normal(0, 0.04, p.shape), 0, 1).astype(np.float32)
        return np.stack([p if s.ids == (1,) else 1 - p for s in selections])


def run(smoothing: float) -> tuple[SemanticEngine, list[np.ndarray], list[int]]:
    frames, _ = clip()
    engine = SemanticEngine({"classes": "person", "smoothing": smoothing, "smoothing_radius": 2},
                            segmenter=FlickeringSegmenter())  # type: ignore[arg-type]
    engine.open(ClipInfo(W, H, 24.0, 0, FRAMES - 1))
    mattes = list(engine.stream(frames))
    return engine, [m.layers["person"] for m in mattes], [m.number for m in mattes]


def test_smoothing_lowers_dtssd_without_smear() -> None:
    _, truth = clip()
    raw_engine, raw, raw_numbers = run(0.0)
    smooth_engine, smooth, numbers = run(0.8)
    assert raw_numbers == numbers == list(range(FRAMES))  # every frame once, in order
    assert not raw_engine.temporal and smooth_engine.temporal and SemanticEngine.temporal
    raw_dt, smooth_dt = dtssd_sequence(raw, truth), dtssd_sequence(smooth, truth)
    assert smooth_dt < 0.7 * raw_dt, (raw_dt, smooth_dt)
    raw_mad = np.mean([mad(p, t) for p, t in zip(raw, truth, strict=True)])
    smooth_mad = np.mean([mad(p, t) for p, t in zip(smooth, truth, strict=True)])
    assert smooth_mad <= raw_mad * 1.05, (raw_mad, smooth_mad)  # averaging along flow: no smear
    for m in smooth:
        assert m.shape == (H, W) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
