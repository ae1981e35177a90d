"""Job prompts (source pixels) to what ``Sam2VideoProcessor`` expects.

The processor takes points and boxes in *original image pixels* and scales
them to its square input itself (``_normalize_coordinates``: x·S/W, y·S/H) —
so the conversion here is nesting, validation and the mask read, never a
second coordinate transform. Coordinates are source pixels, top-left origin
(see ``segmatte.models.prompts``), which is also SAM's convention.

One call of ``add_inputs_to_inference_session`` takes one kind of prompt for
an object on a frame: points and at most one box together, or a mask alone
(the processor refuses masks mixed with points/boxes, and SAM's prompt encoder
takes a single box per object).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine import EngineError
from ..prompts import Box, Keyframe, Point


@dataclass
class ProcessorPrompt:
    """Keyword arguments for one ``add_inputs_to_inference_session`` call (one object)."""

    input_points: list | None = None
    input_labels: list | None = None
    input_boxes: list | None = None
    input_masks: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def kwargs(self) -> dict:
        out = {k: v for k, v in (("input_points", self.input_points),
                                 ("input_labels", self.input_labels),
                                 ("input_boxes", self.input_boxes),
                                 ("input_masks", self.input_masks)) if v is not None}
        out.update(self.extra)
        return out


def _check_inside(x: float, y: float, width: int, height: int, what: str) -> None:
    if not (0 <= x <= width and 0 <= y <= height):
        raise EngineError(f"{what} ({x:g}, {y:g}) lies outside the {width}x{height} frame")


def points_prompt(points: tuple[Point, ...] | list[Point], box: Box | None,
                  width: int, height: int) -> ProcessorPrompt:
    """Points (± labels) and an optional box for one object on one frame."""
    out = ProcessorPrompt()
    if points:
        for p in points:
            _check_inside(p.x, p.y, width, height, "point")
        out.input_points = [[[[float(p.x), float(p.y)] for p in points]]]
        out.input_labels = [[[int(p.label) for p in points]]]
    if box is not None:
        _check_inside(box.x0, box.y0, width, height, "box corner")
        _check_inside(box.x1, box.y1, width, height, "box corner")
        out.input_boxes = [[[float(box.x0), float(box.y0), float(box.x1), float(box.y1)]]]
    return out


def read_mask(path: str | Path, width: int, height: int) -> np.ndarray:
    """Read a mask image as an H×W bool array at source size (white/ >= 0.5 = object).

    OpenImageIO reads EXR/float masks; Pillow is the fallback for 8/16-bit
    images. A mask of another size is resized (nearest) to the source size so
    the processor's own resize to its square input stays the only resampling
    that matters.
    """
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"mask {path} does not exist")
    data = None
    try:
        import OpenImageIO as oiio  # type: ignore[import-not-found]

        inp = oiio.ImageInput.open(str(path))
        if inp is not None:
            try:
                data = np.asarray(inp.read_image(format="float"), dtype=np.float32)
            finally:
                inp.close()
    except ImportError:
        data = None
    if data is None:
        from PIL import Image

        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I"):
                arr = np.asarray(im, dtype=np.float32) / 65535.0
            else:
                arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        data = arr
    if data.ndim == 3:
        # alpha if present (a matte written by a host), else the first channel
        data = data[..., 3] if data.shape[2] == 4 else data[..., 0]
    if data.shape != (height, width):
        from PIL import Image

        im = Image.fromarray((data >= 0.5).astype(np.uint8) * 255)
        data = np.asarray(im.resize((width, height), Image.NEAREST), dtype=np.float32) / 255.0
    mask = data >= 0.5
    if not mask.any():
        raise EngineError(f"mask {path} is empty (no pixel >= 0.5)")
    return mask


def keyframe_prompt(kf: Keyframe, width: int, height: int,
                    base_dir: str | Path | None = None) -> ProcessorPrompt:
    """Convert one keyframe of one object to processor inputs."""
    if kf.text:
        raise EngineError(f"keyframe {kf.frame}: the track engine takes points, boxes or a mask, "
                          "not text (use a text-promptable engine)")
    if kf.mask:
        if kf.points or kf.boxes:
            raise EngineError(f"keyframe {kf.frame}: a mask cannot be combined with points or boxes "
                              "on the same frame; put them on separate keyframes or objects")
        path = Path(kf.mask)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        return ProcessorPrompt(input_masks=read_mask(path, width, height))
    if len(kf.boxes) > 1:
        raise EngineError(f"keyframe {kf.frame}: SAM takes one box per object per frame "
                          f"(got {len(kf.boxes)}); use one object per box")
    return points_prompt(kf.points, kf.boxes[0] if kf.boxes else None, width, height)
