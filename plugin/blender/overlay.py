"""The matte over the clip in the Movie Clip Editor, and marks on its timeline.

Each object has an overlay Image (``segmatte overlay <object>``): the preview
EXR of a click, or the matte a propagation wrote for the frame under the
playhead (:meth:`SessionWatch.path_at`). A ``frame_change_post`` handler
swaps the file as the playhead moves; a draw handler of the clip editor
draws each image tinted with its object's colour at the panel's opacity, and
ticks on the editor's timeline strip: keyframes in the object's colour, QC
frames in red. It also keeps the clip's size on screen: each click's preview
is asked for at that size (drawn scaled over the frame, any size aligns).
Drawing needs a GPU: headless Blender keeps the images (a compositor render
can show them) and skips the drawing.
"""

from __future__ import annotations

import os

import bpy

from .connection import link

PREFIX = "segmatte overlay "
QC_COLOR = (1.0, 0.1, 0.1, 1.0)
_handles: list = []


def image_name(obj: str) -> str:
    return f"{PREFIX}{obj}"


def show(obj: str, path: str) -> bpy.types.Image:
    """Point the object's overlay image at ``path`` (loading it now)."""
    image = bpy.data.images.get(image_name(obj))
    if image is None:
        image = bpy.data.images.load(path, check_existing=False)
        image.name = image_name(obj)
        image.colorspace_settings.name = "Non-Color"
        image.use_fake_user = False
    elif bpy.path.abspath(image.filepath) != path:
        image.filepath = path
    image.reload()
    image["segmatte_path"] = path
    return image


def hide(obj: str) -> None:
    image = bpy.data.images.get(image_name(obj))
    if image is not None:
        image["segmatte_path"] = ""


def shown(obj: str) -> str:
    """The file the object's overlay shows now ("" = nothing)."""
    image = bpy.data.images.get(image_name(obj))
    return str(image.get("segmatte_path", "")) if image is not None else ""


def refresh(scene: bpy.types.Scene | None = None) -> None:
    """Show each object's matte for the current frame (or nothing where there is none)."""
    session = link.session
    scene = scene or bpy.context.scene
    if session is None or scene is None or scene.name != session.scene:
        return
    number = scene.frame_current + session.shift
    for obj in session.objects:
        path = session.path_at(obj, number)
        if path and os.path.exists(path):
            show(obj, path)
        else:
            hide(obj)


@bpy.app.handlers.persistent
def _on_frame_change(scene, *args) -> None:
    try:
        refresh(scene)
    except (RuntimeError, OSError, ReferenceError) as exc:
        print(f"segmatte: overlay: {exc}")


def on_frame_written(watch, event) -> None:
    """A propagation wrote a frame: follow it when it is the frame under the playhead."""
    session = link.session
    scene = bpy.data.scenes.get(session.scene) if session else None
    if scene is not None and event.frame == scene.frame_current + session.shift:
        refresh(scene)


# --- drawing -------------------------------------------------------------------------------


def frame_rect(region) -> tuple[float, float, float, float]:
    """The clip's frame in region pixels (x0, y0, x1, y1): the clip editor's view space
    spans the frame from 0 to 1 on both axes."""
    x0, y0 = region.view2d.view_to_region(0.0, 0.0, clip=False)
    x1, y1 = region.view2d.view_to_region(1.0, 1.0, clip=False)
    return float(x0), float(y0), float(x1), float(y1)


def timeline_x(scene, frame: int, width: int) -> float:
    """Where the clip editor's timeline strip (along the bottom) draws scene ``frame``."""
    first, last = scene.frame_start, scene.frame_end
    return (frame - first) / max(1, last - first + 1) * width


