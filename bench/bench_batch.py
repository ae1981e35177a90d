#!/usr/bin/env python3
"""Batch throughput: shots/hour and frames/s, in this process vs on local Ray.

Prints one JSON object. A small batch (``--shots`` green-screen clips cut
into an EDL, key engine) runs once in-process (shots one after another) and
once on a local Ray instance with ``--workers`` actors (``num_gpus=0``).
Ray's start-up (``ray_start_s``) and actor start (``actors_start_s``, which
includes importing the pipeline in each worker) are reported apart from the
batch's own time. ``local_1_thread`` repeats the in-process run with one torch
thread, as Ray gives each 1-CPU worker (``OMP_NUM_THREADS=1``): on a busy
2-core machine torch's default thread count fights the decoder and writer
threads. On a 2-core machine two Ray workers compete with each other
and with the driver for the cores: compare ratios within one run and note
``cpus``; the point of Ray is many GPUs, which this cannot show.

Usage: ``python3 bench/bench_batch.py [--shots 6] [--frames 48] [--size 320x240] [--workers 2]``
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

# the local Ray instance binds to 127.0.0.1 only (read by Ray at import)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import clipgen  # noqa: E402

from segmatte.server.batch.driver import run_batch  # noqa: E402
from segmatte.server.batch.plan import BatchSettings  # noqa: E402
from segmatte.server.batch.runner_local import InProcessRunner  # noqa: E402
from segmatte.server.batch.shots import read_shots  # noqa: E402


def make_cut(folder: Path, shots: int, frames: int, w: int, h: int) -> Path:
    """``shots`` clips with start timecodes an hour apart, each used whole by one EDL event."""
    distinct = [clipgen.green_screen(n * 3, w, h)[0] for n in range(8)]
    lines = ["TITLE: bench", "FCM: NON-DROP FRAME", ""]
    rec = 0
    for i in range(shots):
        path = folder / f"shot{i:03d}.mp4"
        tc = f"{i + 1:02d}:00:00:00"
        clipgen.write_video(path, (distinct[n % len(distinct)] for n in range(frames)), 24.0,
                            codec="h264", pix_fmt="yuv444p", crf=12, timecode=tc)
        src_out = f"{i + 1:02d}:00:{frames // 24:02d}:{frames % 24:02d}"
        r_in, r_out = _tc(rec), _tc(rec + frames)
        lines += [f"{i + 1:03d}  S{i:03d}     V     C        {tc} {src_out} {r_in} {r_out}",
                  f"* SOURCE FILE: {path}"]
        rec += frames
    edl = folder / "bench.edl"
    edl.write_text("\n".join(lines) + "\n")
    return edl


def _tc(frames: int, fps: int = 24) -> str:
    s, f = divmod(frames, fps)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def figures(seconds: float, shots: int, frames: int) -> dict[str, float]:
    return {"seconds": round(seconds, 2),
            "shots_per_hour": round(shots * 3600 / seconds, 1) if seconds else 0.0,
            "frames_per_s": round(frames / seconds, 2) if seconds else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=6)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    w, h = map(int, args.size.lower().split("x"))
    result: dict[str, object] = {
        "shots": args.shots, "frames_per_shot": args.frames, "size": args.size,
        "engine": "key", "cpus": os.cpu_count(), "python": platform.python_version()}

    with tempfile.TemporaryDirectory(prefix="segmatte-bench-batch-") as tmp:
        tmp = Path(tmp)
        shots = read_shots(make_cut(tmp, args.shots, args.frames, w, h))
        total = sum(s.frames for s in shots)

        # warm-up (imports, first-call set-up), as the Ray actors get theirs before timing
        run_batch(shots[:1], BatchSettings(output=tmp / "warm"), InProcessRunner())
        import torch

        threads = torch.get_num_threads()
        t0 = time.perf_counter()
        local = run_batch(shots, BatchSettings(output=tmp / "local"), InProcessRunner())
        result["local"] = {**figures(time.perf_counter() - t0, args.shots, total),
                           "torch_threads": threads}
        assert local.ok, local.manifest.to_dict()
        # Ray gives each 1-CPU worker one torch thread; the same in-process, for comparison
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        run_batch(shots, BatchSettings(output=tmp / "local1"), InProcessRunner())
        result["local_1_thread"] = {**figures(time.perf_counter() - t0, args.shots, total),
                                    "torch_threads": 1}
        torch.set_num_threads(threads)

        try:
            import ray
        except ImportError:
            result["ray"] = "not installed"
        else:
            from segmatte.server.batch.runner_ray import RayRunner, RaySettings

            t0 = time.perf_counter()
            ray.init(num_cpus=max(2, args.workers), include_dashboard=False, log_to_driver=False)
            result["ray_start_s"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            runner = RayRunner(RaySettings(address=None, workers=args.workers, num_gpus=0))
            ray.get([wk.stats.remote() for wk in runner.workers])  # actors up
            result["actors_start_s"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            remote = run_batch(shots, BatchSettings(output=tmp / "ray"), runner)
            result["ray"] = {**figures(time.perf_counter() - t0, args.shots, total),
                             "workers": args.workers}
            assert remote.ok, remote.manifest.to_dict()
            runner.close()
            ray.shutdown()
            result["ray_vs_local"] = round(result["local"]["seconds"] / result["ray"]["seconds"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
