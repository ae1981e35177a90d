"""Frame rates of edits and media: exact rationals, drop frame, and timecode as frame counts.

Editors say "23.976" and "29.97"; those rates are really 24000/1001 and
30000/1001, and a float that is off in the fourth decimal shifts a shot by
frames an hour into a reel. So every rate is snapped to the exact rational
first (:func:`snap`). Timecode counts *frames*, not seconds: ``01:00:00:00``
at 23.976 and at 24 are the same frame 86400, which is why an edit at 24 on
23.976 media must compare frame counts, never rescale by real time.

OpenTimelineIO knows SMPTE timecode only (23.976, 24, 25, 29.97, 30, 48,
50, 59.94, 60, ...); a 10, 12 or 15 fps clip's timecode is counted here by
plain arithmetic (:func:`tc_to_frames`), the same way, without drop frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

NTSC = {24: Fraction(24000, 1001), 30: Fraction(30000, 1001), 48: Fraction(48000, 1001),
        60: Fraction(60000, 1001), 120: Fraction(120000, 1001)}
"""Nominal rate → the NTSC (x1000/1001) rate that is sold under a decimal name."""
COMMON = (24, 25, 30, 48, 50, 60)
"""Rates an EDL whose rate is unknown is tried at, smallest first that fits its timecodes."""
DROP_FRAME_NOMINAL = (30, 60)
"""Drop-frame timecode exists for 29.97 and 59.94 only."""
TIMECODE_RE = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.])(\d{1,3})$")


class RateError(ValueError):
    """A rate or timecode that cannot be used; ``str()`` is one sentence for the user."""


def snap(fps: float | Fraction | str) -> Fraction:
    """The exact rate a decimal or float stands for (23.976 → 24000/1001, 25.0 → 25).

    Raises RateError for zero, negative or unreadable rates.
    """
    try:
        value = Fraction(str(fps)) if not isinstance(fps, Fraction) else fps
    except (ValueError, ZeroDivisionError):
        raise RateError(f"{fps!r} is not a frame rate (give e.g. 24, 25, 29.97 or 23.976)") from None
    if value <= 0 or value > 1000:
        raise RateError(f"{fps} is not a frame rate (give e.g. 24, 25, 29.97 or 23.976)")
    nearest = round(value)
    if abs(value - nearest) < Fraction(1, 1000):
        return Fraction(nearest)
    ntsc = NTSC.get(nearest)
    if ntsc is not None and abs(value - ntsc) < Fraction(1, 200):
        return ntsc
    return value.limit_denominator(1001)


@dataclass(frozen=True)
class EditRate:
    """A rate as an edit counts it: exact fps, and whether its timecode drops frames."""

    fps: Fraction
    drop: bool = False

    @property
    def nominal(self) -> int:
        """Frames per timecode second (30 for 29.97)."""
        return round(self.fps)

    @property
    def value(self) -> float:
        return float(self.fps)

    @property
    def smpte(self) -> bool:
        """Whether OpenTimelineIO's timecode functions take this rate."""
        import opentimelineio as otio

        return bool(otio.opentime.RationalTime.is_valid_timecode_rate(self.value))

    @property
    def label(self) -> str:
        if self.fps.denominator == 1:
            text = str(self.fps.numerator)
        else:
            text = f"{float(self.fps):.3f}".rstrip("0").rstrip(".")
        if self.nominal in DROP_FRAME_NOMINAL and self.fps.denominator != 1:
            text += " DF" if self.drop else " NDF"
        return text

    def __str__(self) -> str:
        return f"{self.label} fps"


def edit_rate(fps: float | Fraction | str, drop: bool | None = None) -> EditRate:
    """An :class:`EditRate` from a number; drop frame only where it exists (29.97, 59.94)."""
    exact = snap(fps)
    can_drop = exact.denominator != 1 and round(exact) in DROP_FRAME_NOMINAL
    return EditRate(exact, bool(drop) and can_drop)


def parse_timecode(tc: str) -> tuple[int, int, int, int, bool]:
    """``HH:MM:SS:FF`` → (h, m, s, f, drop); ``;`` (or ``.``) before the frames means drop frame."""
    m = TIMECODE_RE.match(tc.strip())
    if not m:
        raise RateError(f"{tc!r} is not a timecode (HH:MM:SS:FF)")
    h, mi, s, sep, f = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), int(m.group(5))
    return h, mi, s, f, sep in ";."


def tc_to_frames(tc: str, rate: EditRate) -> int:
    """Frame count of a timecode at ``rate``; ``;`` or ``rate.drop`` count drop frame.

    Raises RateError when the frames field does not fit the rate (``:24`` at 24).
    """
    h, m, s, f, semi = parse_timecode(tc)
    nominal = rate.nominal
    if f >= nominal or m > 59 or s > 59:
        raise RateError(f"timecode {tc} does not exist at {rate} (frames go to {nominal - 1})")
    drop = (semi or rate.drop) and nominal in DROP_FRAME_NOMINAL
    frames = ((h * 60 + m) * 60 + s) * nominal + f
    if drop:
        dropped = 2 * nominal // 30  # 2 at 29.97, 4 at 59.94
        minutes = h * 60 + m
        frames -= dropped * (minutes - minutes // 10)
    return frames


def frames_to_tc(frames: int, rate: EditRate) -> str:
    """Timecode of a frame count at ``rate`` (``;`` before the frames when drop frame)."""
    nominal = rate.nominal
    n = int(frames)
    sign = "-" if n < 0 else ""
    n = abs(n)
    if rate.drop and nominal in DROP_FRAME_NOMINAL:
        dropped = 2 * nominal // 30
        per_10min = nominal * 600 - dropped * 9
        per_min = nominal * 60 - dropped
        tens, rest = divmod(n, per_10min)
        n += dropped * 9 * tens
        if rest >= dropped:
            n += dropped * ((rest - dropped) // per_min)
    f = n % nominal
    s = n // nominal % 60
    m = n // (nominal * 60) % 60
    h = n // (nominal * 3600)
    sep = ";" if rate.drop else ":"
    return f"{sign}{h:02d}:{m:02d}:{s:02d}{sep}{f:02d}"


def same_clock(a: Fraction, b: Fraction) -> bool:
    """Whether two rates count timecode alike (24 and 23.976; 30 and 29.97): then
    frame numbers, not seconds, line an edit up with its media."""
    return round(a) == round(b)


def guess_rate(max_frames_field: int, drop: bool | None, media: Fraction | None) -> EditRate:
    """The rate of an EDL that does not say: the media's when its timecodes fit it,
    else the smallest common rate that holds every frames field (drop frame: 29.97
    or 59.94)."""
    if media is not None and round(media) > max_frames_field:
        return edit_rate(media, drop if drop is not None else False)
    if drop:
        return edit_rate(NTSC[30] if max_frames_field < 30 else NTSC[60], True)
    for nominal in COMMON:
        if nominal > max_frames_field:
            return edit_rate(nominal)
    raise RateError(f"timecodes with frames up to {max_frames_field} fit no common frame rate; "
                    "pass --rate")
