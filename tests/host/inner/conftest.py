"""Fixtures of the inner host tests, which run *inside* Blender (PyPI ``bpy``).

tests/host/test_blender.py starts these with the environment below; nothing
here runs in the main test environment.

- ``SEGMATTE_HOST_ZIP``: the built extension zip for this Blender
- ``SEGMATTE_HOST_MEDIA``: generated clips (see test_blender.py)
- ``SEGMATTE_HOST_WORK``: a scratch folder (renders, mattes)
- ``SEGMATTE_TESTS_DIR``: the repository's tests/ (for clipgen's ground truth)
- ``SEGMATTE_HOST_SERVER_PYTHON``: the main environment's Python (Start Server's test)
- ``SEGMATTE_CONFIG_DIR`` / ``SEGMATTE_DATA_DIR``: the test server's folders,
  so the extension's client finds its address and token by itself
- ``BLENDER_USER_RESOURCES``: a temporary Blender user folder
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

sys.path.insert(0, os.environ["SEGMATTE_TESTS_DIR"])

import clipgen  # noqa: E402

EXT = "bl_ext.user_default.segmatte"
WORK = Path(os.environ["SEGMATTE_HOST_WORK"])
MEDIA = Path(os.environ["SEGMATTE_HOST_MEDIA"])
W, H = 160, 120
GREEN_FRAMES = 8
VERSION = bpy.app.version


@pytest.fixture(scope="session")
def ext():
    """The extension, installed from its zip the way a user's Blender does it."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.extensions.package_install_files(
        filepath=os.environ["SEGMATTE_HOST_ZIP"], repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    module = importlib.import_module(EXT)
    prefs = bpy.context.preferences.addons[EXT].preferences
    prefs.output_folder = str(WORK / "mattes" / "{source}_{scene}")
    yield module
    module.connection.shutdown()


@pytest.fixture
def scene(ext):
    """A new empty file (``read_factory_settings`` would disable the extension)."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    sc = bpy.context.scene
    sc.render.resolution_x, sc.render.resolution_y = W, H
    sc.render.resolution_percentage = 100
    sc.render.image_settings.file_format = "PNG"
    sc.render.image_settings.color_mode = "RGBA"
    return sc


@pytest.fixture
def media():
    return {
        "green": str(MEDIA / "green.mp4"),
        "long": str(MEDIA / "long.mp4"),
        "numbered": str(MEDIA / "numbered.mp4"),
        "sequence": str(MEDIA / "seq" / "numbered.1001.png"),
    }


def render(scene, frame: int, name: str) -> np.ndarray:
    """Render ``scene`` at ``frame`` to a PNG; its RGBA pixels, top row first, 0-1."""
    scene.frame_set(frame)
    path = str(WORK / "renders" / f"{name}_{VERSION[0]}{VERSION[1]}_{frame}.png")
    scene.render.filepath = path
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(path)
    try:
        w, h = image.size
        px = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(image)
    return px.reshape(h, w, 4)[::-1]


def decode(rgba: np.ndarray) -> int:
    return clipgen.decode_number(rgba[..., :3])


def wait(ext, done, timeout: float = 120.0, what: str = "it"):
    """Call the extension's timer function (timers never fire here) until ``done()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ext.connection.poll()
        value = done()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout:g} s; "
                         f"link: {ext.connection.link.state} {ext.connection.link.detail}")


def green_alpha(n: int) -> np.ndarray:
    return clipgen.green_screen(n, W, H)[1]
