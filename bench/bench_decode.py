"""Decode throughput of the media readers, printed as JSON.

Generates 1080p test media into a temporary folder (H.264 and ProRes HQ by
the bundled ffmpeg's testsrc2, a half-float EXR sequence by OpenImageIO),
then times, in one run so the figures compare:

* ``raw``: ffmpeg → numpy uint8/uint16 (VideoDecode alone, no float conversion),
* ``reader``: open_reader → Frame float32 RGB, the decode thread running ahead
  (what engines see),
* ``seek_ms``: read_frame of a frame in the middle of the clip.

Timings on shared machines are noisy (see shared/MEASURED.md): compare
ratios within one run, and note ``cpus``. ``python3 bench/bench_decode.py
[--frames N] [--size WxH]``; about half a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import OpenImageIO as oiio

from segmatte.server.media import open_reader, probe, read_frame
from segmatte.server.media.video import VideoDecode, ffmpeg_exe


def _make_video(path: str, codec: list[str], frames: int, size: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size={size}:rate=24", "-frames:v", str(frames), *codec, path],
                   check=True)


def _make_exr(folder: str, frames: int, width: int, height: int) -> str:
    rng = np.random.default_rng(0)
    base = (rng.random((height // 8, width // 8, 3), dtype=np.float32) * 2).repeat(8, 0).repeat(8, 1)
    for n in range(1001, 1001 + frames):
        path = os.path.join(folder, f"plate.{n:04d}.exr")
        out = oiio.ImageOutput.create(path)
        spec = oiio.ImageSpec(width, height, 3, "half")
        spec.attribute("compression", "zip")
        out.open(path, spec)
        out.write_image(np.roll(base, n, axis=1))
        out.close()
    return os.path.join(folder, "plate.####.exr")


def _fps(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def _time_raw(info) -> float:
    start = time.perf_counter()
    dec = VideoDecode(info, info.first, info.last)
    count = sum(1 for _ in dec)
    return _fps(count, time.perf_counter() - start)


def _time_reader(info) -> float:
    start = time.perf_counter()
    with open_reader(info, info.first, info.last) as reader:
        count = sum(1 for _ in reader)
    return _fps(count, time.perf_counter() - start)


def _time_seek(info) -> float:
    middle = (info.first + info.last) // 2
    start = time.perf_counter()
    read_frame(info, middle)
    return round((time.perf_counter() - start) * 1000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))

    result: dict[str, object] = {
        "bench": "decode",
        "size": args.size,
        "frames": args.frames,
        "machine": {
            "cpus": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "openimageio": oiio.VERSION_STRING,
            "ffmpeg": os.path.basename(ffmpeg_exe()),
        },
        "threads": {"ffmpeg": "auto (all usable cpus)", "reader": 1, "oiio": oiio.get_int_attribute("threads")},
    }
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        t0 = time.perf_counter()
        h264 = os.path.join(tmp, "h264.mp4")
        prores = os.path.join(tmp, "prores.mov")
        _make_video(h264, ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "24"],
                    args.frames, args.size)
        _make_video(prores, ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
                    max(12, args.frames // 2), args.size)
        exr = _make_exr(tmp, max(12, args.frames // 2), width, height)
        result["generate_s"] = round(time.perf_counter() - t0, 1)

        for name, source in (("h264", h264), ("prores_hq", prores)):
            info = probe(source)
            result[name] = {"frames": info.frame_count, "pix_fmt": info.pix_fmt,
                            "raw_fps": _time_raw(info), "reader_fps": _time_reader(info),
                            "seek_ms": _time_seek(info)}
        info = probe(exr)
        result["exr_half_zip"] = {"frames": info.frame_count, "reader_fps": _time_reader(info),
                                  "seek_ms": _time_seek(info)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
