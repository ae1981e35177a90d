"""Turning decoded pixels into what engines see: float32 RGB in [0, 1].

Engines are trained on display-referred pictures (sRGB-like video frames), so
every plate is brought into that state the same, documented way:

* **Integer data** (8-bit video and PNG/JPEG, 10/12/16-bit video, DPX, TIFF):
  ``v / (2**bits - 1)`` where ``bits`` is the storage depth of the array
  (255 for uint8, 65535 for uint16; ffmpeg and OpenImageIO already scale 10-
  and 12-bit code values to the full 16-bit range). No curve is applied: the
  code values are taken as display-referred as they are. Log-encoded plates
  (Cineon/DPX printing density, camera log in ProRes) therefore look flat,
  which costs the models a little contrast but never clips.

* **Scene-linear float** (EXR half/float, Radiance HDR): a view transform,
  never a hard clip, so highlights keep their shape for the edge models:

  1. ``x = max(x, 0)``; NaN becomes 0, +inf becomes 1 after step 2.
  2. soft highlight roll-off above the knee ``K = 0.8`` (a rational shoulder)::

         r(x) = x                               for x <= K
         r(x) = K + (1 - K) * t / (1 + t)       for x > K,  t = (x - K) / (1 - K)

     ``r`` is continuous with slope 1 at the knee, strictly increasing, and
     approaches 1 only slowly (r(1) = 0.9, r(4) ≈ 0.988, r(100) ≈ 0.9996),
     so speculars and sky at 4 or 100 keep their shapes instead of merging
     into one clipped blob, as they would with an exponential shoulder.
  3. the sRGB OETF (IEC 61966-2-1)::

         s(r) = 12.92 * r                        for r <= 0.0031308
         s(r) = 1.055 * r ** (1 / 2.4) - 0.055   otherwise

  It is applied through a 65 536-entry table indexed by the half-float bit
  pattern (exact for half data, ~50× faster than evaluating it per pixel);
  32-bit float data is rounded to half first (relative error < 0.05 %,
  below one 10-bit code value after the transform; above 65 504 → 1.0).

  The primaries are taken as Rec.709/sRGB (no gamut mapping): an ACES AP0
  plate will look desaturated, which segmentation tolerates.

* **Display-referred float** (a float TIFF that is not tagged linear): clipped
  to [0, 1], because it is already a picture.
"""

from __future__ import annotations

import functools

import numpy as np

KNEE = 0.8
"""Linear value above which highlights roll off softly towards 1.0."""


def integer_to_unit(data: np.ndarray) -> np.ndarray:
    """uint8/uint16 code values → float32 in [0, 1] (divide by the type's max)."""
    # One pass (numpy casts in buffered blocks inside the multiply), the same
    # float32 product as astype-then-multiply, bit for bit: ~15 % less time.
    if data.dtype == np.uint8:
        return np.multiply(data, np.float32(1.0 / 255.0), dtype=np.float32)
    if data.dtype == np.uint16:
        return np.multiply(data, np.float32(1.0 / 65535.0), dtype=np.float32)
    if data.dtype == np.uint32:
        return (data.astype(np.float64) / 4294967295.0).astype(np.float32)
    raise TypeError(f"integer_to_unit takes unsigned integer data, not {data.dtype}")


def highlight_rolloff(x: np.ndarray, knee: float = KNEE) -> np.ndarray:
    """Step 2 of the view transform: identity below ``knee``, rational shoulder above."""
    x = np.asarray(x, dtype=np.float32)
    k = np.float32(knee)
    span = np.float32(1.0 - knee)
    with np.errstate(over="ignore"):
        t = np.maximum(x - k, 0.0) / span
        shoulder = k + span * (1 - 1 / (1 + t))  # = t / (1 + t), and 1 for t = inf
    return np.where(x > k, shoulder, x).astype(np.float32)


def srgb_oetf(r: np.ndarray) -> np.ndarray:
    """Step 3 of the view transform: linear [0, 1] → sRGB-encoded [0, 1]."""
    r = np.asarray(r, dtype=np.float32)
    low = r * np.float32(12.92)
    high = np.float32(1.055) * np.power(np.maximum(r, 0.0031308), np.float32(1.0 / 2.4)) - np.float32(0.055)
    return np.where(r <= 0.0031308, low, high).astype(np.float32)


def linear_to_display(x: np.ndarray, knee: float = KNEE) -> np.ndarray:
    """Scene-linear float → display-referred float32 in [0, 1] (the module's view transform)."""
    x = np.asarray(x, dtype=np.float32)
    x = np.nan_to_num(x, nan=0.0, posinf=np.inf, neginf=0.0)
    x = np.maximum(x, 0.0)
    return np.clip(srgb_oetf(highlight_rolloff(x, knee)), 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _half_table() -> np.ndarray:
    """linear_to_display of every half-float value, indexed by its bit pattern."""
    values = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    return linear_to_display(values)


def half_to_display(data: np.ndarray) -> np.ndarray:
    """The view transform of float data via the half table (float32 is rounded to half)."""
    half = np.asarray(data)
    if half.dtype != np.float16:
        with np.errstate(over="ignore"):
            half = half.astype(np.float16)
    return _half_table()[half.view(np.uint16)]


def to_display(data: np.ndarray, *, linear: bool) -> np.ndarray:
    """Any decoded array → float32 RGB in [0, 1], by the rules in the module docstring.

    ``linear`` says whether float data is scene-linear (EXR) or already a
    picture; it is ignored for integer data.
    """
    if data.dtype.kind == "u":
        out = integer_to_unit(data)
    elif data.dtype.kind == "f":
        out = half_to_display(data) if linear else np.clip(
            np.nan_to_num(data.astype(np.float32), nan=0.0), 0.0, 1.0)
    else:
        raise TypeError(f"cannot convert {data.dtype} pixels for display")
    return np.ascontiguousarray(out, dtype=np.float32)


def display_to_linear(x: np.ndarray, *, linear_source: bool, knee: float = KNEE) -> np.ndarray:
    """Display-referred [0, 1] (what engines see) back to linear light, float32.

    The inverse of the sRGB OETF; for a scene-linear source (``linear_source``)
    also of the highlight roll-off, so a colour an engine returns comes back
    near the plate's own values (display 1.0 is held at the value whose roll-off
    is one half-float step below 1, not infinity). For integer video the code
    values are read as sRGB/Rec.709-encoded, the usual reading of a compositor.
    """
    s = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    r = np.where(s <= np.float32(0.04045), s / np.float32(12.92),
                 ((s + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4))
    if linear_source:
        k = np.float32(knee)
        span = np.float32(1.0 - knee)
        u = np.minimum((r - k) / span, np.float32(1.0 - 2.0 ** -11))  # r(x) - K over (1 - K)
        r = np.where(r > k, k + span * u / (1 - u), r)
    return np.ascontiguousarray(r, dtype=np.float32)
