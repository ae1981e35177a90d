#!/usr/bin/env python3
"""Whole-pipeline throughput against its slowest stage and a naive sequential loop.

Prints one JSON object. Every figure comes from this one run on this machine:
each stage alone (decode, key engine + finishing, EXR writing through the
pool), the overlapped pipeline (``run_job``), and a naive loop that decodes,
keys and writes one frame at a time with no overlap. The goals are
``pipeline / slowest stage >= 0.9`` and ``pipeline / naive > 1``.

Usage: ``python3 bench/bench_pipeline.py [--frames 90] [--size 1920x1080] [--channels rgba]``
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import clipgen  # noqa: E402

from segmatte.models import device as device_config  # noqa: E402
from segmatte.models.finish.finisher import Finisher  # noqa: E402
from segmatte.models.frames import ClipInfo, Frame  # noqa: E402
from segmatte.models.key.engine_key import KeyEngine  # noqa: E402
from segmatte.server.media import open_reader, probe, to_display  # noqa: E402
from segmatte.server.media.video import VideoDecode  # noqa: E402
from segmatte.server.output.exr import sequence_path, write_matte  # noqa: E402
from segmatte.server.output.writer_pool import WriterPool  # noqa: E402
from segmatte.server.pipeline import run_job  # noqa: E402
from segmatte.server.spec import parse_spec  # noqa: E402


def make_clip(path: Path, frames: int, w: int, h: int) -> None:
    """A green-screen H.264 clip; a handful of distinct frames, cycled (fast to make)."""
    distinct = [clipgen.green_screen(n * 3, w, h)[0] for n in range(8)]
    clipgen.write_video(path, (distinct[n % len(distinct)] for n in range(frames)), 24.0,
                        codec="h264", pix_fmt="yuv444p", crf=12)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--channels", default="rgba", choices=("rgba", "a", "y"))
    args = ap.parse_args()
    w, h = map(int, args.size.lower().split("x"))
    device_config.configure("cpu")  # the thread count run_job uses, for every stage alike

    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mp4"
        make_clip(clip, args.frames, w, h)
        info = probe(str(clip))
        n = info.frame_count
        clip_info = ClipInfo(w, h, info.fps or 24.0, info.first, info.last)

        # decode alone
        t = time.perf_counter()
        frames_kept = []
        decoded = 0
        with open_reader(info, info.first, info.last) as reader:
            for frame in reader:
                decoded += 1
                if len(frames_kept) < 24:
                    frames_kept.append(frame)
        decode_s = time.perf_counter() - t

        # engine + finishing alone (on frames already in memory)
        engine = KeyEngine()
        engine.open(clip_info)
        finisher = Finisher()
        mattes = []
        t = time.perf_counter()
        for i in range(n):
            frame = frames_kept[i % len(frames_kept)]
            matte = finisher.apply(next(engine.stream([frame])))
            if i < 24:
                mattes.append(matte)
        engine_s = time.perf_counter() - t

        # writing alone, through the pool the pipeline uses
        out = tmp / "w"
        out.mkdir()
        t = time.perf_counter()
        with WriterPool(workers=2, max_pending=4) as pool:
            for i in range(n):
                alpha = mattes[i % len(mattes)].layer()
                pool.submit(write_matte, sequence_path(out, "w", i), alpha, channels=args.channels,
                            metadata={"frame": i}, frame=i)
            pool.drain()
        write_s = time.perf_counter() - t

        # the pipeline, overlapped
        spec = parse_spec({"source": str(clip), "engine": "key",
                           "output": {"folder": str(tmp / "p"), "name": "p",
                                      "channels": args.channels}})
        t = time.perf_counter()
        result = run_job(spec, job_id="bench")
        pipeline_s = time.perf_counter() - t
        assert result.type == "done", result

        # a naive loop: decode one frame (ffmpeg pipe, same thread), key it, write it, next
        engine2 = KeyEngine()
        engine2.open(clip_info)
        naive_dir = tmp / "naive"
        naive_dir.mkdir()
        t = time.perf_counter()
        decode = VideoDecode(info, info.first, info.last)
        for number, raw in decode:
            frame = Frame(number, to_display(raw, linear=False))
            matte = finisher.apply(next(engine2.stream([frame])))
            write_matte(sequence_path(naive_dir, "n", number), matte.layer(),
                        channels=args.channels, metadata={"frame": number})
        decode.close()
        naive_s = time.perf_counter() - t

    stages = {"decode": rate(decoded, decode_s), "engine_finish": rate(n, engine_s),
              "write": rate(n, write_s)}
    slowest = min(stages, key=stages.get)
    pipeline_fps = rate(n, pipeline_s)
    naive_fps = rate(n, naive_s)
    print(json.dumps({
        "bench": "pipeline",
        "frames": n, "size": [w, h], "channels": args.channels,
        "cores": os.cpu_count(), "torch_threads": __import__("torch").get_num_threads(),
        "python": platform.python_version(),
        "ffmpeg": subprocess.run([clipgen._ffmpeg(), "-version"], capture_output=True,
                                 text=True).stdout.split("\n")[0],
        "stage_fps": stages,
        "slowest_stage": slowest,
        "pipeline_fps": pipeline_fps,
        "naive_sequential_fps": naive_fps,
        "pipeline_vs_slowest": round(pipeline_fps / stages[slowest], 3),
        "pipeline_vs_naive": round(pipeline_fps / naive_fps, 3) if naive_fps else None,
        "goal_pipeline_vs_slowest": 0.9,
        "note": "stage rates are each measured alone with the machine to themselves; "
                "the pipeline runs them at once on the same cores",
    }, indent=2))


if __name__ == "__main__":
    main()
