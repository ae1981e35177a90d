"""The ``text`` engine: every instance of a text prompt found on a keyframe, each tracked.

``--text "red car"@1001`` finds the cars on frame 1001 with ``Sam3Model``,
names them ``car_1``, ``car_2``, … by score (one matte layer each, plus the
optional union ``car``), and tracks each with ``Sam3TrackerVideoModel`` from
its detection mask through the track engine's bounded streaming
:class:`~segmatte.models.track.tracker.Tracker` — the same flat memory, the
same directions (the frame order of :func:`~segmatte.models.track.order.plan_order`).

Keyframes meet their frame in the stream, in travel order. On a text keyframe
the tracker first steps the instances it already follows, the detector runs,
and the detections are matched to those instances by mask IoU
(:mod:`.matching`): a match keeps its id, a new detection takes the next free
one (up to ``max_instances``). Points, boxes or a mask on ``car_2`` refine
that instance: on the frame it was detected on they go with its detection box
(a negative point removes, a positive one adds); on any other frame they are a
correction as in the track engine. Frames no keyframe reaches yet yield empty
layers without running a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..engine import Engine, EngineError, EngineOptions
from ..frames import ClipInfo, Frame, Matte
from ..prompts import Box, Keyframe, ObjectPrompts
from ..registry import register
from .concepts import Refinement, TextPlan, instance_id, plan
from .options import TextOptions

if TYPE_CHECKING:
    from ..track.tracker import Tracker
    from .detector import Detector
    from .loader import TextParts


@register
class TextEngine(Engine):
    name = "text"
    description = "text prompts: every instance of a concept found and tracked (SAM 3)"
    Options = TextOptions
    temporal = True
    needs_objects = True
    takes_text: ClassVar[bool] = True
    prompt_kinds = frozenset({"text", "points", "boxes"})

    def __init__(self, options: EngineOptions | dict[str, Any] | None = None, *,
                 model: str | None = None, device: str = "cpu",
                 parts: TextParts | None = None) -> None:
        """``parts``: detector, tracker and processors already built (tests, benchmarks, a
        server keeping models warm); otherwise ``options.model`` is loaded in :meth:`open`."""
        super().__init__(options, model=model, device=device)
        self.parts = parts
        self.plan: TextPlan | None = None
        self.tracker: Tracker | None = None
        self.detector: Detector | None = None
        self._texts: dict[int, list[tuple[str, str]]] = {}
        self._refine: dict[int, list[Refinement]] = {}
        self.found: dict[str, dict[str, int]] = {}
        """Concept → instance layer → the frame it was first found on (stable ids)."""
        self._boxes: dict[tuple[int, str], tuple[float, float, float, float]] = {}

    @property
    def opts(self) -> TextOptions:
        assert isinstance(self.options, TextOptions)
        return self.options

    # -- the door --------------------------------------------------------------
    @staticmethod
    def frame_order(direction: str, first: int, last: int,
                    objects: Sequence[ObjectPrompts]) -> list[int]:
        from ..track.order import plan_order

        keys = [kf.frame for o in objects for kf in o.keyframes]
        return plan_order(direction, first, last, keys)  # type: ignore[arg-type]

    @classmethod
    def plan_passes(cls, direction, first, last, objects, todo, temporal_finish=False):
        """Every frame, in :meth:`frame_order`, as one pass per way of travel.

        One inference session runs through all passes (instances found on a
        keyframe are tracked both ways from it), so every frame is fed and the
        pipeline writes only what is to do.
        """
        from ..engine import Pass

        order = cls.frame_order(direction, first, last, objects)
        passes: list[Pass] = []
        run: list[int] = []
        for n in order:
            if len(run) >= 2 and n - run[-1] != run[1] - run[0] or run and abs(n - run[-1]) != 1:
                passes.append(Pass("backward" if len(run) > 1 and run[1] < run[0] else "forward",
                                   tuple(run)))
                run = []
            run.append(n)
        if run:
            way = "backward" if (len(run) > 1 and run[1] < run[0]) or (
                direction == "backward") else "forward"
            passes.append(Pass(way, tuple(run)))
        return passes

    @classmethod
    def plan_layers(cls, objects: Sequence[ObjectPrompts], options: EngineOptions) -> tuple[str, ...]:
        """The layers a job writes, before any frame: ``<label>_1..N`` per text prompt (+ union)."""
        assert isinstance(options, TextOptions)
        return plan(objects, options.max_instances, options.union).layers

    @classmethod
    def check_ready(cls, options, model: str | None) -> None:
        from ..weights import cache
        from .loader import entry_for, require_classes

        require_classes()
        cache.require(entry_for(model or options.model))

    # -- running ---------------------------------------------------------------
    def open(self, clip: ClipInfo, objects: Sequence[ObjectPrompts] = (),
             fetch: Callable[[int], Frame] | None = None) -> None:
        super().open(clip, objects, fetch)
        opts = self.opts
        self.plan = layout = plan(objects, opts.max_instances, opts.union)
        texts: dict[int, list[tuple[str, str]]] = {}
        for concept in layout.concepts:
            for frame, text in concept.keyframes:
                _inside(clip, frame, concept.id)
                texts.setdefault(frame, []).append((concept.id, text))
        refine: dict[int, list[Refinement]] = {}
        from ..track.prompts_convert import keyframe_prompt

        for r in layout.refinements:
            _inside(clip, r.keyframe.frame, r.layer)
            keyframe_prompt(r.keyframe, clip.width, clip.height)  # a bad prompt fails here
            refine.setdefault(r.keyframe.frame, []).append(r)
        self._texts, self._refine = texts, refine
        self.found = {c.id: {} for c in layout.concepts}
        self._boxes = {}
        if self.parts is None:
            from .loader import load

            self.parts = load(self.model or opts.model, dtype=opts.dtype, device=self.device)
        from ..track.loader import DTYPES
        from ..track.tracker import Tracker  # torch loads here, not when the registry lists engines
        from .detector import Detector

        parts = self.parts
        self.detector = Detector(parts.detector, parts.detector_processor, device=self.device,
                                 dtype=DTYPES[opts.dtype])
        self.tracker = Tracker(parts.tracker, parts.tracker_processor, width=clip.width,
                               height=clip.height, first=clip.first, layers=list(layout.tracked),
                               options=opts.track_options(), device=self.device)

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        if self.tracker is None:
            raise EngineError("the text engine was not opened")
        it = iter(frames)
        if self.passes is not None:  # the pipeline's plan: the direction is told, not guessed
            for p in self.passes:
                for _ in p.frames:
                    yield self._frame(next(it), p.direction == "backward")
            return
        current = next(it, None)
        previous: int | None = None
        while current is not None:
            following = next(it, None)
            number = current.number
            if previous is not None:
                reverse = number < previous
            else:
                reverse = following is not None and following.number < number
            yield self._frame(current, reverse)
            previous, current = number, following

    def _frame(self, frame: Frame, reverse: bool) -> Matte:
        tracker = self.tracker
        number = frame.number
        texts = self._texts.pop(number, [])
        refine = self._refine.pop(number, [])
        out = None
        if texts or refine:
            pixels = tracker.pixels(frame)
            if texts:
                if tracker.reachable(number, reverse):
                    out = tracker.step(number, pixels, reverse=reverse)
                for concept, text in texts:
                    out = self._detect(frame, pixels, concept, text, out, refine, reverse) or out
            for r in refine:
                out = tracker.prompt(number, pixels, r.layer, self._prompt(number, r),
                                     reverse=reverse)
        elif tracker.reachable(number, reverse):
            out = tracker.step(number, tracker.pixels(frame), reverse=reverse)
        return self._unions(tracker.matte(number, out))

    def _detect(self, frame: Frame, pixels: Any, concept: str, text: str, tracked_out: Any,
                refine: list[Refinement], reverse: bool) -> Any:
        """Find the concept's instances on this frame; prompt the tracker with the new ones."""
        from .matching import match

        opts, tracker, number = self.opts, self.tracker, frame.number
        detections = self.detector.detect(frame.image, text, threshold=opts.detection_threshold,
                                          nms_iou=opts.nms_iou, limit=opts.max_instances)
        known = self.found[concept]
        tracked = self._tracked_masks(tracked_out, list(known))
        matched, new = match([d.mask for d in detections], tracked, opts.match_iou)
        for i, layer in matched.items():
            self._boxes[(number, layer)] = detections[i].box
        free = [instance_id(concept, n) for n in range(1, opts.max_instances + 1)
                if instance_id(concept, n) not in known]
        out = None
        refined_here = {r.layer for r in refine}
        for i in new:
            if not free:
                break  # more instances than max_instances: the best-scoring ones were kept
            layer = free.pop(0)
            known[layer] = number
            self._boxes[(number, layer)] = detections[i].box
            if layer in refined_here:
                continue  # prompted with its box and the clicks in the refinement pass
            from ..track.prompts_convert import ProcessorPrompt

            out = tracker.prompt(number, pixels, layer,
                                 ProcessorPrompt(input_masks=detections[i].mask), reverse=reverse)
        return out

    def _tracked_masks(self, out: Any, layers: list[str]) -> dict[str, np.ndarray]:
        """Binary source-size masks of the given instance layers in a tracker output."""
        if out is None or not layers:
            return {}
        import torch

        from ..track.upsample import logits_to_source

        t = self.tracker
        probs = torch.sigmoid(out.object_score_logits.float().reshape(-1))
        full = logits_to_source(out.pred_masks, t.height, t.width, mode=self.opts.upsample)
        index = {oid: i for i, oid in enumerate(out.object_ids)}
        masks: dict[str, np.ndarray] = {}
        for layer in layers:
            i = index.get(t.obj_id[layer])
            if i is not None and float(probs[i]) >= self.opts.absent_score:
                masks[layer] = (full[i] > 0).cpu().numpy()
        return masks

    def _prompt(self, number: int, r: Refinement):
        """Processor inputs for a refinement; with the detection box on its detection frame."""
        from ..track.prompts_convert import keyframe_prompt

        kf = r.keyframe
        box = self._boxes.get((number, r.layer))
        if box is not None and not kf.boxes and not kf.mask:
            x0, y0, x1, y1 = box
            w, h = self.clip.width, self.clip.height
            x0, y0, x1, y1 = min(x0, w), min(y0, h), min(x1, w), min(y1, h)
            if x1 > x0 and y1 > y0:
                kf = Keyframe(frame=kf.frame, points=kf.points,
                              boxes=(Box(x0=x0, y0=y0, x1=x1, y1=y1),))
        if r.concept is not None:
            self.found[r.concept].setdefault(r.layer, number)
        return keyframe_prompt(kf, self.clip.width, self.clip.height)

    def _unions(self, matte: Matte) -> Matte:
        for union, members in self.plan.unions.items():
            stack = [matte.layers[m] for m in members]
            matte.layers[union] = np.maximum.reduce(stack)
            matte.scores[union] = max(matte.scores.get(m, 0.0) for m in members)
        return matte

    def close(self) -> None:
        self.tracker = None
        self.detector = None
        self.parts = None


def _inside(clip: ClipInfo, frame: int, what: str) -> None:
    if not clip.first <= frame <= clip.last:
        raise EngineError(f"object {what}: keyframe {frame} is outside the frame range "
                          f"{clip.first}-{clip.last}")
