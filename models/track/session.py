"""Interactive tracking: prompt a frame, see its matte, propagate, correct.

The Python API the server's ``session.open / prompt / propagate / close``
messages will map onto::

    s = TrackSession.open("sam2.1-tiny", clip, fetch)        # or TrackSession(model, processor, ...)
    m = s.add_prompt(120, "car", points=[Point(x=640, y=360)])  # one model call: a preview
    for matte in s.propagate("both"):                         # stream the clip
        ...
    m = s.add_prompt(180, "car", points=[Point(x=700, y=300, label=0)])   # a correction
    for matte in s.propagate():     # from 180 on, in the direction 180 was tracked in
        ...
    s.close()

Corrections: a prompt on a frame the object was already tracked on is applied
*with* the memory of that frame (``transformers`` — like SAM 2 — decodes it
with the memory-conditioned features), and by default the clicks add to the
ones already on that frame. :meth:`propagate` then re-runs from that frame in
the direction it was tracked in only; frames on the other side keep their
mattes. ``as_keyframe=True`` also turns the corrected frame into a
conditioning frame, so every later frame attends to it (SAM 2's
``add_all_frames_to_correct_as_cond``), not only the next few.

Memory: unlike the batch engine, a session keeps the small memory entries
(``maskmem_features`` in bf16, the object pointer, the tracking flags) of every
frame it has tracked, so a correction anywhere can re-propagate (about
0.5 MB per object per frame at 1024² input, stored on the host, not the GPU);
pixels and full-size logits are still dropped after each frame.

Cold clicks: :meth:`TrackSession.prepare` decodes and embeds a frame (the
image encoder, most of a click's cost) before anyone clicks — the server does
it on ``session.open`` for the host's current frame — and the session keeps
the image features of the last ``feature_frames`` frames prompted or prepared
(a small LRU, ~17 MB a frame at 1024² input in float32, on the state
device: the position encodings, the same for every frame, are shared), so a
click there runs only the prompt encoder and mask decoder. The features are
the model's own for that frame, so the matte is the same as without them.
Never compiled (``torch_compile`` is for batch jobs).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine import EngineError
from ..frames import ClipInfo, Frame, Matte
from ..prompts import Box, Point
from .options import TrackOptions
from .order import Direction
from .prompts_convert import ProcessorPrompt, points_prompt, read_mask
from .tracker import Tracker


class TrackSession:
    def __init__(self, model: Any, processor: Any, clip: ClipInfo, fetch: Callable[[int], Frame],
                 objects: Sequence[str] = (), options: TrackOptions | dict | None = None,
                 device: str = "cpu", feature_frames: int = 4) -> None:
        opts = options if isinstance(options, TrackOptions) else TrackOptions(**(options or {}))
        self.options = opts.model_copy(update={"torch_compile": False})
        if feature_frames < 1:
            raise ValueError("feature_frames must be at least 1")
        self.feature_frames = feature_frames
        self.features: OrderedDict[int, dict] = OrderedDict()
        """Frame → image features, most recently used last (at most ``feature_frames``)."""
        self._shared_pos: Any = None
        self.clip = clip
        self.fetch = fetch
        self.device = device
        self.tracker = Tracker(model, processor, width=clip.width, height=clip.height,
                               first=clip.first, layers=list(objects), options=self.options,
                               device=device, interactive=True, state_device="cpu")
        self.last_prompt: tuple[int, str] | None = None
        self._tracked_direction: dict[int, bool] = {}  # frame -> tracked in reverse

    @classmethod
    def open(cls, model_name: str, clip: ClipInfo, fetch: Callable[[int], Frame],
             objects: Sequence[str] = (), options: TrackOptions | dict | None = None,
             device: str = "cpu") -> TrackSession:
        from .loader import load

        opts = options if isinstance(options, TrackOptions) else TrackOptions(**(options or {}))
        model, processor = load(model_name, dtype=opts.dtype, device=device)
        return cls(model, processor, clip, fetch, objects, opts, device)

    # -- image features --------------------------------------------------------
    def prepare(self, frame: int) -> None:
        """Decode and embed ``frame`` now, so the first click there skips the image encoder."""
        if not self.clip.first <= frame <= self.clip.last:
            raise EngineError(f"frame {frame} is outside {self.clip.first}-{self.clip.last}")
        if frame in self.features:
            self.features.move_to_end(frame)
            return
        t = self.tracker
        self._keep(frame, t.embed(frame, t.pixels(self.fetch(frame))))

    def _keep(self, frame: int, features: dict) -> None:
        # The position encodings are the same for every frame (three quarters of the bytes:
        # 75 of 100 MB at 1024² in float32): kept frames share one copy.
        pos = features.get("vision_pos_embeds")
        shared = self._shared_pos
        if isinstance(pos, (list, tuple)) and shared is not None and len(pos) == len(shared) \
                and all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(pos, shared, strict=True)):
            features = {**features, "vision_pos_embeds": shared}
        elif isinstance(pos, (list, tuple)):
            self._shared_pos = pos
        self.features[frame] = features
        self.features.move_to_end(frame)
        while len(self.features) > self.feature_frames:
            self.features.popitem(last=False)

    def _pixels_or_features(self, frame: int) -> Any:
        """The frame's pixels for the next model call, or None when its features are kept."""
        kept = self.features.get(frame)
        if kept is None:
            return self.tracker.pixels(self.fetch(frame))
        self.features.move_to_end(frame)
        self.tracker.use_features(frame, kept)
        return None

    # -- prompts -------------------------------------------------------------
    def _layer(self, obj: str) -> None:
        t = self.tracker
        if obj not in t.obj_id:
            t.layers.append(obj)
            t.obj_id[obj] = len(t.layers)

    def add_prompt(self, frame: int, obj: str, *, points: Sequence[Point] = (),
                   box: Box | None = None, mask: str | Path | np.ndarray | None = None,
                   replace: bool = False, as_keyframe: bool = False,
                   size: tuple[int, int] | None = None) -> Matte:
        """Add prompts for ``obj`` on ``frame`` and return that frame's mattes (a preview).

        Points add to the object's earlier clicks on this frame unless
        ``replace``; a box or a mask replaces them (SAM takes the box first).
        ``size`` (height, width): the mattes at that size (a display-size
        preview), else at source size. ``mask``: a mask image's path, or an H×W
        bool array at source size (a text session's detection).
        """
        if not self.clip.first <= frame <= self.clip.last:
            raise EngineError(f"frame {frame} is outside {self.clip.first}-{self.clip.last}")
        if mask is not None and (points or box is not None):
            raise EngineError("a mask cannot be combined with points or a box in one prompt")
        if mask is None and not points and box is None:
            raise EngineError("a prompt needs points, a box or a mask")
        self._layer(obj)
        t = self.tracker
        if isinstance(mask, np.ndarray):
            prompt = ProcessorPrompt(input_masks=mask)
        elif mask is not None:
            prompt = ProcessorPrompt(input_masks=read_mask(mask, self.clip.width, self.clip.height))
        else:
            prompt = points_prompt(tuple(points), box, self.clip.width, self.clip.height)
        tracked = t.was_tracked(frame, obj)
        reverse = bool(tracked and tracked.get("reverse"))
        kept = frame in self.features
        out = t.prompt(frame, self._pixels_or_features(frame), obj, prompt,
                       clear_old=replace or box is not None, reverse=reverse)
        if not kept and (features := t.features(frame)) is not None:
            self._keep(frame, features)  # computed by this call: a click here again is cheap
        if as_keyframe and tracked is not None:
            self._promote(frame, obj)
        self.last_prompt = (frame, obj)
        return t.matte(frame, out, size)

    def _promote(self, frame: int, obj: str) -> None:
        """Move a corrected frame's output into the conditioning outputs."""
        self.tracker.promote(frame, obj)

    # -- propagation ---------------------------------------------------------
    def propagate(self, direction: Direction | None = None, start: int | None = None,
                  end: int | None = None) -> Iterator[Matte]:
        """Track from ``start`` (default: the last prompted frame) and yield each frame's mattes.

        ``direction`` defaults to the direction the start frame was tracked in
        (a correction re-propagates that way only), or ``both`` for a frame that
        was never tracked. ``end`` bounds a one-way run (default: the clip's end).
        """
        if start is None:
            if self.last_prompt is None:
                raise EngineError("nothing to propagate: add a prompt first")
            start = self.last_prompt[0]
        if direction is None:
            if start in self._tracked_direction:
                direction = "backward" if self._tracked_direction[start] else "forward"
            else:
                direction = "both"
        runs: list[tuple[range, bool]] = []
        if direction in ("backward", "both"):
            stop = self.clip.first if end is None or direction == "both" else end
            runs.append((range(start - 1, stop - 1, -1), True))
        if direction in ("forward", "both"):
            stop = self.clip.last if end is None or direction == "both" else end
            runs.append((range(start + 1, stop + 1), False))
        t = self.tracker
        for frames, reverse in runs:
            for number in frames:
                if not t.reachable(number, reverse):
                    yield t.matte(number, None)
                    continue
                out = t.step(number, self._pixels_or_features(number), reverse=reverse)
                self._tracked_direction[number] = reverse
                yield t.matte(number, out)

    def close(self) -> None:
        self.features.clear()
        self._shared_pos = None
        self.tracker.session.reset_inference_session()
