"""Reading a clean plate image for the difference key."""

from __future__ import annotations

import numpy as np

from ..engine import EngineError


def read_plate(path: str) -> np.ndarray:
    """An image file as ``H×W×3`` float32 RGB in [0, 1], read with OpenImageIO.

    The first three channels are taken as RGB; a one- or two-channel image
    (grey, grey + alpha) is repeated into RGB. Values are clamped to [0, 1]
    and not otherwise transformed, so the plate should be encoded like the
    frames the reader delivers (display-referred: PNG, TIFF, JPEG, DPX); for a
    plate from the source itself, give its frame number instead.
    """
    import OpenImageIO as oiio  # local: only the difference key with a file needs it

    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise EngineError(f"cannot read the clean plate {path!r}: {oiio.geterror() or 'unreadable'}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, "float")
    finally:
        inp.close()
    if pixels is None:
        raise EngineError(f"cannot read the clean plate {path!r}: {oiio.geterror() or 'no pixels'}")
    pixels = np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, spec.nchannels)
    rgb = pixels[..., :3] if spec.nchannels >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    return np.clip(np.nan_to_num(rgb), 0.0, 1.0).astype(np.float32)
