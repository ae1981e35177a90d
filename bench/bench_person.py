"""Person engine: the bare forward against the whole job, wall and CPU time, as JSON.

- ``forward``: RVM (our module, fused batch norm, channels-last, inference
  mode, recurrent state carried; first frame not timed) per frame at 1080p
  with the engine's auto downsample ratio: ``before`` is the four-channel
  refiner (foreground + alpha) on the input tensor the engine used to build
  (batch stride 3: ~30 % slower kernels), what the engine ran before;
  ``alpha`` the engine's forward now (canonical channels-last input, the
  alpha-only path, used when no foreground layer is asked for); each at 1
  and 2 torch threads.
- ``job``: :func:`run_job` of the person engine on a 1080p H.264 clip of real
  footage (vtest.avi scaled up; a synthetic clip when the asset is missing):
  decode (ffmpeg + conversion), engine, writer pool, manifest, with
  ``SEGMATTE_TORCH_THREADS`` at 1 and 2 (1 is the old "half the cores" on 2
  cores). ``cpu_ms`` is this process's CPU plus ffmpeg's, per frame.
- ``goals``: job fps ÷ bare alpha forward fps at the same thread count
  (goal ≥ 0.9) and the engine forward now ÷ before (goal ≥ 1.5), in wall
  time and, since a shared machine's wall time swings with its load
  (``load_avg``), in CPU time too.
- ``refine_guided_ms``/``reduce_chatter_ms``: the finishing stages per 1080p frame.

Random weights when the real ones are absent (the cost is the same). Shared
machines are noisy (shared/MEASURED.md): each forward figure is the median of
``--repeats``; compare ratios within one run. ``--smoke`` runs a few frames
at a small size so the script cannot rot.

    python3 bench/bench_person.py [--frames 24] [--repeats 5] [--out person.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from segmatte.models.finish.refine import refine_guided
from segmatte.models.finish.temporal import ReduceChatter
from segmatte.models.frames import Matte
from segmatte.models.person.convert_torch import to_upstream_state_dict
from segmatte.models.person.engine_person import (
    PersonEngine,
    auto_downsample_ratio,
    network_input,
)
from segmatte.models.person.modeling_rvm import RVMModel
from segmatte.models.person.weights import load_weights, resolve_weights
from segmatte.server.media.video import ffmpeg_exe
from segmatte.server.pipeline import run_job
from segmatte.server.spec import parse_spec

ASSET = Path(os.environ.get("SEGMATTE_TEST_ASSETS",
                            Path.home() / ".cache/segmatte/test-assets")) / "vtest.avi"


def _weights(tmp: Path) -> tuple[RVMModel, str]:
    try:
        path = resolve_weights()
        return load_weights(path), str(path)
    except Exception:  # noqa: BLE001 - benchmark: fall back to random weights
        model = RVMModel().eval()
        path = tmp / "rvm_mobilenetv3.pth"
        torch.save(to_upstream_state_dict(model), path)
        return model, str(path)


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children (ffmpeg)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _median_step(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn`` over ``repeats`` calls (one warm-up)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def _figure(wall: float, cpu: float) -> dict:
    return {"ms": round(wall * 1e3, 1), "cpu_ms": round(cpu * 1e3, 1),
            "fps": round(1 / wall, 2) if wall > 0 else None}


def bench_forward(model: RVMModel, h: int, w: int, threads: int, repeats: int) -> dict:
    torch.set_num_threads(threads)
    ratio = auto_downsample_ratio(h, w)
    net = model.to(memory_format=torch.channels_last)
    image = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    out = {"ratio": round(ratio, 4)}
    # before: the engine's old input (permute, then unsqueeze: batch stride 3) and
    # the four-channel refiner; alpha: network_input and the alpha-only path.
    old_input = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
    for name, src, foreground in (("before", old_input, True),
                                  ("alpha", network_input(image), False)):
        state = [None]

        @torch.inference_mode()
        def step(src=src, foreground=foreground, state=state) -> None:
            o = net(src, state[0], ratio, foreground=foreground)
            state[0] = o.state

        out[name] = _figure(*_median_step(step, repeats))
    return out


def make_clip(path: Path, frames: int, w: int, h: int) -> str:
    """H.264 of real footage scaled to ``w``×``h`` (synthetic testsrc2 without the asset)."""
    if ASSET.is_file():
        src, what = ["-i", str(ASSET)], f"{ASSET.name} scaled to {w}x{h}"
    else:
        src, what = ["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=24"], "testsrc2"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *src,
                    "-frames:v", str(frames), "-vf", f"scale={w}:{h}", "-c:v", "libx264",
                    "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return what


def bench_job(clip: Path, weights: str, out: Path, threads: int, frames: int) -> dict:
    os.environ["SEGMATTE_TORCH_THREADS"] = str(threads)
    spec = parse_spec({"source": str(clip), "engine": "person", "options": {"weights": weights},
                       "output": {"folder": str(out), "name": f"t{threads}"}})
    c, t = _cpu(), time.perf_counter()
    result = run_job(spec, job_id=f"bench-{threads}", device="cpu")
    wall, cpu = time.perf_counter() - t, _cpu() - c
    assert result.type == "done", result
    return {"frames": frames, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "ms": round(wall / frames * 1e3, 1), "cpu_ms": round(cpu / frames * 1e3, 1),
            "fps": round(frames / wall, 2), "torch_threads": torch.get_num_threads()}


def bench_refine(h: int, w: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    image = rng.random((h, w, 3), dtype=np.float32)
    matte = np.zeros((h, w), np.float32)
    matte[h // 5:h * 5 // 6, w // 3:w * 2 // 3] = 1
    return _figure(*_median_step(lambda: refine_guided(image, matte, band=8), repeats))


def bench_chatter(h: int, w: int, repeats: int, radius: int = 2) -> dict:
    rng = np.random.default_rng(0)
    frames = [rng.random((h, w, 3), dtype=np.float32) for _ in range(3)]
    matte = np.zeros((h, w), np.float32)
    matte[h // 5:h * 5 // 6, w // 3:w * 2 // 3] = 1
    rc = ReduceChatter(0.5, radius)
    n = [0]

    def push() -> None:
        rc.push(frames[n[0] % 3], Matte(n[0], {"matte": matte}))
        n[0] += 1

    for _ in range(2 * radius):  # fill the window: each push then emits one frame
        push()
    return {**_figure(*_median_step(push, repeats)), "radius": radius}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="frames of the whole-job clip")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--threads", default="1,2", help="torch thread counts to compare")
    parser.add_argument("--smoke", action="store_true", help="a few frames at 320x180")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.frames, args.repeats, args.size = 4, 1, "320x180"
    w, h = (int(v) for v in args.size.lower().split("x"))
    threads = [int(t) for t in args.threads.split(",")]
    result: dict = {
        "bench": "person", "size": args.size, "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__, "python": sys.version.split()[0],
        "engine_threads_default": PersonEngine.cpu_threads,
    }
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-person-") as tmp:
        tmp = Path(tmp)
        model, weights = _weights(tmp)
        model = model.fuse_batchnorm().eval()
        result["weights"] = weights
        result["forward"] = {str(t): bench_forward(model, h, w, t, args.repeats) for t in threads}
        clip = tmp / "clip.mp4"
        result["clip"] = make_clip(clip, args.frames, w, h)
        result["job"] = {str(t): bench_job(clip, weights, tmp / f"out{t}", t, args.frames)
                         for t in threads}
        torch.set_num_threads(threads[0])
        result["refine_guided_ms"] = bench_refine(h, w, args.repeats)
        result["reduce_chatter_ms"] = bench_chatter(h, w, args.repeats)
    base = result["forward"][str(threads[0])]["before"]["fps"]
    result["goals"] = {
        f"{t}_threads": {
            "job_over_forward": round(result["job"][str(t)]["fps"]
                                      / result["forward"][str(t)]["alpha"]["fps"], 3),
            "forward_over_before_1_thread": round(result["forward"][str(t)]["alpha"]["fps"] / base,
                                                  3),
            "job_over_before_1_thread_job": round(result["job"][str(t)]["fps"]
                                                  / result["job"][str(threads[0])]["fps"], 3),
            # CPU-bound machine: the forward's share of the job's CPU (decode, write, …
            # included) is what the job could reach with the forward on its own core.
            "forward_cpu_over_job_cpu": round(result["forward"][str(t)]["alpha"]["cpu_ms"]
                                              / result["job"][str(t)]["cpu_ms"], 3),
            "forward_cpu_before_over_now": round(
                result["forward"][str(threads[0])]["before"]["cpu_ms"]
                / result["forward"][str(t)]["alpha"]["cpu_ms"], 3),
        } for t in threads}
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
