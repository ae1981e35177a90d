"""The overlay's drawing code on a real GPU context (an offscreen buffer), where the
bpy module can make one (Blender 5.x's ``gpu.init``, EGL); the clip editor's draw
handler calls the same functions on the region."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from conftest import H, W

pytestmark = pytest.mark.skipif(not hasattr(__import__("gpu"), "init"),
                                reason=f"bpy {bpy.app.version_string} has no GPU context "
                                "without a window (no gpu.init): drawing is not testable here")


@pytest.fixture(scope="module")
def gpu():
    import gpu

    try:
        gpu.init()
        gpu.types.GPUOffScreen(8, 8).free()
    except (SystemError, RuntimeError) as exc:
        pytest.skip(f"no GPU context here: {exc}")
    return gpu


def _disc_image(name, scale=1):
    """A 160x120 matte (or 1/scale of it: a display-size preview): a disc of radius 30 at
    (60, 50) of the 160x120 frame, top-left origin."""
    w, h = W // scale, H // scale
    yy, xx = (np.mgrid[0:h, 0:w] + 0.5) * scale - 0.5
    alpha = ((xx - 60) ** 2 + (yy - 50) ** 2 < 30 ** 2).astype(np.float32)
    image = bpy.data.images.new(name, w, h, alpha=True, float_buffer=True)
    image.colorspace_settings.name = "Non-Color"
    image.pixels.foreach_set(np.repeat(alpha[::-1].reshape(-1, 1), 4, axis=1).ravel())
    return image, alpha


def _draw(gpu, fn):
    from mathutils import Matrix

    off = gpu.types.GPUOffScreen(W, H, format="RGBA32F")
    try:
        with off.bind():
            fb = gpu.state.active_framebuffer_get()
            fb.clear(color=(0.0, 0.0, 0.0, 0.0))
            with gpu.matrix.push_pop(), gpu.matrix.push_pop_projection():
                gpu.matrix.load_identity()
                # region pixels → clip space, as the POST_PIXEL handlers get it
                gpu.matrix.load_projection_matrix(Matrix.Translation((-1, -1, 0)) @ Matrix.Diagonal(
                    (2 / W, 2 / H, 1, 1)))
                fn()
            px = np.array(fb.read_color(0, 0, W, H, 4, 0, "FLOAT").to_list(), np.float32)
    finally:
        off.free()
    return px.reshape(H, W, 4)[::-1]  # top row first


def test_overlay_tints_the_matte_in_the_objects_colour(ext, scene, gpu):
    image, alpha = _disc_image("matte")
    color, opacity = (1.0, 0.25, 0.2), 0.5
    px = _draw(gpu, lambda: ext.overlay.draw_images((0, 0, W, H), [(image, color)], opacity))
    expected = alpha[..., None] * np.array([*(c * opacity for c in color), opacity])
    yy, xx = np.mgrid[0:H, 0:W]
    r = np.hypot(xx - 60, yy - 50)
    # the texture is filtered: compare away from the disc's edge
    assert np.abs(px - expected)[(r < 28) | (r > 32)].max() < 0.02
    assert np.abs(px - expected).mean() < 0.005
    # the frame drawn into a smaller rectangle (zoomed out): nothing outside it
    px = _draw(gpu, lambda: ext.overlay.draw_images((0, 0, W // 2, H // 2), [(image, color)],
                                                    1.0))
    assert px[: H // 2].max() == 0 and px[:, W // 2:].max() == 0 and px[..., 0].max() > 0.9


def test_a_display_size_preview_lands_where_the_source_size_one_does(ext, scene, gpu):
    """Previews come at the clip's size on screen: drawn over the clip's frame, a half-size
    matte covers the same pixels as the full one (the edge aside, a texel wide)."""
    _, alpha = _disc_image("full")
    small, _ = _disc_image("half", scale=2)
    px = _draw(gpu, lambda: ext.overlay.draw_images((0, 0, W, H), [(small, (1, 1, 1))], 1.0))
    yy, xx = np.mgrid[0:H, 0:W]
    r = np.hypot(xx - 60, yy - 50)
    far = (r < 27) | (r > 33)
    assert np.abs(px[..., 3] - alpha)[far].max() < 0.02
    cy, cx = (np.argwhere(px[..., 3] > 0.5).mean(axis=0))
    assert abs(cx - 60) < 0.5 and abs(cy - 50) < 0.5


def test_timeline_ticks_for_keyframes_and_qc(ext, scene, gpu):
    scene.frame_start, scene.frame_end = 1, 10
    settings = scene.segmatte
    item = settings.objects.add()
    item.name, item.color = "hero", (0.0, 1.0, 0.0)
    kf = item.keyframes.add()
    kf.frame = 2  # source 2 = scene 3 with shift -1
    kf.points.add()
    doubt = settings.doubts.add()
    doubt.frame, doubt.scene_frame = 7, 8
    ticks, step = ext.overlay.timeline_ticks(scene, -1, W)
    assert step == W / 10 and ticks[0][0] == [W * 2 / 10] and ticks[1][0] == [W * 7 / 10]
    px = _draw(gpu, lambda: ext.overlay.draw_ticks(ticks, step))
    green = np.argwhere(px[..., 1] > 0.9)
    red = np.argwhere((px[..., 0] > 0.9) & (px[..., 1] < 0.2))
    assert green[:, 1].min() == 32 and green[:, 1].max() == 47  # scene frame 3 of 1-10
    assert red[:, 1].min() == 112 and red[:, 1].max() == 127  # scene frame 8
    assert H - 1 - green[:, 0].max() == 8 and H - 1 - red[:, 0].min() == 21  # along the bottom
