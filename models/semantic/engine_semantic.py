"""The ``semantic`` engine: per-pixel classes over time, one matte layer per class.

Per frame: scale the frame so its longest side is at most ``max_size``, run
the model (whole, or in overlapping tiles blended seam-free: :mod:`.tiling`),
turn the post-processing's scores into soft class probabilities
(:mod:`.segmenter`), add up the classes of each requested layer, and scale
back to source size with a smooth (bilinear) resize. The matte of a class is
its probability, not a 0/1 argmax: edges stay soft, and an artist can
threshold or choke later.

Over time, per-frame segmentation flickers where the model hesitates. With
``smoothing`` > 0 the probabilities go through reduce-chatter
(:class:`segmatte.models.finish.temporal.ReduceChatter`): averaged with the
neighbouring frames' probabilities warped along optical flow, weighted by how
well the flow explains the picture. That makes the engine temporal (a frame's
matte depends on its neighbours: a resumed job feeds every frame) and adds a
latency of ``smoothing_radius`` frames; with ``smoothing = 0`` it is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np

from ..engine import Engine, EngineError
from ..finish.temporal import ReduceChatter
from ..frames import ClipInfo, Frame, Matte
from ..prompts import ObjectPrompts
from ..registry import register
from .classes import Selection, resolve
from .loader import load
from .options import SemanticCard, SemanticOptions
from .segmenter import Segmenter
from .tiling import TileBlender, tile_grid


def scaled_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """(h, w) with the longest side at most ``max_size`` (aspect kept, never upscaled)."""
    if max_size is None or max(height, width) <= max_size:
        return height, width
    s = max_size / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def scaled_probabilities(segmenter: Segmenter, image: np.ndarray,
                         selections: Sequence[Selection], *, max_size: int | None = None,
                         tile_size: int | None = None, overlap: int = 0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(the image scaled to ``max_size``, K×h×w float32 probabilities at that size)."""
    height, width = image.shape[:2]
    h, w = scaled_size(height, width, max_size)
    small = image if (h, w) == (height, width) else cv2.resize(
        image, (w, h), interpolation=cv2.INTER_AREA)
    if tile_size is not None and (h > tile_size or w > tile_size):
        blender = TileBlender(len(selections), h, w, overlap)
        tiles = tile_grid(h, w, tile_size, overlap)  # all of one size: they batch
        batch = segmenter.batch_size(tiles[0].height, tiles[0].width)
        for i in range(0, len(tiles), batch):
            group = tiles[i:i + batch]
            crops = [np.ascontiguousarray(small[t.y0:t.y1, t.x0:t.x1]) for t in group]
            for tile, probs in zip(group, segmenter.probabilities_batch(crops, selections),
                                   strict=True):
                blender.add(tile, probs)
        probs = blender.result()
    else:  # scores at most SCORE_BUDGET floats; the few selected layers scale up after
        size = segmenter.score_size(h, w)
        probs = upsample(segmenter.probabilities(small, selections, size), h, w)
    return small, np.clip(probs, 0.0, 1.0, out=probs)


def upsample(probs: np.ndarray, height: int, width: int) -> np.ndarray:
    """K×h×w → K×H×W with a smooth (bilinear, pixel-centre aligned) resize."""
    if probs.shape[1:] == (height, width):
        return probs
    return np.stack([np.clip(cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR),
                             0.0, 1.0) for p in probs])


def infer_probabilities(segmenter: Segmenter, image: np.ndarray, selections: Sequence[Selection],
                        *, max_size: int | None = None, tile_size: int | None = None,
                        overlap: int = 0) -> np.ndarray:
    """K×H×W float32 probabilities of ``selections`` for one H×W×3 image in [0, 1]."""
    _, probs = scaled_probabilities(segmenter, image, selections, max_size=max_size,
                                    tile_size=tile_size, overlap=overlap)
    return upsample(probs, *image.shape[:2])


@register
class SemanticEngine(SemanticCard, Engine):
    """Soft per-class mattes from Mask2Former, OneFormer or SegFormer.

    Yields ``Matte(number, {layer: probability})``, one layer per requested
    class or group (:meth:`SemanticOptions.layer_names`), or one ``matte``
    layer with ``union``. ``segmenter`` hands over an already loaded model
    (tests, benchmarks, a server keeping models warm): :meth:`open` then
    skips loading.
    """

    options: SemanticOptions

    def __init__(self, options: SemanticOptions | dict[str, Any] | None = None, *,
                 model: str | None = None, device: str = "cpu",
                 segmenter: Segmenter | None = None) -> None:
        super().__init__(options, model=model, device=device)
        self.temporal = self.options.smoothing > 0  # type: ignore[misc]
        self._segmenter = segmenter
        self._selections: list[Selection] = []
        self._smoother: ReduceChatter | None = None

    @property
    def model_name(self) -> str:
        return self.model or self.options.model

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer names of every matte (known once :meth:`open` has run)."""
        return tuple(s.layer for s in self._selections)

    # ------------------------------------------------------------------ lifecycle

    def open(self, clip: ClipInfo, objects: Sequence[ObjectPrompts] = (),
             fetch: Callable[[int], Frame] | None = None) -> None:
        super().open(clip, objects, fetch)
        if self._segmenter is None:
            self._segmenter = load(self.model_name, device=self.options.device or self.device,
                                   dtype=self.options.dtype)
        try:
            self._selections = resolve(self.options.classes, self._segmenter.id2label,
                                       union=self.options.union, model=self.model_name)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        self._smoother = (ReduceChatter(self.options.smoothing, self.options.smoothing_radius)
                          if self.options.smoothing > 0 else None)

    def close(self) -> None:
        self._segmenter = None
        self._smoother = None

    # ------------------------------------------------------------------ streaming

    def _scaled(self, frame: Frame) -> tuple[np.ndarray, Matte]:
        """(scaled image, matte at inference size) of one frame."""
        if self._segmenter is None:
            raise EngineError("the semantic engine was not opened")
        o = self.options
        try:
            small, probs = scaled_probabilities(self._segmenter, frame.image, self._selections,
                                                max_size=o.max_size, tile_size=o.tile_size,
                                                overlap=o.overlap)
        except EngineError:
            raise
        except Exception as exc:  # name the frame, for the job's Failed event
            raise EngineError(f"semantic segmentation failed on frame {frame.number}: "
                              f"{exc}") from exc
        layers = {s.layer: p for s, p in zip(self._selections, probs, strict=True)}
        return small, Matte(frame.number, layers)

    @staticmethod
    def _full(matte: Matte, size: tuple[int, int]) -> Matte:
        layers = dict(zip(matte.layers, upsample(np.stack(list(matte.layers.values())), *size),
                          strict=True))
        return Matte(matte.number, layers, matte.scores)

    def matte(self, frame: Frame) -> Matte:
        """The unsmoothed matte of one frame, at source size."""
        return self._full(self._scaled(frame)[1], frame.image.shape[:2])

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        # Smoothing runs at inference size (flow, warps: up to ~4x fewer pixels
        # than 1080p), before the one upsampling to source size.
        sizes: dict[int, tuple[int, int]] = {}
        for frame in frames:
            small, matte = self._scaled(frame)
            if self._smoother is None:
                yield self._full(matte, frame.image.shape[:2])
                continue
            sizes[frame.number] = frame.image.shape[:2]
            for done in self._smoother.push(small, matte):
                yield self._full(done, sizes.pop(done.number))
        if self._smoother is not None:
            for done in self._smoother.flush():
                yield self._full(done, sizes.pop(done.number))
