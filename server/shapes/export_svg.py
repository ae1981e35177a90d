"""One SVG per frame: every object as a path of cubic Béziers (holes by even-odd)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from .model import ShapeSet, SplineFrame

COLOURS = ("#ff4f4f", "#4fa8ff", "#6fdc5c", "#ffc93c", "#c77dff", "#3cdcd0")


def path_data(sf: SplineFrame) -> str:
    """``M a0 C r0 l1 a1 … Z`` of one closed spline."""
    n = len(sf.anchors)

    def p(v) -> str:
        return f"{v[0]:.3f},{v[1]:.3f}"

    parts = [f"M{p(sf.anchors[0])}"]
    for k in range(n):
        j = (k + 1) % n
        parts.append(f"C{p(sf.right[k])} {p(sf.left[j])} {p(sf.anchors[j])}")
    return " ".join(parts) + " Z"


def frame_svg(shapes: ShapeSet, frame: int) -> str:
    body = []
    for i, obj in enumerate(shapes.objects):
        on = obj.on(frame)
        if not on:
            continue
        d = " ".join(path_data(s.frames[frame]) for s in on)
        body.append(f'  <path id={quoteattr(obj.name)} fill="{COLOURS[i % len(COLOURS)]}" '
                    f'fill-rule="evenodd" d="{d}"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{shapes.width}" '
            f'height="{shapes.height}" viewBox="0 0 {shapes.width} {shapes.height}">\n'
            f'  <title>frame {frame}</title>\n' + "\n".join(body) + "\n</svg>\n")


def write_svg(shapes: ShapeSet, folder: Path, name: str, padding: int = 4) -> list[Path]:
    out = []
    for f in range(shapes.first, shapes.last + 1):
        path = folder / f"{name}.{f:0{padding}d}.svg"
        path.write_text(frame_svg(shapes, f), encoding="utf-8")
        out.append(path)
    return out
