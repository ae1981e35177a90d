"""Shapes → a Blender Mask: ``segmatte shapes … --to blender`` JSON into animated splines.

One Mask datablock per object (``segmatte <object>``), one mask layer per
shape segment (``<id>``): outer shapes add (``MERGE_ADD``), holes subtract
(``MERGE_SUBTRACT``), and a layer is hidden from render outside its
segment's frames. Every point's anchor and handles are keyframed on every
frame of its segment — the points correspond across frames, so the shape
interpolates and stays editable like hand roto.

Mask space is 0–1 with the short axis rescaled about 0.5 (see HOSTS.md): for
S = max(W, H), x_m = 0.5 + (x − W/2)/S and y_m = 0.5 + (H/2 − y)/S from the
JSON's top-left pixels. Source frame ``first`` lands on ``frame_start``.

The JSON's per-point feather is not applied: a point's ``weight`` alone
rendered no soft edge in Blender 4.2's compositor, so hard splines are made
and the feather stays in the JSON.
"""

from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty

FORMAT = "segmatte.shapes"


class ShapesError(ValueError):
    """A shapes file that cannot be used; the message is for the artist."""


def load(path: str) -> dict:
    from .client.manifest import read_json

    data = read_json(path, "shapes file", ShapesError)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ShapesError(f"{path} is not a segmatte shapes file (made by `segmatte shapes`)")
    return data


def _to_mask(w: int, h: int):
    s = float(max(w, h))

    def conv(p):
        return (0.5 + (p[0] - w / 2) / s, 0.5 + (h / 2 - p[1]) / s)

    return conv


def create_masks(data: dict, frame_start: int = 1, objects: list[str] | None = None) -> list:
    """Make (or replace) one Mask per object of ``data``; the masks, in order."""
    w, h = int(data["width"]), int(data["height"])
    first, last = int(data["first"]), int(data["last"])
    offset = frame_start - first
    conv = _to_mask(w, h)
    made = []
    for obj in data["objects"]:
        if objects and obj["name"] not in objects:
            continue
        name = f"segmatte {obj['name']}"
        old = bpy.data.masks.get(name)
        if old is not None:
            bpy.data.masks.remove(old)
        mask = bpy.data.masks.new(name)
        mask.frame_start, mask.frame_end = first + offset, last + offset
        shapes = sorted(obj["shapes"], key=lambda s: s["hole"])  # holes last, on top
        per_frame = {int(f): {s["id"]: s for s in lst} for f, lst in obj["frames"].items()}
        for shape in shapes:
            _layer(mask, shape, per_frame, conv, offset, first, last)
        made.append(mask)
    return made


def _layer(mask, shape: dict, per_frame: dict, conv, offset: int, first: int, last: int) -> None:
    sid = shape["id"]
    layer = mask.layers.new(name=sid)
    layer.blend = "MERGE_SUBTRACT" if shape["hole"] else "MERGE_ADD"
    spline = layer.splines.new()
    spline.use_cyclic = bool(shape.get("closed", True))
    spline.use_fill = True
    n = int(shape["points"])
    spline.points.add(n - 1)
    for p in spline.points:
        p.handle_type = "ALIGNED"
    li = len(mask.layers) - 1
    base = f"layers[{li}].splines[0].points"
    for f in range(int(shape["first"]), int(shape["last"]) + 1):
        got = per_frame.get(f, {}).get(sid)
        if got is None:
            continue
        for k, pt in enumerate(got["points"]):
            point = spline.points[k]
            point.co = conv(pt["co"])
            point.handle_left = conv(pt["left"])
            point.handle_right = conv(pt["right"])
            for prop in ("co", "handle_left", "handle_right"):
                mask.keyframe_insert(f"{base}[{k}].{prop}", frame=f + offset)
    # Visible only on the segment's frames.
    path = f"layers[{li}].hide_render"
    if shape["first"] > first:
        layer.hide_render = True
        mask.keyframe_insert(path, frame=shape["first"] - 1 + offset)
    layer.hide_render = False
    mask.keyframe_insert(path, frame=shape["first"] + offset)
    if shape["last"] < last:
        layer.hide_render = True
        mask.keyframe_insert(path, frame=shape["last"] + 1 + offset)
        layer.hide_render = False


class SEGMATTE_OT_shapes_mask(bpy.types.Operator):
    """Make animated Mask splines from a segmatte shapes file (segmatte shapes --to blender)"""

    bl_idname = "segmatte.shapes_mask"
    bl_label = "Shapes"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH", name="Shapes file",
                             description="The .shapes.json written by segmatte shapes")
    filter_glob: StringProperty(default="*.shapes.json", options={"HIDDEN"})
    frame_start: IntProperty(name="Start frame", default=-1,
                             description="Scene frame of the first source frame (−1: the "
                                         "scene's start)")

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        try:
            data = load(self.filepath)
            start = context.scene.frame_start if self.frame_start < 0 else self.frame_start
            masks = create_masks(data, start)
        except (ShapesError, KeyError, TypeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, ShapesError) else \
                f"{self.filepath} is not a complete shapes file ({exc})"
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        self.report({"INFO"}, f"made {len(masks)} mask(s): " + ", ".join(m.name for m in masks))
        return {"FINISHED"}


classes = (SEGMATTE_OT_shapes_mask,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
