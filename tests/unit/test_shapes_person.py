"""Shapes of real person mattes: the person engine (RVM weights) on vtest.avi at half size.

The mattes are the engine's own, on real pedestrians; the shapes must stand
for them (IoU ≥ 0.97 against the thresholded matte, less the specks
``--min-area`` drops, on every frame), keep one point count per segment, and
on a static object not jitter by more than a pixel.

The static object is the real matte of one frame held still with chatter
added (independent noise each frame, as a matte of a locked-off shot
flickers): the engine itself cannot give one — fed the same picture again and
again, RVM's recurrent state decides the motionless person is background and
fades them out. Needs the test assets; skips without them.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.person.weights import assets_root
from segmatte.server.shapes.build import Settings, build_object
from segmatte.server.shapes.raster import quality

ASSETS = assets_root()
VIDEO = ASSETS / "vtest.avi"
WEIGHTS = ASSETS / "rvm" / "rvm.json"
SIZE = (768, 576)  # full size: the walkers are 20-30 px wide
FIRST, COUNT, WARM = 100, 8, 4

pytestmark = [
    pytest.mark.assets,
    pytest.mark.slow,
    pytest.mark.skipif(not VIDEO.is_file() or not WEIGHTS.is_file(),
                       reason=f"vtest.avi or the RVM weights absent from {ASSETS}: "
                              "run python3 install/test_assets.py"),
]


def _pictures() -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    cap.set(cv2.CAP_PROP_POS_FRAMES, FIRST - WARM)
    out = {}
    for n in range(FIRST - WARM, FIRST + COUNT):
        ok, bgr = cap.read()
        assert ok
        rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), SIZE, interpolation=cv2.INTER_AREA)
        out[n] = rgb.astype(np.float32) / 255
    cap.release()
    return out


def _run(pictures: list[tuple[int, np.ndarray]]) -> dict[int, np.ndarray]:
    from segmatte.models.person.engine_person import PersonEngine

    engine = PersonEngine({"weights": str(WEIGHTS), "downsample_ratio": 1.0})
    numbers = [n for n, _ in pictures]
    engine.open(ClipInfo(SIZE[0], SIZE[1], 10.0, numbers[0], numbers[-1]))
    return {n: engine.matte(Frame(n, img)).layer("matte") for n, img in pictures}


@pytest.fixture(scope="module")
def walking() -> dict[int, np.ndarray]:
    pics = _pictures()
    mattes = _run(sorted(pics.items()))
    return {n: m for n, m in mattes.items() if n >= FIRST}  # the recurrent state has settled


@pytest.fixture(scope="module")
def still(walking) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(7)
    held = walking[FIRST]
    return {n: np.clip(held + rng.normal(0, 0.01, held.shape), 0, 1).astype(np.float32)
            for n in range(FIRST, FIRST + 10)}


def _shapes(mattes):
    frames = sorted(mattes)
    res = build_object("person", frames, lambda f: mattes[f], Settings())
    return res, quality(res.shapes, res.ious, len(frames))


def test_walkers_shapes_match_the_matte(walking):
    assert all((m >= 0.5).sum() > 1000 for m in walking.values())  # people are there
    res, q = _shapes(walking)
    assert len(res.ious) == COUNT
    assert q.iou_min >= 0.97, res.ious
    assert q.points_constant
    for seg in res.shapes.segments:
        assert len({len(sf.anchors) for sf in seg.frames.values()}) == 1


def test_static_picture_shapes_do_not_jitter(still):
    res, q = _shapes(still)
    # Against each frame's own noisy matte, which the temporal smoothing deliberately
    # does not follow: a little under the 0.97 of a clean matte.
    assert q.iou_min >= 0.96 and q.points_constant
    assert all(len(s.frames) == 10 for s in res.shapes.segments)  # no topology churn
    assert q.jitter_px <= 1.0 and q.step_px <= 1.0
