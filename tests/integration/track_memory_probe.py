"""Stream N synthetic 1080p frames through the track engine; print peak RSS (KiB).

Run as a subprocess by test_track_memory.py, so each clip length gets a fresh
process and its own peak. Frames are made on the fly (a disc moving over a
gradient), never held: whatever memory grows with N is the engine's.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np
import torch

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Keyframe, ObjectPrompts, Point
from segmatte.models.track.engine_track import TrackEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # tiny test models
from tiny_track import tiny_model, tiny_processor  # noqa: E402

W, H = 1920, 1080


def frames(n: int):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    base = np.stack([xx / W, yy / H, np.full_like(xx, 0.3)], -1)
    for i in range(n):
        cx, cy = W * (0.3 + 0.4 * (i % 50) / 50), H * 0.5
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (H * 0.15) ** 2
        image = base.copy()
        image[disc] = (0.9, 0.5, 0.2)
        yield Frame(i, image)


def main() -> None:
    n = int(sys.argv[1])
    torch.set_num_threads(1)
    engine = TrackEngine(parts=(tiny_model(), tiny_processor()))
    obj = ObjectPrompts(id="disc", keyframes=(Keyframe(frame=0, points=(Point(x=W * 0.3, y=H * 0.5),)),))
    engine.open(ClipInfo(W, H, 25.0, 0, n - 1), [obj])
    count = 0
    for matte in engine.stream(frames(n)):
        assert matte.layer().shape == (H, W)
        count += 1
    engine.close()
    assert count == n
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    main()
