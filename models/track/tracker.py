"""The core both the batch engine and the interactive session drive.

It owns one ``transformers`` inference session in *streaming* mode
(``init_video_session()`` without a video), feeds it one frame at a time with
the documented calls (``add_inputs_to_inference_session`` then
``model(inference_session=..., frame=..., frame_idx=...)``), trims it after
every frame (:mod:`.streaming`) and turns the low-res logits into source-size
mattes (:mod:`.upsample`). Frame indices are source frame numbers minus the
clip's first frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..frames import Frame, Matte
from . import session_fields as F
from .loader import DTYPES
from .options import TrackOptions
from .prompts_convert import ProcessorPrompt
from .streaming import SessionTrimmer, memory_window
from .upsample import logits_to_source, to_matte


class Tracker:
    def __init__(self, model: Any, processor: Any, *, width: int, height: int, first: int,
                 layers: list[str], options: TrackOptions, device: str = "cpu",
                 interactive: bool = False, state_device: str | None = None) -> None:
        """``interactive`` keeps every tracked frame's memory entry (for corrections);
        ``state_device`` is where the session stores them (``"cpu"`` keeps a long
        interactive session's memory bank off the GPU; default: ``device``)."""
        self.model = model
        self.processor = processor
        self.width, self.height, self.first = width, height, first
        self.options = options
        self.device = device
        self.dtype = DTYPES[options.dtype]
        self.layers = list(layers)
        self.obj_id = {name: i + 1 for i, name in enumerate(self.layers)}
        self.state_device = state_device or device
        self.interactive = interactive
        self.restart()

    def restart(self) -> None:
        """A fresh inference session: nothing prompted, nothing tracked (a new pass)."""
        self.session = self.processor.init_video_session(
            inference_device=self.device, inference_state_device=self.state_device,
            dtype=self.dtype, max_vision_features_cache_size=self.options.max_feature_cache)
        self.trimmer = SessionTrimmer(memory_window(self.model.config),
                                      keep_tracked=self.interactive,
                                      keep_outputs_everywhere=self.interactive)
        self.cond_frames: set[int] = set()

    @property
    def has_objects(self) -> bool:
        return bool(self.session.obj_ids)

    def forget_tracking(self) -> None:
        """Keep only the keyframes' memory (a segment starts; see :mod:`.segments`)."""
        F.forget_tracking(self.session)

    def promote(self, number: int, layer: str) -> None:
        """A corrected frame becomes a conditioning frame of ``layer``."""
        idx = self.index(number)
        if F.promote(self.session, self.session.obj_id_to_idx(self.obj_id[layer]), idx):
            self.cond_frames.add(idx)

    # -- input ---------------------------------------------------------------
    def pixels(self, frame: Frame) -> torch.Tensor:
        """The processor's own resize + normalisation of a float [0, 1] RGB frame."""
        if frame.image.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame {frame.number} is {frame.width}x{frame.height}, "
                             f"the clip is {self.width}x{self.height}")
        image = np.ascontiguousarray(frame.image, dtype=np.float32)
        # float input, so no 8-bit rounding after the resize; resize on the GPU when there is one
        enc = self.processor(images=image, do_rescale=False, device=self.device,
                             return_tensors="pt")
        return enc["pixel_values"][0].to(self.device, dtype=self.dtype)

    @torch.inference_mode()
    def embed(self, number: int, pixels: torch.Tensor) -> dict:
        """The image features of a frame, as the model's next call on it would compute them."""
        return F.embed_frame(self.model, self.session, self.index(number), pixels)

    def use_features(self, number: int, features: dict) -> None:
        """The next call on ``number`` reads ``features`` instead of running the image encoder."""
        F.use_features(self.session, self.index(number), features)

    def features(self, number: int) -> dict | None:
        """The image features the session holds for ``number`` (after a call on it), if any."""
        return F.vision_cache(self.session).get(self.index(number))

    def index(self, number: int) -> int:
        return number - self.first

    # -- model calls ---------------------------------------------------------
    @torch.inference_mode()
    def prompt(self, number: int, pixels: torch.Tensor | None, layer: str, prompt: ProcessorPrompt,
               *, clear_old: bool = True, reverse: bool = False) -> Any:
        idx = self.index(number)
        kwargs = prompt.kwargs()
        if "input_masks" not in kwargs:
            kwargs["original_size"] = (self.height, self.width)
            kwargs["clear_old_inputs"] = clear_old
        self.processor.add_inputs_to_inference_session(
            inference_session=self.session, frame_idx=idx, obj_ids=self.obj_id[layer], **kwargs)
        out = self.model(inference_session=self.session, frame=pixels, frame_idx=idx,
                         reverse=reverse)
        if F.is_cond(self.session, self.session.obj_id_to_idx(self.obj_id[layer]), idx):
            self.cond_frames.add(idx)
        self.trimmer.trim(self.session, idx)
        self.trimmer.drop_pixels(self.session)
        return out

    @torch.inference_mode()
    def step(self, number: int, pixels: torch.Tensor | None, *, reverse: bool) -> Any:
        idx = self.index(number)
        out = self.model(inference_session=self.session, frame=pixels, frame_idx=idx,
                         reverse=reverse)
        self.trimmer.trim(self.session, idx)
        self.trimmer.drop_pixels(self.session)
        return out

    def reachable(self, number: int, reverse: bool) -> bool:
        """Whether a conditioning frame lies behind ``number`` in the travel direction."""
        idx = self.index(number)
        return any((k >= idx) if reverse else (k <= idx) for k in self.cond_frames)

    def was_tracked(self, number: int, layer: str) -> dict | None:
        """The tracking flags of an object on a frame (None: never tracked there)."""
        return F.tracked_flags(self.session, self.obj_id[layer], self.index(number))

    # -- output --------------------------------------------------------------
    def matte(self, number: int, out: Any | None, size: tuple[int, int] | None = None) -> Matte:
        """Source-size mattes for every layer (or ``size`` = (height, width): a preview at
        display size, upsampled once from the model's logits), with the score per layer."""
        height, width = size or (self.height, self.width)
        layers: dict[str, np.ndarray] = {}
        scores: dict[str, float] = {}
        logits_by_id: dict[int, tuple[torch.Tensor, float]] = {}
        if out is not None:
            probs = torch.sigmoid(out.object_score_logits.float().reshape(-1))
            full = logits_to_source(out.pred_masks, height, width, mode=self.options.upsample)
            for i, obj_id in enumerate(out.object_ids):
                logits_by_id[obj_id] = (full[i], float(probs[i]))
        for name in self.layers:
            got = logits_by_id.get(self.obj_id[name])
            if got is None or got[1] < self.options.absent_score:
                layers[name] = np.zeros((height, width), np.float32)
                scores[name] = got[1] if got is not None else 0.0
            else:
                layers[name] = to_matte(got[0], self.options.mask_threshold)
                scores[name] = got[1]
        return Matte(number=number, layers=layers, scores=scores)
