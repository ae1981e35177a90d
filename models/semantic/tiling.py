"""Overlapping tiles with smooth weights, so tiled inference leaves no seams.

Segmentation models see a fixed input size (SegFormer 512², Mask2Former's
shortest edge 384–800): a 4K frame squeezed into it loses thin structures, so
large frames can instead be cut into tiles that the model sees at their own
resolution. Each tile's class probabilities are then blended back:

    p(x) = Σ_t w_t(x) · p_t(x) / Σ_t w_t(x)

Tiles overlap by ``overlap`` pixels and each tile's weight ``w_t`` rises from
near 0 at its edge to 1 over the overlap with a raised cosine, except along
the frame's border, where there is no neighbour to hand over to and the weight
stays 1. The weights are continuous, so the blend is continuous across tile
borders: no seam, no grid; any disagreement between two tiles is spread over
the overlap instead of showing as a step. This is the "slide inference" of
MMSegmentation, with a smooth window in place of its box average.

Tile positions are spread evenly so the last tile ends on the frame's edge;
neighbours overlap by at least ``overlap`` (more when the frame is not a whole
number of steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    """A tile's rectangle in the frame: rows ``y0:y1``, columns ``x0:x1``."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    step = tile - overlap
    count = math.ceil((length - overlap) / step)
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def tile_grid(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles of at most ``tile``×``tile`` covering the frame, overlapping by ≥ ``overlap``."""
    if tile <= 0:
        raise ValueError(f"tile size must be positive, got {tile}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile size), got {overlap} for tile {tile}")
    th, tw = min(tile, height), min(tile, width)
    return [Tile(y, x, y + th, x + tw)
            for y in _starts(height, tile, overlap) for x in _starts(width, tile, overlap)]


def _ramp(length: int, overlap: int, soft_start: bool, soft_end: bool) -> np.ndarray:
    """1-D weight: raised-cosine ramps of ``overlap`` samples at the soft ends."""
    w = np.ones(length, np.float32)
    n = min(overlap, length // 2)
    if n > 0:
        # (i + 0.5) / n keeps the first weight above 0: every pixel stays covered
        up = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n))
        if soft_start:
            w[:n] = up
        if soft_end:
            w[length - n:] = up[::-1]
    return w


def tile_weight(tile: Tile, height: int, width: int, overlap: int) -> np.ndarray:
    """The tile's blend weight (tile.height × tile.width float32, in (0, 1])."""
    wy = _ramp(tile.height, overlap, tile.y0 > 0, tile.y1 < height)
    wx = _ramp(tile.width, overlap, tile.x0 > 0, tile.x1 < width)
    return wy[:, None] * wx[None, :]


class TileBlender:
    """Accumulates per-tile arrays (C×h×w) into one C×H×W weighted average."""

    def __init__(self, channels: int, height: int, width: int, overlap: int) -> None:
        self.height, self.width, self.overlap = height, width, overlap
        self._sum = np.zeros((channels, height, width), np.float32)
        self._weight = np.zeros((height, width), np.float32)

    def add(self, tile: Tile, values: np.ndarray) -> None:
        if values.shape[1:] != (tile.height, tile.width):
            raise ValueError(f"tile values of shape {values.shape} do not fit {tile}")
        w = tile_weight(tile, self.height, self.width, self.overlap)
        self._sum[:, tile.y0:tile.y1, tile.x0:tile.x1] += w * values
        self._weight[tile.y0:tile.y1, tile.x0:tile.x1] += w

    def result(self) -> np.ndarray:
        if not (self._weight > 0).all():
            raise ValueError("the tiles added do not cover the frame")
        return self._sum / self._weight
