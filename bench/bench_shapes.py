#!/usr/bin/env python3
"""Shapes: CPU and wall time per frame of tracing, fitting and measuring, at 1080p.

Prints one JSON object. Mattes: a union of moving soft discs and a rotating
star at 1920×1080 (``--frames`` frames), run through ``build_object`` once
(trace → follow → fit → smooth → measure), then each exporter once. CPU time
(process time, this thread's numpy) is beside wall time; on a shared machine
compare ratios within one run.

Usage: ``python3 bench/bench_shapes.py [--frames 24] [--tolerance 0.3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import shapegen  # noqa: E402

from segmatte.server.shapes.build import Settings, build_object  # noqa: E402
from segmatte.server.shapes.model import ShapeSet  # noqa: E402
from segmatte.server.shapes.raster import quality  # noqa: E402
from segmatte.server.shapes.writer import write_outputs  # noqa: E402

W, H = 1920, 1080


def matte(f: int) -> np.ndarray:
    discs = shapegen.discs(W, H, [(400 + 6 * f, 500, 160), (1400, 300 + 4 * f, 90)], soft=3.0)
    star = shapegen.star(W, H, 1000, 700, 250, 110, 6, 0.02 * f)
    return np.maximum(discs, star)


def timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--tolerance", type=float, default=0.3)
    args = ap.parse_args()
    mattes, make_wall, _ = timed(lambda: {f: matte(f) for f in range(args.frames)})
    settings = Settings(tolerance=args.tolerance)
    res, wall, cpu = timed(lambda: build_object("bench", sorted(mattes), lambda f: mattes[f], settings))
    q = quality(res.shapes, res.ious, args.frames, res.raw)
    shapes = ShapeSet(W, H, 0, args.frames - 1, [res.shapes], settings.to_json(), {"bench": q}, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        _, ewall, ecpu = timed(lambda: write_outputs(shapes, Path(tmp), "bench",
                                                     ["json", "fusion", "nuke", "svg"], {}))
    print(json.dumps({
        "bench": "shapes", "size": f"{W}x{H}", "frames": args.frames,
        "tolerance": args.tolerance, "cpus": os.cpu_count(), "python": platform.python_version(),
        "build_wall_ms_per_frame": round(1000 * wall / args.frames, 1),
        "build_cpu_ms_per_frame": round(1000 * cpu / args.frames, 1),
        "export_wall_ms_per_frame": round(1000 * ewall / args.frames, 1),
        "export_cpu_ms_per_frame": round(1000 * ecpu / args.frames, 1),
        "points": q.points, "segments": q.segments, "iou_min": round(q.iou_min, 4),
        "jitter_px": round(q.jitter_px, 3),
    }))


if __name__ == "__main__":
    main()
