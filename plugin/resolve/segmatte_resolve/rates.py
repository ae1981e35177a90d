"""Timeline frame rates and timecode, as Resolve writes them.

``Timeline.GetSetting("timelineFrameRate")`` is text: "23.976", "24", "25",
"29.97", "29.97 DF", "30", "47.952", "48", "50", "59.94", "59.94 DF", "60",
"119.88", "120" and the other project rates. A timecode counts frames at the
*nominal* rate (30 for 29.97); drop-frame timecode (";" before the frames, or
"DF" in the rate) skips frame numbers 0 and 1 (0-3 at 59.94) at the start of
every minute except each tenth, so "01:00:00;00" at 29.97 DF is frame 107892,
not 108000. Pure functions: tests check them without a host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:fps)?\s*(DF|NDF)?\s*$", re.IGNORECASE)
_TC = re.compile(r"^\s*(\d+)[:;.](\d\d)[:;.](\d\d)([:;.,])(\d+)\s*$")
NTSC = {23.976: 24000 / 1001, 29.97: 30000 / 1001, 47.952: 48000 / 1001, 59.94: 60000 / 1001,
        95.904: 96000 / 1001, 119.88: 120000 / 1001}
"""The x/1.001 rates Resolve writes with three or two decimals."""


class RateError(ValueError):
    """A rate or timecode that cannot be read; ``str()`` names the text."""


@dataclass(frozen=True)
class Rate:
    text: str
    fps: float
    """Frames per second, exactly (30000/1001 for "29.97")."""
    nominal: int
    """Frames per timecode second (30 for 29.97)."""
    drop: bool

    @property
    def dropped_per_minute(self) -> int:
        return self.nominal // 15 if self.drop else 0


def parse_rate(text: object) -> Rate:
    """``"29.97 DF"`` → Rate(29.97..., 30, drop=True); RateError for anything else."""
    m = _RATE.match(str(text if text is not None else ""))
    if not m:
        raise RateError(f"the timeline frame rate {text!r} is not a number of frames per second")
    value = float(m.group(1))
    if value <= 0:
        raise RateError(f"the timeline frame rate {text!r} is not positive")
    fps = next((exact for shown, exact in NTSC.items() if abs(value - shown) < 0.006), value)
    drop = (m.group(2) or "").upper() == "DF"
    nominal = int(round(fps))
    if drop and nominal not in (30, 60):
        raise RateError(f"drop-frame timecode exists at 29.97 and 59.94 only, not {text!r}")
    return Rate(str(text).strip(), fps, nominal, drop)


def with_drop(rate: Rate, drop: bool) -> Rate:
    """The same rate counted drop-frame (a ';' timecode) or not."""
    if drop == rate.drop or (drop and rate.nominal not in (30, 60)):
        return rate
    return Rate(rate.text, rate.fps, rate.nominal, drop)


def is_drop_timecode(tc: object) -> bool:
    m = _TC.match(str(tc or ""))
    return bool(m and m.group(4) in ";,")


def timecode_to_frames(tc: object, rate: Rate) -> int:
    """``"01:00:10:05"`` → frames since 00:00:00:00 at ``rate``; RateError if unreadable."""
    m = _TC.match(str(tc or ""))
    if not m:
        raise RateError(f"{tc!r} is not a timecode (hh:mm:ss:ff)")
    h, mi, s, f = int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(5))
    if mi > 59 or s > 59 or f >= rate.nominal:
        raise RateError(f"{tc} is not a valid timecode at {rate.text} fps")
    drop = rate.dropped_per_minute
    if drop and s == 0 and f < drop and mi % 10:
        raise RateError(f"{tc} does not exist in drop-frame timecode (frames 0-{drop - 1} of "
                        "minutes not divisible by ten are skipped)")
    minutes = h * 60 + mi
    frames = (minutes * 60 + s) * rate.nominal + f
    return frames - drop * (minutes - minutes // 10)


def frames_to_timecode(frames: int, rate: Rate) -> str:
    """The inverse of :func:`timecode_to_frames` (';' before the frames when drop-frame)."""
    if frames < 0:
        raise RateError(f"frame {frames} is before 00:00:00:00")
    drop, n = rate.dropped_per_minute, rate.nominal
    if drop:
        per_10min = n * 600 - drop * 9
        per_min = n * 60 - drop
        tens, rest = divmod(frames, per_10min)
        extra = 0 if rest < drop else drop * ((rest - drop) // per_min)
        frames += drop * 9 * tens + extra
    f = frames % n
    s = frames // n % 60
    mi = frames // (n * 60) % 60
    h = frames // (n * 3600)
    return f"{h:02d}:{mi:02d}:{s:02d}{';' if drop else ':'}{f:02d}"
