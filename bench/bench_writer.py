"""How fast mattes get written, and how big they are: 1080p per layout, encoder, zip level.

Prints one JSON object (``--out`` also writes it): frames/s and CPU ms per
frame (median of rounds; the pool rows count all threads), mean bytes per
file. ``oiio_*_bare`` is OpenImageIO encoding to the final name alone — no
temporary file, rename or sha256 re-read — the honest baseline for what the
EXR encoding itself costs; ``oiio_*`` is the same through ``write_matte``. The mattes are realistic: two soft-edged blobs that
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

from segmatte.server.output import exr
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


def run(config: dict, frames: list[np.ndarray], folder: Path,
        seconds: float) -> tuple[float, float, int]:
    """(frames/s, CPU ms per frame, mean bytes per file) for one configuration."""
    kw = dict(channels=config["channels"], encoder=config["encoder"])
    workers = config.get("workers", 0)
    threads = config.get("oiio_threads")
    saved = {k: oiio.get_int_attribute(k) for k in ("threads", "exr_threads")}
    level = exr.ZIP_LEVEL
    if threads:
        for k in saved:
            oiio.attribute(k, threads)
    if config.get("zip_level"):
        exr.ZIP_LEVEL = config["zip_level"]
    try:
        if config.get("bare"):
            return _timed_bare(config["channels"], frames, folder, seconds)
        return _timed(kw, workers, frames, folder, seconds)
    finally:
        exr.ZIP_LEVEL = level
        for k, v in saved.items():
            oiio.attribute(k, v)


def _sizes(folder: Path, n: int) -> int:
    files = [folder / f"bench.{i:04d}.exr" for i in range(min(n, 8))]
    return int(statistics.mean(p.stat().st_size for p in files))


def _timed(
    kw: dict, workers: int, frames: list[np.ndarray], folder: Path, seconds: float
) -> tuple[float, float, int]:
    n = 0
    start, cpu = time.perf_counter(), time.process_time()
    if workers:
        with WriterPool(workers=workers, max_pending=2 * workers) as pool:
            while time.perf_counter() - start < seconds or n < 8:
                path = folder / f"bench.{n % 8:04d}.exr"
                pool.submit(write_matte, path, frames[n % len(frames)], frame=n, **kw)
                n += 1
            pool.drain()
    else:
        while time.perf_counter() - start < seconds or n < 8:
            path = folder / f"bench.{n % 8:04d}.exr"
            write_matte(path, frames[n % len(frames)], **kw)
            n += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return n / wall, cpu / n * 1e3, _sizes(folder, n)


def _timed_bare(channels: str, frames: list[np.ndarray], folder: Path,
                seconds: float) -> tuple[float, float, int]:
    """OpenImageIO encoding straight to the final name: no temporary file, no
    rename, no sha256 re-read (what a plain OIIO writer costs)."""
    names = exr.CHANNEL_NAMES[channels]
    n = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or n < 8:
        a = exr.prepare_alpha(frames[n % len(frames)])
        exr._write_oiio(folder / f"bench.{n % 8:04d}.exr", a, names, "zip", "half", {})
        n += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return n / wall, cpu / n * 1e3, _sizes(folder, n)


CONFIGS = {
    # plain OpenImageIO encode of one A channel: the honest baseline (no temp, rename, sha256)
    "oiio_a_bare": dict(channels="a", encoder="oiio", bare=True),
    "oiio_rgba_bare": dict(channels="rgba", encoder="oiio", bare=True),
    # OpenImageIO through write_matte (temporary file, rename, sha256 of the file)
    "oiio_a": dict(channels="a", encoder="oiio"),
    "oiio_rgba": dict(channels="rgba", encoder="oiio"),
    # plain single-threaded OpenImageIO (exr_threads = threads = 1)
    "oiio_a_1thread": dict(channels="a", encoder="oiio", oiio_threads=1),
    "oiio_rgba_1thread": dict(channels="rgba", encoder="oiio", oiio_threads=1),
    # our half-ZIP encoder, one caller; zlib level of the edge chunks (default exr.ZIP_LEVEL)
    "fast_a": dict(channels="a", encoder="auto"),
    "fast_y": dict(channels="y", encoder="auto"),
    "fast_rgba": dict(channels="rgba", encoder="auto"),
    "fast_rgba_zip4": dict(channels="rgba", encoder="auto", zip_level=4),
    "fast_rgba_zip6": dict(channels="rgba", encoder="auto", zip_level=6),
    "fast_y_zip4": dict(channels="y", encoder="auto", zip_level=4),
    # what the pipeline does: the default layout through the writer pool
    "default_rgba_pool2": dict(channels="rgba", encoder="auto", workers=2),
    "fast_y_pool2": dict(channels="y", encoder="auto", workers=2),
    "oiio_a_pool2": dict(channels="a", encoder="oiio", workers=2),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--seconds", type=float, default=0.8, help="per configuration per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="one short round at 320x180")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.smoke:
        args.width, args.height, args.seconds, args.rounds = 320, 180, 0.05, 1

    frames = mattes(args.width, args.height)
    fps: dict[str, list[float]] = {k: [] for k in CONFIGS}
    cpu: dict[str, list[float]] = {k: [] for k in CONFIGS}
    size: dict[str, int] = {}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        folder = Path(tmp)
        for cfg in CONFIGS.values():  # warm caches and imports
            write_matte(
                folder / "warm.exr", frames[0], channels=cfg["channels"], encoder=cfg["encoder"]
            )
        for _ in range(args.rounds):
            for name, cfg in CONFIGS.items():
                rate, ms, nbytes = run(cfg, frames, folder, args.seconds)
                fps[name].append(rate)
                cpu[name].append(ms)
                size[name] = nbytes
    med = {k: round(statistics.median(v), 1) for k, v in fps.items()}
    cpu_med = {k: round(statistics.median(v), 1) for k, v in cpu.items()}
    result = {
        "bench": "writer",
        "resolution": f"{args.width}x{args.height}",
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_avg": [round(x, 2) for x in load],
        "oiio_threads": oiio.get_int_attribute("threads"),
        "oiio_exr_threads": oiio.get_int_attribute("exr_threads"),
        "zip_level_default": exr.ZIP_LEVEL,
        "pool_workers": 2,
        "rounds": args.rounds,
        "fps_median": med,
        "cpu_ms_per_frame_median": cpu_med,
        "fps_all": {k: [round(x, 1) for x in v] for k, v in fps.items()},
        "bytes_per_frame": size,
        "bytes_rgba_over_a": round(size["fast_rgba"] / size["fast_a"], 2),
        "bytes_rgba_zip4_over_a": round(size["fast_rgba_zip4"] / size["fast_a"], 2),
        "default_path": "fast_rgba (half ZIP RGBA, our encoder); the pipeline runs it as "
                        "default_rgba_pool2",
        "ratio_default_rgba_over_oiio_a_bare": round(med["fast_rgba"] / med["oiio_a_bare"], 2),
        "ratio_default_rgba_over_fast_a": round(med["fast_rgba"] / med["fast_a"], 2),
        "ratio_default_rgba_pool2_over_oiio_a_pool2": round(
            med["default_rgba_pool2"] / med["oiio_a_pool2"], 2),
        "speedup_rgba_fast_over_oiio_bare": round(med["fast_rgba"] / med["oiio_rgba_bare"], 2),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
