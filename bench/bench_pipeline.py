#!/usr/bin/env python3
"""Whole-job throughput against what its stages allow on this machine, per engine.

Prints one JSON object. For each engine (``key`` on a green-screen clip,
``track`` with the tiny random SAM 2 config from tests/, ``person`` with the
real RVM weights from the test assets) every stage runs alone first, wall and
process CPU: ``check_job`` (probe, validation — a fixed cost), engine creation
and ``open`` (weights load — fixed), decode, engine + finishing on frames in
memory, and writing through the pool. Then the real job (``run_job``, which
pays check_job and engine creation itself) runs, wall and CPU. The honest P1
(:mod:`benchkit`) is the job's time over ``fixed + frames × max(slowest
stage, Σ stage CPU ÷ cores)``: on a CPU-bound machine the bound is the CPU,
not the slowest stage. The full mode adds a naive sequential loop.

Usage: ``python3 bench/bench_pipeline.py [--smoke|--quick] [--json PATH]
[--engines key,track,person] [--frames N] [--size 1920x1080] [--channels rgba]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import benchkit  # noqa: E402
import clipgen  # noqa: E402

from segmatte.models import device as device_config  # noqa: E402
from segmatte.models import registry  # noqa: E402
from segmatte.models.finish.stage import FinishStage  # noqa: E402
from segmatte.models.frames import ClipInfo  # noqa: E402
from segmatte.server.media import open_reader  # noqa: E402
from segmatte.server.output.writer_pool import WriterPool  # noqa: E402
from segmatte.server.pipeline import check_job, run_job, write_frame  # noqa: E402
from segmatte.server.spec import parse_spec  # noqa: E402

KEEP = 12  # decoded frames held in memory for the engine-alone stage (cycled)


def make_green(path: Path, frames: int, w: int, h: int) -> None:
    """A green-screen H.264 clip; a handful of distinct frames, cycled (fast to make)."""
    distinct = [clipgen.green_screen(n * 3, w, h)[0] for n in range(8)]
    clipgen.write_video(path, (distinct[n % len(distinct)] for n in range(frames)), 24.0,
                        codec="h264", pix_fmt="yuv444p", crf=12)


def make_person(path: Path, frames: int, w: int, h: int) -> Path | None:
    """vtest.avi (real pedestrians) cut to ``frames`` and scaled to ``w``×``h``; None if absent."""
    from segmatte.models.person.weights import assets_root

    found = sorted(assets_root().rglob("vtest.avi")) if assets_root().is_dir() else []
    if not found:
        return None
    subprocess.run([clipgen._ffmpeg(), "-v", "error", "-y", "-i", str(found[0]), "-frames:v",
                    str(frames), "-vf", f"scale={w}:{h}", "-c:v", "libx264", "-crf", "14",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def person_weights() -> str | None:
    try:
        from segmatte.models.person.weights import resolve_weights

        return str(resolve_weights())
    except Exception:  # noqa: BLE001 - absent weights: the engine is skipped and said so
        return None


def spec_for(engine: str, tmp: Path, frames: int, used: int, w: int, h: int, channels: str):
    """The job spec of one engine's case (its first ``used`` frames of a ``frames``-long
    source, made here); None and why if it cannot run here."""
    out = {"folder": str(tmp / f"out-{engine}"), "name": engine, "channels": channels}
    common = {"output": out, "range": {"first": 0, "last": used - 1}}
    if engine == "key":
        src = tmp / "green.mp4"
        if not src.exists():
            make_green(src, frames, w, h)
        return parse_spec({"source": str(src), "engine": "key", **common}), None
    if engine == "track":
        src = tmp / "green.mp4"
        if not src.exists():
            make_green(src, frames, w, h)
        # the disc's centre on frame 0 (clipgen.green_screen)
        point = {"x": round(w * 0.25, 1), "y": round(h * 0.5, 1)}
        return parse_spec({"source": str(src), "engine": "track", **common,
                           "objects": [{"id": "disc", "keyframes": [
                               {"frame": 0, "points": [point]}]}]}), None
    if engine == "person":
        if person_weights() is None:
            return None, "RVM weights not found (python3 install/test_assets.py)"
        src = make_person(tmp / "person.mp4", used, w, h)
        if src is None:
            return None, "vtest.avi not found (python3 install/test_assets.py)"
        return parse_spec({"source": str(src), "engine": "person", **common}), None
    raise ValueError(engine)


def measure(spec, naive: bool) -> dict:
    """Every stage alone, then the job; wall and CPU of each, and the honest P1."""
    from segmatte.models.frames import Frame

    device_config.configure("cpu")  # the thread count run_job uses, for every stage alike
    with benchkit.timed("check_job") as check:
        plan = check_job(spec)
    n = plan.last - plan.first + 1
    clip = ClipInfo(plan.media.width, plan.media.height, plan.media.fps or 24.0, plan.first,
                    plan.last)
    with benchkit.timed("engine_open") as opened:
        engine = registry.engine_class(plan.engine_cls)(plan.options, model=spec.model, device="cpu")
        engine.schedule(spec.direction, None)
        engine.open(clip, spec.objects)

    kept: list[Frame] = []
    with benchkit.timed("decode", n) as decode:
        with open_reader(plan.media, plan.first, plan.last) as reader:
            for frame in reader:
                if len(kept) < KEEP:
                    kept.append(frame)

    stage = FinishStage(spec.finish, device="cpu")
    mattes = []
    with benchkit.timed("engine_finish", n) as compute:
        def picture(number: int) -> Frame:
            return Frame(number, kept[(number - plan.first) % len(kept)].image)

        for matte in engine.stream(picture(plan.first + i) for i in range(n)):
            for done in stage.push(picture(matte.number), matte):
                if len(mattes) < KEEP:
                    mattes.append(done)
        stage.flush()
    engine.close()

    meta = {"engine": spec.engine, "source": spec.source}
    plan.folder.mkdir(parents=True, exist_ok=True)
    with benchkit.timed("write", n) as write:
        with WriterPool(workers=2, max_pending=4) as pool:
            for i in range(n):
                m = mattes[i % len(mattes)]
                m = type(m)(number=plan.first + i, layers=m.layers, scores=m.scores)
                pool.submit(write_frame, plan, m, meta, frame=m.number)
            pool.drain()
    shutil.rmtree(plan.folder, ignore_errors=True)  # else the job would resume from these

    import torch

    with benchkit.timed("job", n) as job:
        result = run_job(spec, job_id="bench", device="cpu")
    if result.type != "done":
        raise RuntimeError(f"the {spec.engine} job failed: {result}")
    threads = torch.get_num_threads()
    shutil.rmtree(plan.folder, ignore_errors=True)

    stages = [decode, compute, write]
    p1 = benchkit.honest_p1(job, stages, fixed=[check, opened])
    report = {"engine": spec.engine, "frames": n, "size": [plan.media.width, plan.media.height],
              "torch_threads": threads,
              "stages": {t.name: t.to_dict() for t in (check, opened, *stages)},
              "job": job.to_dict(), "p1": p1}
    if naive:
        report["naive_sequential"] = naive_loop(spec, plan, clip).to_dict()
        report["job_vs_naive"] = round(report["naive_sequential"]["wall_s"] / job.wall_s, 3)
    return report


def naive_loop(spec, plan, clip) -> benchkit.Timing:
    """Decode one frame, compute it, write it, next: no overlap, same engine and writer."""
    engine = registry.engine_class(plan.engine_cls)(plan.options, model=spec.model, device="cpu")
    engine.schedule(spec.direction, None)
    engine.open(clip, spec.objects)
    stage = FinishStage(spec.finish, device="cpu")
    meta = {"engine": spec.engine, "source": spec.source}
    plan.folder.mkdir(parents=True, exist_ok=True)
    with benchkit.timed("naive", plan.last - plan.first + 1) as t:
        with open_reader(plan.media, plan.first, plan.last) as reader:
            frames = iter(reader)
            held: list = []

            def feed():
                for f in frames:
                    held.append(f)
                    yield f

            for matte in engine.stream(feed()):
                for done in stage.push(held.pop(0), matte):
                    write_frame(plan, done, meta)
    engine.close()
    shutil.rmtree(plan.folder, ignore_errors=True)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="key,track,person")
    ap.add_argument("--frames", type=int, default=None, help="per engine (default by mode)")
    ap.add_argument("--size", default=None, help="WxH (default 1920x1080; smoke 320x180)")
    ap.add_argument("--channels", default="rgba", choices=("rgba", "a", "y"))
    benchkit.add_common_args(ap)
    args = ap.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    w, h = map(int, (args.size or ("320x180" if args.smoke else "1920x1080")).lower().split("x"))
    default_frames = {"smoke": {"key": 6, "track": 4, "person": 3},
                      "quick": {"key": 24, "track": 12, "person": 8},
                      "full": {"key": 90, "track": 36, "person": 30}}[mode]
    report: dict = {"bench": "pipeline", "mode": mode, "channels": args.channels, "engines": {}}
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        tmp = Path(tmp)
        if "track" in args.engines:  # the tiny random SAM 2 where the catalog's sam2.1-tiny lives
            from tiny_track import save_hub

            os.environ["HF_HUB_CACHE"] = str(save_hub(tmp / "hub"))
            os.environ["HF_HUB_OFFLINE"] = "1"
        longest = max(default_frames.values()) if args.frames is None else args.frames
        for name in args.engines.split(","):
            frames = args.frames or default_frames[name]
            spec, why = spec_for(name, tmp, longest, frames, w, h, args.channels)
            if spec is None:
                report["engines"][name] = {"skipped": why}
                continue
            report["engines"][name] = measure(spec, naive=mode == "full")
    report["note"] = ("stages are each measured alone; the job runs them at once on the same "
                      "cores, so p1.honest_p1 (job over max(slowest stage, stage CPU / cores), plus "
                      "the fixed check_job and engine_open) is the fair figure on a CPU-bound machine")
    benchkit.emit(report, args.json)


if __name__ == "__main__":
    main()
