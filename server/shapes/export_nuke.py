"""A Nuke script (``.nk``) with one Roto node per object, its shapes keyframed per frame.

The Roto node's ``curves`` knob uses Nuke's nested-brace serialisation: a
Root layer holding one ``curvegroup`` per shape; each holds the main curve
(``cc``) and its feather curve, whose ``px`` lists the key frames and then per
point three pairs — the left tangent (relative), the vertex (absolute) and
the right tangent (relative). A value animated over several keys is written
``{a v1 v2 …}`` (one value per key); a single key is the bare value. Numbers
are IEEE-754 single floats in hex (``x42c80000`` = 100), ``0`` for zero, as
Nuke writes them. Nuke's y axis points up: y_nuke = H − y. The feather
curve's vertices are per-point offsets (the soft edge width along the
outward normal); the main curve sits half that inside the contour, so the
ramp straddles the contour as the matte's does. Shape lifetime is set to the segment's frames. Holes are
separate shapes named ``…_hole``: set their blending mode to *minus* in Nuke
(the blending attribute is not written).

The single-key layout follows scripts Nuke itself saved; the ``{a …}``
spelling of animated values is our reading of the format and has not yet
been loaded in a real Nuke (the tests parse the file and check the points).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .model import Segment, ShapeSet, feather_offsets


def hexf(v: float) -> str:
    """Nuke's float spelling: ``0`` or ``x`` + the big-endian IEEE-754 single in hex."""
    f = float(np.float32(v))
    if f == 0.0:
        return "0"
    return "x" + struct.pack(">f", f).hex()


def _value(values: np.ndarray) -> str:
    if len(values) == 1:
        return hexf(values[0])
    return "{a " + " ".join(hexf(v) for v in values) + "}"


def _pair(xs: np.ndarray, ys: np.ndarray) -> str:
    return "{" + _value(xs) + " " + _value(ys) + "}"


def _curve(seg: Segment, height: int, feather: bool, indent: str) -> str:
    frames = sorted(seg.frames)
    keys = " ".join(hexf(f) for f in frames)
    lines = [f"{indent}{{cc", f"{indent} {{f 8192}}", f"{indent} {{px {keys}"]
    sfs = [seg.frames[f] for f in frames]
    flip = np.array([1.0, -1.0])
    for k in range(seg.points):
        a = np.array([s.anchors[k] for s in sfs])
        a_main = a - 0.5 * np.array([feather_offsets(s, seg.hole)[k] for s in sfs])
        left = (np.array([s.left[k] for s in sfs]) - a) * flip
        right = (np.array([s.right[k] for s in sfs]) - a) * flip
        if feather:
            vert = np.array([feather_offsets(s, seg.hole)[k] for s in sfs]) * flip
        else:
            vert = np.stack([a_main[:, 0], height - a_main[:, 1]], axis=1)
        for v in (left, vert, right):
            lines.append(f"{indent}  {_pair(v[:, 0], v[:, 1])}")
    lines[-1] += "}}"
    return "\n".join(lines)


def _group(obj_name: str, seg: Segment, width: int, height: int) -> str:
    name = f"{obj_name}_{seg.name}".replace(".", "_") + ("_hole" if seg.hole else "")
    first, last = seg.first, seg.last
    centre = np.mean([s.anchors.mean(axis=0) for s in seg.frames.values()], axis=0)
    return "\n".join([
        f"    {{curvegroup {name} 512 bezier",
        "     {" + _curve(seg, height, False, "      ").lstrip(),
        _curve(seg, height, True, "      ") + "}",
        f"     {{tx {hexf(first)} {hexf(centre[0])} {hexf(height - centre[1])}}}",
        f"     {{a str 1 spx {hexf(width / 2)} spy {hexf(height / 2)} sb 1 "
        f"ltn {hexf(first)} ltm {hexf(last)} tt x40800000}}}}",
    ])


def roto_node(shapes: ShapeSet, index: int) -> str:
    obj = shapes.objects[index]
    w, h = shapes.width, shapes.height
    groups = "\n".join(_group(obj.name, s, w, h) for s in obj.segments)
    return "\n".join([
        "Roto {",
        " output alpha",
        f' format "{w} {h} 0 0 {w} {h} 1 segmatte_{w}x{h}"',
        " curves {{{v x3f99999a}",
        "  {f 0}",
        "  {n",
        "   {layer Root",
        "    {f 512}",
        f"    {{t {hexf(w / 2)} {hexf(h / 2)}}}",
        "    {a}",
        groups + "}}}}",
        " toolbox {createBezier {",
        "  { createBezier str 1 ssx 1 ssy 1 sf 1 sb 1 tt 4 }",
        "} }",
        f" name {_nuke_name(obj.name)}",
        f" label \"segmatte shapes: {obj.name}\"",
        f" xpos {index * 110}",
        " ypos 0",
        "}",
    ])


def _nuke_name(name: str) -> str:
    clean = "".join(c if c.isalnum() else "_" for c in name)
    return f"segmatte_{clean}"


def write_nuke(shapes: ShapeSet, path: Path) -> list[Path]:
    head = (f"# segmatte shapes: {shapes.width}x{shapes.height}, frames "
            f"{shapes.first}-{shapes.last}; paste into Nuke or File > Import Script\n")
    body = "\n".join(roto_node(shapes, i) for i in range(len(shapes.objects)))
    path.write_text(head + body + "\n", encoding="utf-8")
    return [path]
