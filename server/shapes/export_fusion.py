"""A Fusion ``.setting`` (Lua-table syntax): one Polygon mask tool per shape, keyframed.

Paste it into a Fusion comp (or Resolve's Fusion page), or load it with the
Resolve helper. Each shape is a ``PolylineMask`` whose ``Polyline`` input is
animated by a ``BezierSpline`` with one key per frame (``Value = Polyline {
Closed = true, Points = {…} }``); the feather goes in the second polyline
(``Polyline2``: the soft edge's outer line). The ramp straddles the contour
as the matte's does: the main polyline sits half the point's feather inside
the contour (anchors moved along the inward normal), the outer line half
outside, so the mask's 0.5 level is on the matte's. The shapes of one object are chained through
``EffectMask`` in draw order, holes with ``PaintMode`` Subtract, and a shape
that lives on part of the range has its ``Level`` stepped to 0 outside it.

Fusion's polyline coordinates: origin at the image centre, y up, in units of
the image width on both axes: X = (x − W/2)/W, Y = (H/2 − y)/W. Handles
(LX, LY, RX, RY) are relative to their point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import ObjectShapes, Segment, ShapeSet, SplineFrame, feather_offsets


def _num(v: float) -> str:
    return f"{float(v):.6g}"


def _points(sf: SplineFrame, width: int, height: int, offsets: np.ndarray | None = None) -> str:
    a = sf.anchors if offsets is None else sf.anchors + offsets
    items = []
    for k in range(len(a)):
        x, y = (a[k, 0] - width / 2) / width, (height / 2 - a[k, 1]) / width
        lx, ly = (sf.left[k, 0] - sf.anchors[k, 0]) / width, (sf.anchors[k, 1] - sf.left[k, 1]) / width
        rx, ry = (sf.right[k, 0] - sf.anchors[k, 0]) / width, (sf.anchors[k, 1] - sf.right[k, 1]) / width
        items.append(f"{{ X = {_num(x)}, Y = {_num(y)}, LX = {_num(lx)}, LY = {_num(ly)}, "
                     f"RX = {_num(rx)}, RY = {_num(ry)} }}")
    return ",\n\t\t\t\t\t\t\t".join(items)


def _spline(name: str, seg: Segment, width: int, height: int, feather: bool) -> str:
    keys = []
    for f in sorted(seg.frames):
        sf = seg.frames[f]
        half = 0.5 * feather_offsets(sf, seg.hole)
        off = half if feather else -half
        keys.append(f"\t\t\t\t[{f}] = {{ 0, Flags = {{ Linear = true, LockedY = true }}, "
                    f"Value = Polyline {{\n\t\t\t\t\t\tClosed = true,\n\t\t\t\t\t\tPoints = {{\n"
                    f"\t\t\t\t\t\t\t{_points(sf, width, height, off)}\n\t\t\t\t\t\t}}\n\t\t\t\t\t}} }},")
    return (f"\t\t{name} = BezierSpline {{\n\t\t\tSplineColor = {{ Red = 173, Green = 255, Blue = 47 }},\n"
            f"\t\t\tNameSet = true,\n\t\t\tKeyFrames = {{\n" + "\n".join(keys) + "\n\t\t\t}\n\t\t},")


def _level(name: str, seg: Segment, first: int, last: int) -> str | None:
    if seg.first <= first and seg.last >= last:
        return None
    keys = []
    if seg.first > first:
        keys.append(f"[{seg.first - 1}] = {{ 0, Flags = {{ StepIn = true }} }}")
    keys.append(f"[{seg.first}] = {{ 1, Flags = {{ StepIn = true }} }}")
    if seg.last < last:
        keys.append(f"[{seg.last + 1}] = {{ 0, Flags = {{ StepIn = true }} }}")
    return (f"\t\t{name} = BezierSpline {{\n\t\t\tSplineColor = {{ Red = 255, Green = 255, Blue = 255 }},\n"
            f"\t\t\tNameSet = true,\n\t\t\tKeyFrames = {{\n\t\t\t\t" + ",\n\t\t\t\t".join(keys)
            + "\n\t\t\t}\n\t\t},")


def tool_name(obj: ObjectShapes, seg: Segment) -> str:
    base = "".join(c if c.isalnum() else "_" for c in f"{obj.name}_{seg.name}")
    return base if base[:1].isalpha() else f"m_{base}"


def _tools(shapes: ShapeSet, obj: ObjectShapes, row: int) -> tuple[list[str], str | None]:
    w, h = shapes.width, shapes.height
    out: list[str] = []
    prev: str | None = None
    order = sorted(obj.segments, key=lambda s: (s.hole, s.first, s.track, s.index))
    for col, seg in enumerate(order):
        name = tool_name(obj, seg)
        inputs = [
            f"\t\t\t\tMaskWidth = Input {{ Value = {w}, }},",
            f"\t\t\t\tMaskHeight = Input {{ Value = {h}, }},",
            "\t\t\t\tPixelAspect = Input { Value = { 1, 1 }, },",
            "\t\t\t\tClippingMode = Input { Value = FuID { \"None\" }, },",
            f"\t\t\t\tPolyline = Input {{ SourceOp = \"{name}Polyline\", Source = \"Value\", }},",
            f"\t\t\t\tPolyline2 = Input {{ SourceOp = \"{name}Polyline2\", Source = \"Value\", }},",
        ]
        if seg.hole:
            inputs.append("\t\t\t\tPaintMode = Input { Value = FuID { \"Subtract\" }, },")
        level = _level(f"{name}Level", seg, shapes.first, shapes.last)
        if level:
            inputs.append(f"\t\t\t\tLevel = Input {{ SourceOp = \"{name}Level\", Source = \"Value\", }},")
        if prev:
            inputs.append(f"\t\t\t\tEffectMask = Input {{ SourceOp = \"{prev}\", Source = \"Mask\", }},")
        out.append(f"\t\t{name} = PolylineMask {{\n\t\t\tDrawMode = \"ModifyOnly\",\n"
                   f"\t\t\tDrawMode2 = \"ModifyOnly\",\n\t\t\tInputs = {{\n" + "\n".join(inputs)
                   + f"\n\t\t\t}},\n\t\t\tViewInfo = OperatorInfo {{ Pos = {{ {110 * col}, {66 * row} }} }},\n\t\t}},")
        out.append(_spline(f"{name}Polyline", seg, w, h, False))
        out.append(_spline(f"{name}Polyline2", seg, w, h, True))
        if level:
            out.append(level)
        prev = name
    return out, prev


def setting_text(shapes: ShapeSet) -> str:
    body: list[str] = []
    last = None
    for row, obj in enumerate(shapes.objects):
        tools, end = _tools(shapes, obj, row)
        body += tools
        last = end or last
    active = f'\tActiveTool = "{last}"\n' if last else ""
    return "{\n\tTools = ordered() {\n" + "\n".join(body) + "\n\t},\n" + active + "}\n"


def write_fusion(shapes: ShapeSet, path: Path) -> list[Path]:
    path.write_text(setting_text(shapes), encoding="utf-8")
    return [path]
