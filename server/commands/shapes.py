"""``segmatte shapes``: editable, tracked spline shapes from a matte sequence.

Reads mattes (a manifest, a folder with one, or a sequence), makes Bézier
shapes with a stable point count per segment (server/shapes/), writes the
chosen formats and a shapes manifest, and prints the quality figures: IoU of
the rasterised shapes against the thresholded matte, point count, jitter.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli import EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    from ..shapes.writer import FORMATS

    p = sub.add_parser("shapes", help="turn mattes into tracked, editable spline shapes",
                       description="Trace each object's matte, fit cubic Bézier shapes with a "
                                   "constant point count and point correspondence across frames, "
                                   "and write them for Blender (JSON the extension reads), Fusion "
                                   "(.setting), Nuke (.nk), JSON or SVG.")
    p.add_argument("mattes", help="a NAME.manifest.json, a folder holding one, or a matte "
                                  "sequence (m.####.exr, m.%%04d.png, or one of its files)")
    p.add_argument("--out", required=True, help="output folder (made if missing)")
    p.add_argument("--to", action="append", metavar="FORMAT",
                   help=f"one or more of {', '.join(FORMATS)} (comma-separated or repeated); "
                        "default json. blender writes the JSON its Shapes operator reads")
    p.add_argument("--name", help="output name; default: the matte sequence's name")
    p.add_argument("--tolerance", type=float, default=0.3,
                   help="largest distance of the spline from the outline, pixels; default 0.3")
    p.add_argument("--min-area", type=float, default=16.0,
                   help="drop islands and holes smaller than this many pixels; default 16")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="matte level the outline follows; default 0.5")
    p.add_argument("--smooth", type=int, default=2,
                   help="temporal smoothing radius in frames, 0 for none; default 2")
    p.add_argument("--keyframes", default="",
                   help="frames where shapes may change their point count, e.g. 1010,1040")
    p.add_argument("--max-points", type=int, default=400, help="most points per shape; default 400")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files in --out that segmatte shapes did not write")
    p.add_argument("--json", action="store_true", help="print the quality figures as JSON")
    p.set_defaults(func=run)


def _formats(values: list[str] | None) -> list[str]:
    from ..shapes.writer import FORMATS

    out = []
    for v in values or ["json"]:
        for f in v.split(","):
            f = f.strip().lower()
            if not f:
                continue
            if f not in FORMATS:
                raise ValueError(f"--to {f}: not a format; choose from {', '.join(FORMATS)}")
            out.append(f)
    return out or ["json"]


def _settings(args: argparse.Namespace):
    from ..shapes.build import Settings

    if not args.tolerance > 0:
        raise ValueError("--tolerance must be more than 0 pixels")
    if args.min_area < 0:
        raise ValueError("--min-area cannot be negative")
    if not 0 < args.threshold < 1:
        raise ValueError("--threshold must be between 0 and 1")
    if args.smooth < 0:
        raise ValueError("--smooth cannot be negative")
    if args.max_points < 4:
        raise ValueError("--max-points must be at least 4")
    try:
        keys = tuple(int(k) for k in args.keyframes.split(",") if k.strip())
    except ValueError:
        raise ValueError(f"--keyframes {args.keyframes!r}: write frame numbers like 1010,1040") from None
    return Settings(threshold=args.threshold, tolerance=args.tolerance, min_area=args.min_area,
                    smooth=args.smooth, keyframes=keys, max_points=args.max_points)


def run(args: argparse.Namespace) -> int:
    from ..shapes import SourceError, build, open_mattes
    from ..shapes.writer import OutputError, write_outputs

    try:
        formats = _formats(args.to)
        settings = _settings(args)
        mattes = open_mattes(args.mattes)
    except (ValueError, SourceError) as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        shapes, ious = build(mattes, settings)
    except SourceError as exc:  # a frame that cannot be read, met on the way
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    name = args.name or mattes.name
    try:
        files, manifest = write_outputs(shapes, Path(args.out), name, formats, ious,
                                        overwrite=args.overwrite)
    except OutputError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    report = {obj: vars(q) for obj, q in shapes.quality.items()}
    if args.json:
        print(json.dumps({"manifest": str(manifest), "files": [str(f) for f in files],
                          "quality": report}, indent=1))
        return EXIT_OK
    _table(shapes, manifest, files)
    return EXIT_OK


def _table(shapes, manifest: Path, files: list[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"shapes of {shapes.source} (frames {shapes.first}-{shapes.last})")
    for col in ("object", "IoU min", "IoU mean", "points", "constant", "jitter px", "step px",
                "segments"):
        table.add_column(col)
    for obj, q in shapes.quality.items():
        def f(v, d=3):
            return "-" if v is None else f"{v:.{d}f}"
        table.add_row(obj, f(q.iou_min), f(q.iou_mean), str(q.points),
                      "yes" if q.points_constant else "NO", f(q.jitter_px, 2), f(q.step_px, 2),
                      str(q.segments))
    console = Console()
    console.print(table)
    console.print(f"{len(files)} file(s) in {manifest.parent}; manifest {manifest.name}")
