"""The person engine with real weights on real footage (vtest.avi, pedestrians).

The check is against an independent, crude foreground: pixels that differ
from the clip's temporal median (the static background) — the walking people
and little else. The engine's matte must put its mass on them and leave the
large static background at zero. Needs the test assets; skips without them.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.person.weights import assets_root

ASSETS = assets_root()
VIDEO = ASSETS / "vtest.avi"
WEIGHTS = ASSETS / "rvm" / "rvm.json"

pytestmark = [
    pytest.mark.assets,
    pytest.mark.skipif(not VIDEO.is_file() or not WEIGHTS.is_file(),
                       reason=f"vtest.avi or the RVM weights absent from {ASSETS}: "
                              "run python3 install/test_assets.py"),
]

SIZE = (384, 288)  # half of 768×576: fast on a CPU, people still ~40 px tall


def _frames(count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    out = []
    for _ in range(count):
        ok, bgr = cap.read()
        assert ok
        out.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), SIZE, interpolation=cv2.INTER_AREA))
    cap.release()
    return out


def test_person_matte_covers_the_walkers_and_not_the_background() -> None:
    from segmatte.models.person.engine_person import PersonEngine

    frames = _frames(200)
    background = np.median(np.stack(frames[::5]), axis=0)
    engine = PersonEngine({"weights": str(WEIGHTS), "downsample_ratio": 1.0})
    engine.open(ClipInfo(SIZE[0], SIZE[1], 10.0, 100, 111))
    for n in range(100, 112):  # 12 frames: the recurrent state settles
        matte = engine.matte(Frame(n, frames[n].astype(np.float32) / 255))
    alpha = matte.layer("matte")
    assert alpha.shape == (SIZE[1], SIZE[0]) and alpha.dtype == np.float32

    moving = (np.abs(frames[111].astype(np.float32) - background).max(axis=2) > 40).astype(np.uint8)
    moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    near = cv2.dilate(moving, np.ones((15, 15), np.uint8)).astype(bool)
    core = cv2.erode(cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)),
                     np.ones((3, 3), np.uint8)).astype(bool)
    assert core.sum() > 500  # the crude mask found the walkers

    precision = alpha[near].sum() / alpha.sum()  # alpha mass on or next to movers
    recall = alpha[core].mean()  # movers' cores covered
    assert precision > 0.85, precision
    assert recall > 0.5, recall
    assert alpha[~near].mean() < 0.005
    assert (alpha[~near] > 0.5).mean() < 0.002
    # The whole lower half is lawn and road with nobody on it in these frames.
    assert alpha[SIZE[1] * 2 // 3:].max() < 0.1
    assert engine.resets == [100]
