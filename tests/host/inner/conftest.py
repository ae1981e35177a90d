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


@pytest.fixture
def link(ext):
    link = ext.connection.link
    if not link.connected:
        assert bpy.ops.segmatte.connect() == {"FINISHED"}
        wait(ext, lambda: link.connected and link.engines, what="connecting to the server")
    return link


def green_alpha(n: int) -> np.ndarray:
    return clipgen.green_screen(n, W, H)[1]


def _mix(tree, fac, a, b, location):
    """A colour mix node (MixRGB in 4.x, the shared Mix node in 5.x) wired fac, a, b."""
    if bpy.app.version >= (5, 0, 0):
        node = tree.nodes.new("ShaderNodeMix")
        node.data_type = "RGBA"
        sockets = {s.identifier: s for s in node.inputs}
        ins = sockets["Factor_Float"], sockets["A_Color"], sockets["B_Color"]
        out = next(s for s in node.outputs if s.identifier == "Result_Color")
    else:
        node = tree.nodes.new("CompositorNodeMixRGB")
        ins, out = (node.inputs[0], node.inputs[1], node.inputs[2]), node.outputs[0]
    node.location = location
    for socket, value in zip(ins, (fac, a, b), strict=True):
        if isinstance(value, bpy.types.NodeSocket):
            tree.links.new(value, socket)
        else:
            socket.default_value = value
    return out


@pytest.fixture
def ext_screenshot(ext):
    """Render the overlay over the clip through the compositor (what the clip editor's draw
    handler shows): the clip, tinted with the object's colour where its matte is, at the
    panel's opacity. Checks the render; saves it as the README's screenshot when
    ``SEGMATTE_SCREENSHOT_DIR`` is set (4.2 only: one picture)."""

    def shoot(scene, clip, obj):
        item = scene.segmatte.objects[obj]
        opacity = scene.segmatte.overlay_opacity
        scene.view_settings.view_transform = "Standard"
        tree, output = ext.attach.compositor_tree(scene)
        clip_node = tree.nodes.new("CompositorNodeMovieClip")
        clip_node.clip = clip
        matte = tree.nodes.new("CompositorNodeImage")
        matte.image = bpy.data.images[ext.overlay.image_name(obj)]
        tint = _mix(tree, opacity, clip_node.outputs["Image"], (*item.color, 1.0), (0, 200))
        final = _mix(tree, matte.outputs["Alpha"], clip_node.outputs["Image"], tint, (200, 0))
        tree.links.new(final, output)
        shown = render(scene, scene.frame_current, "overlay")
        m = np.empty(W * H * 4, np.float32)
        matte.image.pixels.foreach_get(m)
        m = m.reshape(H, W, 4)[::-1, :, 3]
        tree.links.new(clip_node.outputs["Image"], output)
        plain = render(scene, scene.frame_current, "plain")
        redder = (shown[..., 0] - shown[..., 1]) - (plain[..., 0] - plain[..., 1])
        assert (m > 0.2).any(), "the preview matte is empty"
        assert redder[m > 0.2].mean() > 0.05  # tinted where the matte is
        # untouched elsewhere (up to the odd pixel where the matte's half floats round)
        assert np.abs(shown - plain)[m < 0.005].mean() < 0.5 / 255
        folder = os.environ.get("SEGMATTE_SCREENSHOT_DIR")
        if folder and VERSION[:2] == (4, 2):
            path = WORK / "renders" / f"overlay_{VERSION[0]}{VERSION[1]}_{scene.frame_current}.png"
            Path(folder).mkdir(parents=True, exist_ok=True)
            Path(folder, "blender-overlay.png").write_bytes(path.read_bytes())
        for node in (clip_node, matte):
            tree.nodes.remove(node)
        return shown

    return shoot
