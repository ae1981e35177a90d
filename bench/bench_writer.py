"""How fast mattes get written: frames/s at 1080p per layout and encoder.

Prints one JSON object. The mattes are realistic: two soft-edged blobs that
move a little from frame to frame, exact 0/1 away from the edges. Timings on
shared machines are noisy, so the configurations are measured in interleaved
rounds and the median is kept; compare the ratios printed by one run.

    python bench/bench_writer.py [--seconds 2.5] [--width 1920 --height 1080]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from segmatte.server.output.exr import write_matte
from segmatte.server.output.writer_pool import WriterPool


def mattes(width: int, height: int, count: int = 8) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for i in range(count):

        def blob(cx: float, cy: float, r: float, soft: float) -> np.ndarray:
            d = np.hypot(xx - cx, yy - cy)
            return np.clip((r - d) / soft + 0.5, 0.0, 1.0)

        s = width / 1920
        a = np.maximum(
            blob((700 + 6 * i) * s, (500 + 2 * i) * s, 300 * s, 12 * s),
            blob((1300 - 4 * i) * s, 600 * s, 200 * s, 20 * s),
        )
        out.append(a.astype(np.float32))
    return out


def run(config: dict, frames: list[np.ndarray], folder: Path, seconds: float) -> tuple[float, int]:
    """(frames/s, bytes of the last file) for one configuration."""
    kw = dict(channels=config["channels"], encoder=config["encoder"])
    workers = config.get("workers", 0)
    threads = config.get("oiio_threads")
    saved = {k: oiio.get_int_attribute(k) for k in ("threads", "exr_threads")}
    if threads:
        for k in saved:
            oiio.attribute(k, threads)
    try:
        return _timed(kw, workers, frames, folder, seconds)
    finally:
        for k, v in saved.items():
            oiio.attribute(k, v)


def _timed(
    kw: dict, workers: int, frames: list[np.ndarray], folder: Path, seconds: float
) -> tuple[float, int]:
    n = 0
    start = time.perf_counter()
    path = folder / "bench.0000.exr"
    if workers:
        with WriterPool(workers=workers, max_pending=2 * workers) as pool:
            while time.perf_counter() - start < seconds:
                path = folder / f"bench.{n % 8:04d}.exr"
                pool.submit(write_matte, path, frames[n % len(frames)], frame=n, **kw)
                n += 1
            pool.drain()
    else:
        while time.perf_counter() - start < seconds:
            path = folder / f"bench.{n % 8:04d}.exr"
            write_matte(path, frames[n % len(frames)], **kw)
            n += 1
    return n / (time.perf_counter() - start), path.stat().st_size


CONFIGS = {
    # OpenImageIO as the issue measured it (its own exr_threads, one caller)
    "oiio_a": dict(channels="a", encoder="oiio"),
    "oiio_y": dict(channels="y", encoder="oiio"),
    "oiio_rgba": dict(channels="rgba", encoder="oiio"),
    # plain single-threaded OpenImageIO (exr_threads = threads = 1)
    "oiio_a_1thread": dict(channels="a", encoder="oiio", oiio_threads=1),
    "oiio_rgba_1thread": dict(channels="rgba", encoder="oiio", oiio_threads=1),
    # our half-ZIP encoder, one caller
    "fast_a": dict(channels="a", encoder="auto"),
    "fast_y": dict(channels="y", encoder="auto"),
    "fast_rgba": dict(channels="rgba", encoder="auto"),
    # what the pipeline does: the default layout through the writer pool
    "default_rgba_pool2": dict(channels="rgba", encoder="auto", workers=2),
    "oiio_a_pool2": dict(channels="a", encoder="oiio", workers=2),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--seconds", type=float, default=0.8, help="per configuration per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    frames = mattes(args.width, args.height)
    fps: dict[str, list[float]] = {k: [] for k in CONFIGS}
    size: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        folder = Path(tmp)
        for cfg in CONFIGS.values():  # warm caches and imports
            write_matte(
                folder / "warm.exr", frames[0], channels=cfg["channels"], encoder=cfg["encoder"]
            )
        for _ in range(args.rounds):
            for name, cfg in CONFIGS.items():
                rate, nbytes = run(cfg, frames, folder, args.seconds)
                fps[name].append(rate)
                size[name] = nbytes
    med = {k: round(statistics.median(v), 1) for k, v in fps.items()}
    print(
        json.dumps(
            {
                "resolution": f"{args.width}x{args.height}",
                "cpu_count": os.cpu_count(),
                "affinity": len(os.sched_getaffinity(0))
                if hasattr(os, "sched_getaffinity")
                else None,
                "oiio_threads": oiio.get_int_attribute("threads"),
                "oiio_exr_threads": oiio.get_int_attribute("exr_threads"),
                "pool_workers": 2,
                "rounds": args.rounds,
                "fps_median": med,
                "fps_all": {k: [round(x, 1) for x in v] for k, v in fps.items()},
                "bytes_per_frame": size,
                "default_path": "fast_rgba (half ZIP RGBA, our encoder); the pipeline runs it as default_rgba_pool2",
                "ratio_default_rgba_over_oiio_a": round(med["fast_rgba"] / med["oiio_a"], 2),
                "ratio_default_rgba_over_fast_a": round(med["fast_rgba"] / med["fast_a"], 2),
                "ratio_default_rgba_pool2_over_oiio_a_pool2": round(
                    med["default_rgba_pool2"] / med["oiio_a_pool2"], 2
                ),
                "ratio_default_rgba_over_oiio_a_1thread": round(
                    med["fast_rgba"] / med["oiio_a_1thread"], 2
                ),
                "speedup_rgba_fast_over_oiio": round(med["fast_rgba"] / med["oiio_rgba"], 2),
                "speedup_rgba_fast_over_oiio_1thread": round(
                    med["fast_rgba"] / med["oiio_rgba_1thread"], 2
                ),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
