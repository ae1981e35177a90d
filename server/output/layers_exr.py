"""Several matte layers in one multi-channel OpenEXR file per frame.

The semantic engine yields one layer per class; besides one sequence per
layer (``name_<layer>.####.exr``, what every host reads), compositors that
handle multi-channel EXRs (Nuke, Fusion, Blender's compositor, Resolve's
Fusion page) are better served by one file per frame holding every class:
channels named ``<layer>.A`` (``sky.A``, ``person.A``), the EXR convention
for layer ``<layer>``'s alpha, so each class shows up as its own layer in the
host's channel picker.

Values are prepared as :func:`segmatte.server.output.exr.prepare_alpha` does
(clamped, NaN → 0, snapped within 1e-3 of 0 and 1) and the header carries the
same ``segmatte/…`` metadata. Written through OpenImageIO under a hidden
temporary name in the same folder and renamed into place
(:func:`segmatte.server.output.exr.create_temp`): never half-written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from .exr import (  # the private helpers too: same package, one writer discipline
    PREFIX,
    ExrError,
    MetaValue,
    _header_attrs,
    _metadata,
    oiio_write,
    prepare_alpha,
    write_via_temp,
)

CHANNEL = "A"
"""Each layer's channel: ``<layer>.A``."""

_LAYER_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def channel_name(layer: str) -> str:
    """``sky`` → ``sky.A``."""
    if not _LAYER_NAME.match(layer):
        raise ValueError(f"layer name {layer!r} must be letters, digits, '_' or '-' "
                         "(no dots or spaces: they would split the EXR channel name)")
    return f"{layer}.{CHANNEL}"


def write_layers(
    path: str | os.PathLike[str],
    layers: Mapping[str, np.ndarray],
    *,
    compression: str = "zip",
    datatype: str = "half",
    metadata: Mapping[str, MetaValue] | None = None,
    fsync: bool = False,
) -> str:
    """Write one frame's layers as one EXR with channels ``<layer>.A``; return its sha256.

    Layers keep their order in the channel list we hand to OpenImageIO (EXR
    itself stores channels sorted by name). All layers must have the same
    H×W shape. ``metadata`` as in :func:`~segmatte.server.output.exr.write_matte`.
    """
    path = Path(path)
    if not layers:
        raise ValueError("no layers to write")
    if datatype not in ("half", "float"):
        raise ValueError(f"datatype {datatype!r} is not 'half' or 'float'")
    names = [channel_name(layer) for layer in layers]
    planes = [prepare_alpha(a) for a in layers.values()]
    shape = planes[0].shape
    for layer, plane in zip(layers, planes, strict=True):
        if plane.shape != shape:
            raise ValueError(f"layer {layer!r} is {plane.shape}, not {shape} like the first")
    attrs = _header_attrs({**(metadata or {}), "layers": ",".join(layers)})
    pixels = np.ascontiguousarray(np.stack(planes, axis=2))

    return write_via_temp(
        path, lambda tmp: _write_oiio(tmp, pixels, names, compression.lower(), datatype, attrs),
        fsync=fsync)


def _write_oiio(path: Path, pixels: np.ndarray, names: list[str], compression: str,
                datatype: str, attrs: Mapping[str, MetaValue]) -> None:
    h, w, c = pixels.shape
    spec = oiio.ImageSpec(w, h, c, oiio.HALF if datatype == "half" else oiio.FLOAT)
    spec.channelnames = tuple(names)
    spec.alpha_channel = -1  # several alphas: none of them is "the" alpha
    spec.attribute("compression", compression)
    for key, value in attrs.items():
        spec.attribute(key, value)
    oiio_write(path, spec, pixels)


def read_layers(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, MetaValue]]:
    """The ``<layer>.A`` channels of an EXR as ``{layer: H×W float32}``, and its
    segmatte metadata (keys without the ``segmatte/`` prefix). Layers come in
    the order the writer was given them when the header records it."""
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise ExrError(f"{path} is not a readable OpenEXR file: {oiio.geterror()}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
        if pixels is None:
            raise ExrError(f"cannot read the pixels of {path}: {inp.geterror()}")
        pixels = np.asarray(pixels, np.float32).reshape(spec.height, spec.width, spec.nchannels)
        found = {}
        for i, name in enumerate(spec.channelnames):
            layer, dot, channel = name.rpartition(".")
            if dot and channel == CHANNEL:
                found[layer] = np.ascontiguousarray(pixels[:, :, i])
        meta = _metadata(spec)
        order = [n for n in str(meta.get("layers", "")).split(",") if n in found]
        ordered = {n: found[n] for n in order}
        ordered.update({n: a for n, a in found.items() if n not in ordered})
        return ordered, meta
    finally:
        inp.close()


__all__ = ["CHANNEL", "PREFIX", "channel_name", "read_layers", "write_layers"]
