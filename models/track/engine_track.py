"""The ``track`` engine: promptable video object tracking, streamed with bounded memory.

Wraps ``transformers``' ``Sam2VideoModel`` / ``EdgeTamVideoModel`` /
``Sam3TrackerVideoModel`` with their processors; one matte layer per object
id, the model's object score in ``Matte.scores`` (absent objects get an empty
matte and a score below ``absent_score``).

How frames meet prompts (see :mod:`.segments` for why):

- The pipeline plans the work with :meth:`TrackEngine.plan_passes` and feeds
  each :class:`~segmatte.models.engine.Pass` through the bounded reader: its
  ``prime`` keyframes, then its frames in travel order. Each pass starts from
  a fresh inference session. Keyframes' images come through the stream; the
  engine never reads the source itself.
- At a keyframe the memory of the frames tracked before it is dropped (the
  keyframes' conditioning memory stays); objects already tracked are run on
  the keyframe with that memory, then its prompts are added — for an object
  tracked there it is a correction decoded with memory and becomes a
  conditioning frame, for a new object a first conditioning frame. So a
  segment's mattes are the same whether a run started at its keyframe or
  arrived from the segment before, and "re-track from F" equals a fresh run.
- Frames with no keyframe behind them in the travel direction yield empty
  mattes without running the model.
- Without a plan (``stream`` called directly), frames are taken as one pass
  in the direction given by :meth:`~segmatte.models.engine.Engine.schedule`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine, EngineError, EngineOptions
from ..frames import ClipInfo, Frame, Matte
from ..prompts import ObjectPrompts
from ..registry import register
from .options import TrackOptions
from .prompts_convert import ProcessorPrompt, keyframe_prompt

if TYPE_CHECKING:
    from .tracker import Tracker


@register
class TrackEngine(Engine):
    name = "track"
    description = "promptable video object tracking (SAM 2.1, EdgeTAM, SAM 3 tracker)"
    Options = TrackOptions
    temporal = True
    needs_objects = True
    prompt_kinds = frozenset({"points", "boxes", "mask"})

    def __init__(self, options: EngineOptions | dict[str, Any] | None = None, *,
                 model: str | None = None, device: str = "cpu",
                 parts: tuple[Any, Any] | None = None, mask_dir: str | Path | None = None) -> None:
        """``parts`` = (model, processor) already built (tests, benchmarks, a server that
        keeps models warm); otherwise ``options.model`` (or ``model``) is loaded from the
        cache in :meth:`open`. ``mask_dir`` resolves relative keyframe mask paths."""
        super().__init__(options, model=model, device=device)
        self.parts = parts
        self.mask_dir = mask_dir
        self.tracker: Tracker | None = None
        self._prompts: dict[int, list[tuple[str, ProcessorPrompt]]] = {}

    @classmethod
    def plan_passes(cls, direction, first, last, objects, todo, temporal_finish=False):
        """Passes from each to-do frame's keyframe (see :func:`.segments.plan_passes`)."""
        from .segments import plan_passes

        return plan_passes(direction, first, last, objects, todo)

    @classmethod
    def frame_digests(cls, direction, first, last, objects):
        """Per frame: its leg's direction and the keyframes behind it (see :mod:`.segments`)."""
        from .segments import frame_provenance

        return frame_provenance(direction, first, last, objects)

    @classmethod
    def check_ready(cls, options, model: str | None) -> None:
        from ..weights import cache

        cache.require(model or options.model)

    @property
    def opts(self) -> TrackOptions:
        assert isinstance(self.options, TrackOptions)
        return self.options

    def open(self, clip: ClipInfo, objects: Sequence[ObjectPrompts] = (),
             fetch: Callable[[int], Frame] | None = None) -> None:
        super().open(clip, objects, fetch)
        # convert every prompt first: a bad prompt fails before any weights load
        prompts: dict[int, list[tuple[str, ProcessorPrompt]]] = {}
        for obj in objects:
            if not obj.keyframes:
                raise EngineError(f"object {obj.id} has no keyframes")
            for kf in obj.keyframes:
                if not clip.first <= kf.frame <= clip.last:
                    raise EngineError(f"object {obj.id}: keyframe {kf.frame} is outside the "
                                      f"frame range {clip.first}-{clip.last}")
                prompts.setdefault(kf.frame, []).append(
                    (obj.id, keyframe_prompt(kf, clip.width, clip.height, self.mask_dir)))
        ids = [o.id for o in objects]
        if len(set(ids)) != len(ids):
            raise EngineError("object ids must be unique")
        self._prompts = dict(sorted(prompts.items()))
        if self.parts is not None:
            model, processor = self.parts
        else:
            from .loader import load

            model, processor = load(self.model or self.opts.model, dtype=self.opts.dtype,
                                    device=self.device)
        from .tracker import Tracker  # torch loads here, not when the registry lists engines

        if self.opts.torch_compile and not hasattr(model.vision_encoder, "_orig_mod"):
            import torch

            # the image encoder is the per-frame cost and has static shapes; the memory
            # attention's sequence length changes as the memory fills, so it stays eager
            model.vision_encoder = torch.compile(model.vision_encoder)
        self.tracker = Tracker(model, processor, width=clip.width, height=clip.height,
                               first=clip.first, layers=ids, options=self.opts,
                               device=self.device)

    def _keyframe(self, frame: Frame, reverse: bool) -> Any:
        """A keyframe met in travel: drop tracked memory, run what is tracked, add its prompts."""
        tracker = self.tracker
        number = frame.number
        pixels = tracker.pixels(frame)
        out = None
        if tracker.has_objects:
            tracker.forget_tracking()
            out = tracker.step(number, pixels, reverse=reverse)
        corrected = []
        for layer, prompt in self._prompts.get(number, ()):
            if tracker.was_tracked(number, layer) is not None:
                corrected.append(layer)
            out = tracker.prompt(number, pixels, layer, prompt, reverse=reverse)
        for layer in corrected:
            tracker.promote(number, layer)
        return out

    def _frame(self, frame: Frame, reverse: bool) -> Matte:
        tracker = self.tracker
        number = frame.number
        if number in self._prompts:
            return tracker.matte(number, self._keyframe(frame, reverse))
        if tracker.reachable(number, reverse):
            return tracker.matte(number, tracker.step(number, tracker.pixels(frame),
                                                      reverse=reverse))
        return tracker.matte(number, None)

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        if self.tracker is None:
            raise EngineError("the track engine was not opened")
        it = iter(frames)
        if self.passes is None:
            reverse = self.direction == "backward"
            for frame in it:
                yield self._frame(frame, reverse)
            return
        for p in self.passes:
            self.tracker.restart()
            reverse = p.direction == "backward"
            for number in p.prime:
                self._keyframe(self._next(it, number), reverse)
            for number in p.frames:
                yield self._frame(self._next(it, number), reverse)

    @staticmethod
    def _next(it: Iterator[Frame], number: int) -> Frame:
        frame = next(it, None)
        if frame is None or frame.number != number:
            got = "the end of the stream" if frame is None else f"frame {frame.number}"
            raise EngineError(f"the track engine expected frame {number}, got {got}")
        return frame

    def close(self) -> None:
        self.tracker = None
        self.parts = None
