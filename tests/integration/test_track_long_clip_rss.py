"""Long clips at flat memory: 2 000 frames of 1080p through the track engine.

The upstream video predictor keeps every frame (12.6 MB each at 1024²) and
every output; ours streams, so peak RSS for a 2 000-frame clip must stay
within 1.15× of a 200-frame clip's. Each length runs in a fresh process
(track_memory_probe.py) so each peak is its own. Model: a tiny randomly
initialised SAM 2 video model of the real transformers class.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("track_memory_probe.py")


def peak_rss_kib(frames: int) -> int:
    out = subprocess.run([sys.executable, str(PROBE), str(frames)], capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.strip().splitlines()[-1])


def test_peak_memory_does_not_grow_with_clip_length():
    short = peak_rss_kib(200)
    long = peak_rss_kib(2000)
    assert long <= 1.15 * short, f"200 frames: {short} KiB, 2000 frames: {long} KiB"
