"""The ``track`` engine: promptable video object tracking, streamed with bounded memory.

Wraps ``transformers``' ``Sam2VideoModel`` / ``EdgeTamVideoModel`` /
``Sam3TrackerVideoModel`` with their processors; one matte layer per object
id, the model's object score in ``Matte.scores`` (absent objects get an empty
matte and a score below ``absent_score``).

How frames meet prompts:

- With ``fetch`` (random access to source frames, given by the pipeline),
  :meth:`open` *primes* the session: every keyframe, in frame order, is read,
  its prompts are added and the model run on it, so every keyframe is a
  conditioning frame before tracking starts — SAM 2's own semantics (an object
  prompted only later in the clip is tracked towards its keyframe with that
  keyframe in memory).
- Without ``fetch``, a keyframe's prompts are added when its frame arrives in
  the stream (the plain streaming loop).

The direction of travel is read from the order frames arrive in (see
:mod:`.order`; ``plan_order`` gives the order for forward / backward / both).
Frames with no keyframe behind them in the travel direction yield empty mattes
without running the model.
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

    @staticmethod
    def frame_order(direction: str, first: int, last: int,
                    objects: Sequence[ObjectPrompts]) -> list[int]:
        """The order the pipeline should feed frames in (see :func:`.order.plan_order`)."""
        from .order import plan_order

        keys = [kf.frame for o in objects for kf in o.keyframes]
        return plan_order(direction, first, last, keys)  # type: ignore[arg-type]

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
        if fetch is not None:
            for number in list(self._prompts):
                self._prime(number, self.tracker.pixels(fetch(number)))

    def _prime(self, number: int, pixels: Any) -> Any:
        out = None
        for layer, prompt in self._prompts.pop(number, []):
            out = self.tracker.prompt(number, pixels, layer, prompt)
        return out

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        if self.tracker is None:
            raise EngineError("the track engine was not opened")
        tracker = self.tracker
        it = iter(frames)
        current = next(it, None)
        previous: int | None = None
        while current is not None:
            following = next(it, None)
            number = current.number
            if previous is not None:
                reverse = number < previous
            else:
                reverse = following is not None and following.number < number
            if number in self._prompts:  # lazy priming: prompts meet their frame here
                out = self._prime(number, tracker.pixels(current))
                yield tracker.matte(number, out)
            elif tracker.reachable(number, reverse):
                out = tracker.step(number, tracker.pixels(current), reverse=reverse)
                yield tracker.matte(number, out)
            else:
                yield tracker.matte(number, None)
            previous, current = number, following

    def close(self) -> None:
        self.tracker = None
        self.parts = None
