"""The finishing stage of the pipeline: frame + engine matte in, finished mattes out.

Order (FinishOptions' docstring): combine → refine → reduce chatter →
threshold / choke / feather / clip / invert. Refine and reduce chatter need the
source picture, which is why the stage takes the frame with the matte; reduce
chatter looks ``chatter_radius`` frames ahead, so :meth:`FinishStage.push`
may return nothing for a while and :meth:`FinishStage.flush` returns the rest
at the end of a run. Memory is bounded by that window.
"""

from __future__ import annotations

from segmatte.models.frames import Frame, Matte

from .finisher import Finisher
from .options import FinishOptions


class FinishStage:
    def __init__(self, options: FinishOptions | None = None, device: str = "cpu") -> None:
        self.options = options = options or FinishOptions()
        self.device = device
        self._combine = Finisher(FinishOptions(combine=options.combine), device) \
            if options.combine else None
        self._rest = Finisher(options.model_copy(update={
            "combine": None, "refine": "none", "chatter": 0.0}), device)
        self._refiner = None
        if options.refine == "vitmatte":
            from segmatte.models.weights import cache

            from .refine import ViTMatteRefiner

            self._refiner = ViTMatteRefiner.from_pretrained(
                cache.require(options.refine_model), device=device, band=options.refine_band,
                radius=options.refine_radius)
        self._chatter = None
        if options.chatter > 0:
            from .temporal import ReduceChatter

            self._chatter = ReduceChatter(options.chatter, options.chatter_radius)

    @property
    def needs_frames(self) -> bool:
        """Whether :meth:`push` uses the frame's picture (else ``frame`` may be None)."""
        return self.options.refine != "none" or self._chatter is not None

    def push(self, frame: Frame | None, matte: Matte) -> list[Matte]:
        """Finish one matte; returns the mattes ready now, in order."""
        if self._combine is not None:
            matte = self._combine.apply(matte)
        if self.options.refine != "none":
            from .refine import refine_matte

            assert frame is not None
            matte = refine_matte(frame, matte, self._refiner, band=self.options.refine_band,
                                 radius=self.options.refine_radius, eps=self.options.refine_eps,
                                 solve=self.options.refine_solve, device=self.device) \
                if self._refiner is None else refine_matte(frame, matte, self._refiner)
        if self._chatter is None:
            return [self._rest.apply(matte)]
        assert frame is not None
        return [self._rest.apply(m) for m in self._chatter.push(frame.image, matte)]

    def flush(self) -> list[Matte]:
        """The mattes still held at the end of a run (reduce chatter's look-ahead)."""
        if self._chatter is None:
            return []
        return [self._rest.apply(m) for m in self._chatter.flush()]
