"""The foreground layer: the subject's own colour, premultiplied, as a compositor needs it.

Engines that separate a subject from its background also estimate its colour
where it is mixed with the background (the person engine's RVM foreground,
the key engine's despilled plate). With the engine option ``foreground`` a
job writes it beside the matte as ``name_foreground.####.exr``: RGBA, half
float (or float), the same compression and ``segmatte/…`` header as the
mattes, written under a temporary name and renamed into place like them.

- **A** is the matte of the same frame exactly as the matte file holds it
  (the same clamp and snap, :func:`~segmatte.server.output.exr.prepare_alpha`,
  after finishing), so the two line up pixel for pixel.
- **RGB** is premultiplied by that alpha (``C·A``, the OpenEXR convention;
  0 where the matte is 0) in linear light: the engine's display-referred
  colour goes back through :func:`~segmatte.server.media.colour.display_to_linear`.
  For video (values ≤ 1) every pixel has ``R, G, B ≤ A``; a scene-linear plate's
  highlights may exceed 1 as they did in the plate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from segmatte.server.media.colour import display_to_linear

from .exr import (  # the private helpers too: same package, one writer discipline
    MetaValue,
    _header_attrs,
    oiio_write,
    prepare_alpha,
    write_via_temp,
)

LAYER = "foreground"
"""The key of the foreground file in a frame's manifest record, and the name's suffix."""

CHANNELS = ("foreground.R", "foreground.G", "foreground.B")
"""The matte layers an engine yields the (un-premultiplied, display-referred) colour in."""


def take_colour(layers: dict[str, np.ndarray]) -> np.ndarray | None:
    """Remove the foreground channels from an engine's layers; H×W×3, or None."""
    if not all(c in layers for c in CHANNELS):
        return None
    return np.stack([layers.pop(c) for c in CHANNELS], axis=-1)


def premultiplied(colour: np.ndarray, alpha: np.ndarray, *, linear_source: bool) -> np.ndarray:
    """H×W×4 float32: linear ``C·A`` and the prepared alpha (see the module docstring)."""
    a = prepare_alpha(alpha)
    c = np.asarray(colour, dtype=np.float32)
    if c.shape != (*a.shape, 3):
        raise ValueError(f"the foreground is {c.shape}, not {(*a.shape, 3)} like its matte")
    rgb = np.maximum(np.nan_to_num(display_to_linear(c, linear_source=linear_source)), 0.0)
    out = np.empty((*a.shape, 4), np.float32)
    np.multiply(rgb, a[:, :, None], out=out[:, :, :3])
    out[:, :, 3] = a
    return out


def write_foreground(
    path: str | os.PathLike[str],
    colour: np.ndarray,
    alpha: np.ndarray,
    *,
    linear_source: bool = False,
    compression: str = "zip",
    datatype: str = "half",
    metadata: Mapping[str, MetaValue] | None = None,
    fsync: bool = False,
) -> str:
    """Write one frame's premultiplied RGBA foreground atomically; return its sha256."""
    path = Path(path)
    if datatype not in ("half", "float"):
        raise ValueError(f"datatype {datatype!r} is not 'half' or 'float'")
    pixels = premultiplied(colour, alpha, linear_source=linear_source)
    h, w, _ = pixels.shape
    spec = oiio.ImageSpec(w, h, 4, oiio.HALF if datatype == "half" else oiio.FLOAT)
    spec.channelnames = ("R", "G", "B", "A")
    spec.alpha_channel = 3
    spec.attribute("compression", compression.lower())
    for key, value in _header_attrs({**(metadata or {}), "premultiplied": 1}).items():
        spec.attribute(key, value)
    return write_via_temp(path, lambda tmp: oiio_write(tmp, spec, pixels), fsync=fsync)


def read_foreground(path: str | os.PathLike[str]) -> np.ndarray:
    """H×W×4 float32 RGBA of a foreground file (for tests and tools)."""
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise OSError(f"{path} is not a readable OpenEXR file: {oiio.geterror()}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
        return np.asarray(pixels, np.float32).reshape(spec.height, spec.width, spec.nchannels)
    finally:
        inp.close()
