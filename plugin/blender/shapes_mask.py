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

Feather (measured in bpy 4.2–5.2's compositor; the direction is Blender's
``BKE_mask_point_normal``, n = (−t_y, t_x)): a point's ``weight`` is the
feather distance in mask units (feather px / S, checked on 100×100 and
160×120 frames), offset to the *left* of the spline's direction — out of the
fill for a clockwise spline in mask space (y up), into it for a
counter-clockwise one, where the fill (always 1) hides it: that is why an
earlier probe saw no soft edge at small weights. A negative weight draws
nothing either. The ramp runs from 1 on the spline to 0 on the feather line
(``falloff`` LINEAR here, matching the JSON's linear-ramp width). The matte's
soft edge is centred on the 0.5 contour the fit places, so a shape with
feather is wound clockwise (point 0 stays point 0, the rest reversed, handles
swapped), its anchors moved f/2 into the fill (handles moved with them and
rescaled by the local curvature, as an offset curve's are) and its weight
set to f: the rendered ramp spans contour ± f/2 like the matte's. Holes are
subtract layers, so the same rule puts their ramp into the object. A shape
with no feather anywhere is wound counter-clockwise, where Blender draws no
feather strip (clockwise with weight 0 still leaves a ~1 px tail outside).
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


def _signed_area(pts: list) -> float:
    """Shoelace area in source pixels (y down): positive when clockwise on screen."""
    return 0.5 * sum(pts[k - 1][0] * pts[k][1] - pts[k][0] * pts[k - 1][1]
                     for k in range(len(pts)))


def _feathered(shape: dict, per_frame: dict) -> bool:
    return any(pt.get("feather", 0.0) > 0.0
               for f in range(int(shape["first"]), int(shape["last"]) + 1)
               for pt in (per_frame.get(f, {}).get(shape["id"]) or {"points": []})["points"])


def _oriented(points: list[dict], clockwise_on_screen: bool) -> list[dict]:
    """The points wound as asked (point 0 kept, the rest reversed, handles swapped)."""
    if (_signed_area([p["co"] for p in points]) > 0) == clockwise_on_screen:
        return points
    order = [0] + list(range(len(points) - 1, 0, -1))
    return [{**points[k], "left": points[k]["right"], "right": points[k]["left"]} for k in order]


def _sub(a, b):
    return (a[0] - b[0], a[1] - b[1])


def _cross(a, b) -> float:
    return a[0] * b[1] - a[1] * b[0]


def _unit(v):
    n = (v[0] * v[0] + v[1] * v[1]) ** 0.5
    return (v[0] / n, v[1] / n) if n > 1e-9 else (0.0, 0.0)


def _curvature(p0, p1, p2) -> float:
    """Signed curvature (left turns positive) of a Bézier at p0 with handles p1, p2."""
    d1 = (3 * (p1[0] - p0[0]), 3 * (p1[1] - p0[1]))
    d2 = (6 * (p2[0] - 2 * p1[0] + p0[0]), 6 * (p2[1] - 2 * p1[1] + p0[1]))
    n = (d1[0] ** 2 + d1[1] ** 2) ** 1.5
    return _cross(d1, d2) / n if n > 1e-12 else 0.0


def _inset(points: list[dict]) -> list[dict]:
    """Anchors moved half their feather into the fill of a clockwise (on screen) spline.

    The handles move with their anchor and are scaled by 1 − κδ (κ the signed
    curvature there, δ the shift along the left normal), as on an offset curve,
    so a circle stays a circle."""
    n = len(points)
    out = []
    for k, pt in enumerate(points):
        co, left, right = pt["co"], pt["left"], pt["right"]
        prev, nxt = points[k - 1], points[(k + 1) % n]
        t = _unit(_sub(right, left))
        if t == (0.0, 0.0):
            t = _unit(_sub(nxt["co"], prev["co"]))
        # Clockwise on screen (y down) turns left in x/y terms: the fill is on the
        # left normal, (−t_y, t_x).
        inward = (-t[1], t[0])
        d = 0.5 * float(pt.get("feather", 0.0))
        shift = (inward[0] * d, inward[1] * d)
        lnorm = (-t[1], t[0])  # left normal in the curvature's frame (x right, y down)
        delta = shift[0] * lnorm[0] + shift[1] * lnorm[1]
        k_out = _curvature(co, right, nxt["left"])
        k_in = -_curvature(co, left, prev["right"])
        s_out = min(max(1.0 - k_out * delta, 0.1), 3.0)
        s_in = min(max(1.0 - k_in * delta, 0.1), 3.0)
        c2 = (co[0] + shift[0], co[1] + shift[1])
        out.append({**pt, "co": c2,
                    "left": (c2[0] + s_in * (left[0] - co[0]), c2[1] + s_in * (left[1] - co[1])),
                    "right": (c2[0] + s_out * (right[0] - co[0]),
                              c2[1] + s_out * (right[1] - co[1]))})
    return out


def create_masks(data: dict, frame_start: int = 1, objects: list[str] | None = None) -> list:
    """Make (or replace) one Mask per object of ``data``; the masks, in order."""
    w, h = int(data["width"]), int(data["height"])
    first, last = int(data["first"]), int(data["last"])
    offset = frame_start - first
    conv = _to_mask(w, h)
    scale = float(max(w, h))
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
            _layer(mask, shape, per_frame, conv, scale, offset, first, last)
        made.append(mask)
    return made


def _layer(mask, shape: dict, per_frame: dict, conv, scale: float, offset: int, first: int,
           last: int) -> None:
    sid = shape["id"]
    layer = mask.layers.new(name=sid)
    layer.blend = "MERGE_SUBTRACT" if shape["hole"] else "MERGE_ADD"
    layer.falloff = "LINEAR"
    feathered = _feathered(shape, per_frame)
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
        # Clockwise on screen is clockwise in mask space too (both flips of y cancel):
        # feather outwards.
        pts = _oriented(got["points"], clockwise_on_screen=feathered)
        if feathered:
            pts = _inset(pts)
        props = ("co", "handle_left", "handle_right") + (("weight",) if feathered else ())
        for k, pt in enumerate(pts):
            point = spline.points[k]
            point.co = conv(pt["co"])
            point.handle_left = conv(pt["left"])
            point.handle_right = conv(pt["right"])
            if feathered:
                point.weight = max(float(pt.get("feather", 0.0)), 0.0) / scale
            for prop in props:
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
