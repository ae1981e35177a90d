"""Shared fixtures: generated clips (built once per session) and real test footage.

Generated clips (tests/clipgen.py) carry their frame number burnt into every
picture, so any test can check it got exactly the frames it asked for with
``clipgen.decode_number(frame.image)``. Each fixture returns a
:class:`clipgen.GeneratedClip` (``os.fspath()``-able).

Real footage comes from ``python3 install/test_assets.py`` (Debian opencv-doc's
example videos) in ``$SEGMATTE_TEST_ASSETS`` or ``~/.cache/segmatte/test-assets``;
tests that need it skip when it is not there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # `import clipgen` from any test folder

# Local Ray instances in tests bind to 127.0.0.1 only (Ray reads this at import).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import clipgen  # noqa: E402
from clipgen import GeneratedClip  # noqa: E402

CLIP_W, CLIP_H = 160, 120
H264_FRAMES = 48
PRORES_FRAMES = 30
EXR_FIRST, EXR_LAST = 1001, 1024
GREEN_FRAMES = 24
TIMECODE = "01:00:00:00"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def h264_clip(media_dir: Path) -> GeneratedClip:
    """48 numbered frames (0..47), 160×120, 24 fps, H.264 yuv420p, GOP 12 with
    B-frames, timecode 01:00:00:00."""
    path = clipgen.write_video(
        media_dir / "numbered_h264.mp4",
        (clipgen.numbered_image(n, CLIP_W, CLIP_H) for n in range(H264_FRAMES)),
        24.0, codec="h264", gop=12, timecode=TIMECODE)
    return GeneratedClip(path, 0, H264_FRAMES - 1, CLIP_W, CLIP_H, 24.0, "h264")


@pytest.fixture(scope="session")
def prores_clip(media_dir: Path) -> GeneratedClip:
    """30 numbered frames (0..29), 160×120, 25 fps, ProRes 422 HQ (10-bit)."""
    path = clipgen.write_video(
        media_dir / "numbered_prores.mov",
        (clipgen.numbered_image(n, CLIP_W, CLIP_H) for n in range(PRORES_FRAMES)),
        25.0, codec="prores")
    return GeneratedClip(path, 0, PRORES_FRAMES - 1, CLIP_W, CLIP_H, 25.0, "prores")


@pytest.fixture(scope="session")
def exr_sequence(media_dir: Path) -> GeneratedClip:
    """Numbered frames 1001..1024 as half-float EXRs, ``numbered.####.exr``.

    The pixels are scene-linear: the white blocks are stored at 2.0 (over
    1.0, so the reader's highlight roll-off is exercised), black at 0.02.
    """
    folder = media_dir / "exr"
    numbers = range(EXR_FIRST, EXR_LAST + 1)
    images = (_linear(clipgen.numbered_image(n, CLIP_W, CLIP_H)) for n in numbers)
    clipgen.write_sequence(folder, "numbered", numbers, images, ext="exr", dtype="half")
    return GeneratedClip(str(folder / "numbered.####.exr"), EXR_FIRST, EXR_LAST,
                         CLIP_W, CLIP_H, 0.0, "openexr")


def _linear(img: np.ndarray) -> np.ndarray:
    return np.where(img > 127, 2.0, 0.02).astype(np.float32)


@pytest.fixture(scope="session")
def green_screen_clip(media_dir: Path) -> GeneratedClip:
    """24 frames of clipgen.green_screen (H.264 4:4:4, near lossless), 160×120, 24 fps.

    Ground truth of frame n: ``clipgen.green_screen(n, 160, 120)[1]``.
    """
    path = clipgen.write_green_screen_clip(media_dir / "green_screen.mp4", GREEN_FRAMES,
                                           CLIP_W, CLIP_H)
    return GeneratedClip(path, 0, GREEN_FRAMES - 1, CLIP_W, CLIP_H, 24.0, "h264")


def asset_roots() -> list[Path]:
    """Where install/test_assets.py puts real footage."""
    roots = []
    if os.environ.get("SEGMATTE_TEST_ASSETS"):
        roots.append(Path(os.environ["SEGMATTE_TEST_ASSETS"]).expanduser())
    roots.append(Path.home() / ".cache" / "segmatte" / "test-assets")
    return roots


def find_asset(name: str) -> Path | None:
    """The first file called ``name`` anywhere below the asset folders, or None."""
    for root in asset_roots():
        if root.is_dir():
            for found in sorted(root.rglob(name)):
                if found.is_file():
                    return found
    return None


def require_asset(name: str) -> Path:
    """The asset's path, or skip the test with how to fetch it."""
    found = find_asset(name)
    if found is None:
        pytest.skip(f"test asset {name} not found in {', '.join(map(str, asset_roots()))}; "
                    "run python3 install/test_assets.py")
    return found


@pytest.fixture(scope="session")
def vtest_avi() -> Path:
    """OpenCV's vtest.avi (768×576, 795 frames of pedestrians); skips when not installed."""
    return require_asset("vtest.avi")


@pytest.fixture(scope="session")
def test_asset():
    """``test_asset("Megamind.avi")`` → its path, or skip the test when not installed."""
    return require_asset


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face cache holding a tiny random SAM 2 video model (the real transformers
    classes) where the catalog's ``sam2.1-tiny`` lives, so CLIs and servers load it offline."""
    from tiny_track import save_hub

    return save_hub(tmp_path_factory.mktemp("hub"))