def draw_images(rect: tuple[float, float, float, float], layers, opacity: float) -> None:
    """Draw each (image, rgb colour) over ``rect`` (region pixels): the colour at
    ``opacity`` where the image's matte is (R=G=B=A), premultiplied over what is there."""
    import gpu
    from gpu_extras.batch import batch_for_shader

    x0, y0, x1, y1 = rect
    shader = gpu.shader.from_builtin("IMAGE_COLOR")
    batch = batch_for_shader(shader, "TRI_STRIP", {
        "pos": ((x0, y0), (x1, y0), (x0, y1), (x1, y1)),
        "texCoord": ((0, 0), (1, 0), (0, 1), (1, 1))})
    gpu.state.blend_set("ALPHA_PREMULT")
    try:
        for image, (r, g, b) in layers:
            shader.bind()
            shader.uniform_sampler("image", gpu.texture.from_image(image))
            shader.uniform_float("color", (r * opacity, g * opacity, b * opacity, opacity))
            batch.draw(shader)
    finally:
        gpu.state.blend_set("NONE")


def draw_ticks(ticks, width: float) -> None:
    """Draw (x positions, rgba, y0, y1) groups of ticks, each ``width`` pixels wide."""
    import gpu
    from gpu_extras.batch import batch_for_shader

    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    for xs, color, y0, y1 in ticks:
        quads = []
        for x in xs:
            quads += [(x, y0), (x + width, y0), (x + width, y1), (x, y0), (x + width, y1),
                      (x, y1)]
        if quads:
            shader.bind()
            shader.uniform_float("color", color)
            batch_for_shader(shader, "TRIS", {"pos": quads}).draw(shader)


def note_display(session, region) -> None:
    """Keep the clip's size on screen: the next click's preview comes at that size."""
    x0, y0, x1, y1 = frame_rect(region)
    session.display = (abs(x1 - x0), abs(y1 - y0))


def overlay_layers(settings) -> list:
    """(image, colour) of each used object whose overlay shows a matte now."""
    out = []
    for item in settings.objects:
        image = bpy.data.images.get(image_name(item.name))
        if image is not None and image.get("segmatte_path") and item.use:
            out.append((image, tuple(item.color)))
    return out


def timeline_ticks(scene, shift: int, width: int) -> tuple[list, float]:
    """The keyframe ticks (object colours) and QC ticks (red) of the clip editor's timeline."""
    settings = scene.segmatte
    step = max(2.0, width / max(1, scene.frame_end - scene.frame_start + 1))
    ticks = [([timeline_x(scene, kf.frame - shift, width) for kf in item.keyframes
               if len(kf.points) or kf.use_box], (*item.color, 1.0), 8, 16)
             for item in settings.objects]
    ticks.append(([timeline_x(scene, d.scene_frame, width) for d in settings.doubts],
                  QC_COLOR, 16, 22))
    return ticks, step


def _draw_overlay() -> None:
    context = bpy.context
    space, region = context.space_data, context.region
    settings = context.scene.segmatte
    session = link.session
    if space is None or space.clip is None or session is None or space.clip.name != session.clip:
        return
    note_display(session, region)
    if not settings.show_overlay:
        return
    draw_images(frame_rect(region), overlay_layers(settings), settings.overlay_opacity)


def _draw_marks() -> None:
    context = bpy.context
    session = link.session
    if session is None or context.space_data is None or context.space_data.clip is None:
        return
    ticks, step = timeline_ticks(context.scene, session.shift, context.region.width)
    draw_ticks(ticks, step)


def _safe(fn):
    def run():
        try:
            fn()
        except Exception as exc:  # a draw error must never spam tracebacks per redraw
            if not getattr(run, "said", False):
                run.said = True
                print(f"segmatte: cannot draw the overlay: {exc}")
    return run


def register() -> None:
    if _on_frame_change not in bpy.app.handlers.frame_change_post:
        bpy.app.handlers.frame_change_post.append(_on_frame_change)
    link.on_frame = on_frame_written
    space = bpy.types.SpaceClipEditor
    _handles.append(space.draw_handler_add(_safe(_draw_overlay), (), "WINDOW", "POST_PIXEL"))
    _handles.append(space.draw_handler_add(_safe(_draw_marks), (), "WINDOW", "POST_PIXEL"))


def unregister() -> None:
    if _on_frame_change in bpy.app.handlers.frame_change_post:
        bpy.app.handlers.frame_change_post.remove(_on_frame_change)
    link.on_frame = None
    while _handles:
        bpy.types.SpaceClipEditor.draw_handler_remove(_handles.pop(), "WINDOW")


def handlers() -> int:
    """How many draw handlers are registered (for tests)."""
    return len(_handles)
