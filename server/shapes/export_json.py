"""The shapes as one JSON file: the format every other host reads (schema below).

``<name>.shapes.json``::

    {
      "format": "segmatte.shapes", "version": 1,
      "width": W, "height": H, "first": F0, "last": F1,
      "coordinates": "pixels, origin top-left, y down, pixel centres at +0.5",
      "source": "…", "settings": {…},
      "objects": [{
        "name": "hero",
        "shapes": [{"id": "s0", "track": 0, "segment": 0, "hole": false,
                    "closed": true, "points": 12, "first": F0, "last": F1}, …],
        "frames": {"1001": [{"id": "s0", "hole": false, "closed": true,
                             "points": [{"co": [x, y], "left": [x, y],
                                         "right": [x, y], "feather": px}, …]}, …]},
        "quality": {"iou_min": …, "iou_mean": …, "points": …, "points_constant": true,
                    "jitter_px": …, "step_px": …, "segments": …, "frames": …}
      }]
    }

``co`` is the anchor, ``left`` / ``right`` the absolute positions of the
incoming and outgoing handles, ``feather`` the matte's soft edge width at the
point (pixels, outwards from the 0.5 level). Within one shape ``id`` the
point count is constant and point k corresponds across frames; a new ``id``
(``s3.1``: segment 1 of track 3) starts where points were added or removed.
Frames list outer shapes before holes (``h…``), larger first.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .model import ShapeSet, SplineFrame

FORMAT = "segmatte.shapes"
VERSION = 1
DIGITS = 3


def _pt(v) -> list[float]:
    return [round(float(v[0]), DIGITS), round(float(v[1]), DIGITS)]


def spline_json(sf: SplineFrame) -> list[dict]:
    return [{"co": _pt(sf.anchors[k]), "left": _pt(sf.left[k]), "right": _pt(sf.right[k]),
             "feather": round(float(sf.feather[k]), 2)} for k in range(len(sf.anchors))]


def to_json(shapes: ShapeSet) -> dict:
    objects = []
    for obj in shapes.objects:
        frames: dict[str, list] = {}
        for f in range(shapes.first, shapes.last + 1):
            on = obj.on(f)
            if on:
                frames[str(f)] = [{"id": s.name, "hole": s.hole, "closed": True,
                                   "points": spline_json(s.frames[f])} for s in on]
        q = shapes.quality.get(obj.name)
        objects.append({
            "name": obj.name,
            "shapes": [{"id": s.name, "track": s.track, "segment": s.index, "hole": s.hole,
                        "closed": True, "points": s.points, "first": s.first, "last": s.last}
                       for s in obj.segments],
            "frames": frames,
            "quality": asdict(q) if q else None,
        })
    return {"format": FORMAT, "version": VERSION, "width": shapes.width,
            "height": shapes.height, "first": shapes.first, "last": shapes.last,
            "coordinates": "pixels, origin top-left, y down, pixel centres at +0.5",
            "source": shapes.source, "settings": shapes.settings, "objects": objects}


def write_json(shapes: ShapeSet, path: Path) -> list[Path]:
    path.write_text(json.dumps(to_json(shapes), separators=(",", ":")) + "\n", encoding="utf-8")
    return [path]
