"""Tiled inference (what 4K frames use) blends seam-free.

A small model on a small image with a small tile stands in for 4K with
1024-pixel tiles: the geometry is the same. The seam check looks for a grid:
the mean step of the probabilities across each tile edge, relative to the
steps a few pixels either side. Pasting tiles side by side (the control)
shows the grid plainly; the blend must not.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tiny_semantic as tiny

from segmatte.models.semantic.classes import CITYSCAPES, canonical, resolve
from segmatte.models.semantic.engine_semantic import infer_probabilities, scaled_size
from segmatte.models.semantic.segmenter import Segmenter
from segmatte.models.semantic.tiling import Tile, TileBlender, tile_grid, tile_weight

H, W, TILE, OVERLAP = 160, 224, 96, 24


@pytest.mark.parametrize("h, w, tile, overlap", [
    (160, 224, 96, 24), (2160, 3840, 1024, 256), (100, 100, 100, 10), (50, 300, 64, 16),
    (1080, 1920, 512, 128),
])
def test_grid_covers_with_at_least_the_overlap(h: int, w: int, tile: int, overlap: int) -> None:
    tiles = tile_grid(h, w, tile, overlap)
    cover = np.zeros((h, w), np.int32)
    for t in tiles:
        assert 0 <= t.y0 < t.y1 <= h and 0 <= t.x0 < t.x1 <= w
        assert t.height == min(tile, h) and t.width == min(tile, w)
        cover[t.y0:t.y1, t.x0:t.x1] += 1
    assert cover.min() >= 1
    xs = sorted({t.x0 for t in tiles})
    assert xs[0] == 0 and max(t.x1 for t in tiles) == w
    assert all(b - a <= tile - overlap for a, b in zip(xs, xs[1:], strict=False))  # neighbours share ≥ overlap


def test_grid_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError):
        tile_grid(10, 10, 0, 0)
    with pytest.raises(ValueError):
        tile_grid(10, 10, 8, 8)


def test_weights_fall_to_near_zero_inside_and_stay_one_on_the_frame_border() -> None:
    w = tile_weight(Tile(0, 40, 64, 104), 64, 200, 16)
    assert w.shape == (64, 64) and w.min() > 0
    assert w[32, 0] < 0.01 and w[32, -1] < 0.01  # soft left and right: neighbours there
    assert w[0, 32] == 1.0 and w[-1, 32] == 1.0  # the frame's top and bottom: no neighbour


def test_blending_identical_tiles_is_exact() -> None:
    """Where tiles agree, the blend is the value itself (weights are normalised)."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    field = np.stack([np.sin(xx / 17) * np.cos(yy / 11), xx / W])
    blender = TileBlender(2, H, W, OVERLAP)
    for t in tile_grid(H, W, TILE, OVERLAP):
        blender.add(t, field[:, t.y0:t.y1, t.x0:t.x1])
    np.testing.assert_allclose(blender.result(), field, atol=1e-6)


def test_scaled_size() -> None:
    assert scaled_size(2160, 3840, 1024) == (576, 1024)
    assert scaled_size(720, 1280, 2048) == (720, 1280)
    assert scaled_size(720, 1280, None) == (720, 1280)


def _seam(probs: np.ndarray, tiles: list[Tile]) -> float:
    """Largest step across a tile edge relative to the steps 2–4 pixels beside it."""
    worst = 0.0
    for axis, size, edges in (
        (2, W, {t.x0 for t in tiles if t.x0 > 0} | {t.x1 for t in tiles if t.x1 < W}),
        (1, H, {t.y0 for t in tiles if t.y0 > 0} | {t.y1 for t in tiles if t.y1 < H}),
    ):
        steps = np.abs(np.diff(probs, axis=axis)).mean(axis=(0, 3 - axis))
        for edge in edges:
            i = edge - 1  # the step between pixels edge-1 and edge
            beside = [steps[j] for j in (i - 4, i - 3, i - 2, i + 2, i + 3, i + 4)
                      if 0 <= j < size - 1]
            worst = max(worst, float(steps[i] / np.mean(beside)))
    return worst


def test_tiled_matches_whole_without_seams() -> None:
    model, processor = tiny.segformer(labels=CITYSCAPES, contrast=4.0)
    processor.do_resize = False  # the model sees native pixels, whole or tiled
    segmenter = Segmenter(model, processor, "segformer")
    selections = resolve([canonical(n) for n in CITYSCAPES], segmenter.id2label)
    rng = np.random.default_rng(3)
    noise = rng.random((H // 8, W // 8, 3)).astype(np.float32)
    image = np.clip(cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC), 0, 1)

    whole = infer_probabilities(segmenter, image, selections)
    tiled = infer_probabilities(segmenter, image, selections, tile_size=TILE, overlap=OVERLAP)
    tiles = tile_grid(H, W, TILE, OVERLAP)
    assert len(tiles) == 6
    pasted = np.zeros_like(whole)
    for t in tiles:  # the naive way: each tile overwrites the last
        crop = np.ascontiguousarray(image[t.y0:t.y1, t.x0:t.x1])
        pasted[:, t.y0:t.y1, t.x0:t.x1] = segmenter.probabilities(crop, selections)

    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled.sum(0), 1.0, atol=1e-4)  # still a distribution
    assert np.abs(tiled - whole).mean() < 0.03  # the seam error: tiles lack far context only
    assert (tiled.argmax(0) == whole.argmax(0)).mean() > 0.8
    assert _seam(pasted, tiles) > 3.0  # the check sees a grid when there is one
    assert _seam(tiled, tiles) < 2.0  # and the blend leaves none
    assert _seam(tiled, tiles) < _seam(whole, tiles) + 0.5  # no worse than no tiles at all


def test_scores_stay_within_the_memory_budget() -> None:
    model, processor = tiny.segformer(labels=CITYSCAPES)
    segmenter = Segmenter(model, processor, "segformer")
    assert segmenter.score_size(576, 1024) == (576, 1024)
    h, w = segmenter.score_size(2160, 3840, budget=19 * 1000 * 1000)
    assert 19 * h * w <= 19 * 1000 * 1000 and abs(w / h - 3840 / 2160) < 0.01
    assert segmenter.batch_size(512, 512, budget=19 * 512 * 512 * 3) == 3
