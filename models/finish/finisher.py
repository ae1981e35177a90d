"""The finisher: applies a job's :class:`FinishOptions` to every matte.

It sits between the engine and the writer. All layers of a matte go to the
device as one ``N×H×W`` stack, so a frame costs one transfer each way and the
ops run batched; the result comes back as float32 numpy in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from ..frames import Matte
from . import ops
from .options import FinishOptions

COMBINED_LAYER = "matte"
"""The name of the single layer that ``combine`` produces."""


class Finisher:
    """Apply finishing options to mattes, on ``device``.

    The order is fixed (as :class:`FinishOptions` documents) and each step is
    skipped when its option is at its neutral value:

    1. combine   — all layers, in the matte's order, into one layer ``"matte"``
    2. threshold — :func:`ops.threshold` at ``threshold`` with ``softness``
       (``softness`` alone, with no ``threshold``, does nothing)
    3. choke     — :func:`ops.choke` by ``choke`` pixels (+ shrinks, − grows)
    4. feather   — :func:`ops.feather` with sigma ``feather``
    5. clip      — :func:`ops.clip` to ``clip_black`` .. ``clip_white``
    6. invert    — :func:`ops.invert`

    Without ``combine``, layers keep their names, order and scores. A combined
    layer's score is the lowest of the layers' scores (the weakest object sets
    the frame's confidence), if any layer had one.
    """

    def __init__(self, options: FinishOptions | None = None, device: str | torch.device = "cpu"):
        self.options = options if options is not None else FinishOptions()
        self.device = torch.device(device)

    @property
    def is_identity(self) -> bool:
        """True when :meth:`apply` returns its input untouched."""
        return self.options.is_identity

    def apply(self, matte: Matte) -> Matte:
        """The finished matte: a new :class:`Matte` (or ``matte`` itself when nothing is to do)."""
        if self.is_identity or not matte.layers:
            return matte
        names = list(matte.layers)
        shapes = {np.shape(a) for a in matte.layers.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(
                f"frame {matte.number}: layers must be H×W arrays of one size, "
                f"got shapes {sorted(shapes)}"
            )
        stack = ops.as_tensor(np.stack([matte.layers[n] for n in names]), self.device)
        out = self.apply_tensor(stack)
        result = ops.as_numpy(out)
        if self.options.combine is not None:
            scores = {}
            if matte.scores:
                scores[COMBINED_LAYER] = float(min(matte.scores.values()))
            return Matte(matte.number, {COMBINED_LAYER: result[0]}, scores)
        return Matte(matte.number, dict(zip(names, result, strict=True)), dict(matte.scores))

    def apply_tensor(self, stack: torch.Tensor) -> torch.Tensor:
        """Finish an ``N×H×W`` stack of layers on its device.

        Returns ``N×H×W``, or ``1×H×W`` when the options combine the layers.
        """
        o = self.options
        x = stack
        if o.combine is not None:
            x = ops.combine(x, o.combine).unsqueeze(0)
        if o.threshold is not None:
            x = ops.threshold(x, o.threshold, o.softness)
        if o.choke:
            x = ops.choke(x, o.choke)
        if o.feather:
            x = ops.feather(x, o.feather)
        if (o.clip_black, o.clip_white) != (0.0, 1.0):
            x = ops.clip(x, o.clip_black, o.clip_white)
        if o.invert:
            x = ops.invert(x)
        return x.clamp(0.0, 1.0)
