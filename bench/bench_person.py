"""Person engine, edge refinement and reduce-chatter cost per frame, printed as JSON.

- ``person``: RVM (our module, fused batch norm, inference mode) frames/s at
  512² and 1080p with the engine's auto downsample ratio, with and without
  channels-last memory layout, recurrent state carried (first frame not
  timed); ``--threads`` sets torch's intra-op threads.
- ``refine_guided_ms``: :func:`refine_guided` on a 1080p matte (auto subsample).
- ``reduce_chatter_ms``: :class:`ReduceChatter` per pushed 1080p frame (radius 2:
  four DIS flows and warps per frame).

Random weights are used when the real ones are absent (the cost is the same).
Shared machines are noisy (shared/MEASURED.md): each figure is the median of
``--repeats``; compare ratios within one run.

    python3 bench/bench_person.py [--threads 1] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from segmatte.models.finish.refine import refine_guided
from segmatte.models.finish.temporal import ReduceChatter
from segmatte.models.frames import Matte
from segmatte.models.person.engine_person import auto_downsample_ratio
from segmatte.models.person.modeling_rvm import RVMModel
from segmatte.models.person.weights import load_weights, resolve_weights


def _model() -> tuple[RVMModel, str]:
    try:
        path = resolve_weights()
        return load_weights(path).fuse_batchnorm().eval(), str(path)
    except Exception:  # noqa: BLE001 - benchmark: fall back to random weights
        return RVMModel().fuse_batchnorm().eval(), "random"


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_person(model: RVMModel, device: torch.device, repeats: int) -> dict:
    out = {}
    for name, (h, w) in {"512x512": (512, 512), "1920x1080": (1080, 1920)}.items():
        ratio = auto_downsample_ratio(h, w)
        for layout in ("contiguous", "channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            net = model.to(device, memory_format=fmt)
            src = torch.rand(1, 3, h, w, device=device).contiguous(memory_format=fmt)
            state = [None]

            @torch.inference_mode()
            def step(net=net, src=src, state=state, ratio=ratio) -> None:
                o = net(src, state[0], ratio)
                state[0] = o.state
                if device.type == "cuda":
                    torch.cuda.synchronize()

            dt = _time(step, repeats)
            out[f"{name}/{layout}"] = {"ratio": round(ratio, 4), "ms": round(dt * 1e3, 1),
                                       "fps": round(1 / dt, 2)}
    return out


def bench_refine(repeats: int) -> dict:
    rng = np.random.default_rng(0)
    image = rng.random((1080, 1920, 3), dtype=np.float32)
    matte = np.zeros((1080, 1920), np.float32)
    matte[200:900, 600:1300] = 1
    return {"1920x1080": round(_time(lambda: refine_guided(image, matte, band=8), repeats) * 1e3, 1)}


def bench_chatter(repeats: int, radius: int = 2) -> dict:
    rng = np.random.default_rng(0)
    frames = [rng.random((1080, 1920, 3), dtype=np.float32) for _ in range(3)]
    matte = np.zeros((1080, 1920), np.float32)
    matte[200:900, 600:1300] = 1
    rc = ReduceChatter(0.5, radius)
    n = [0]

    def push() -> None:
        rc.push(frames[n[0] % 3], Matte(n[0], {"matte": matte}))
        n[0] += 1

    for _ in range(2 * radius):  # fill the window: each push then emits one frame
        push()
    return {"1920x1080": round(_time(push, repeats) * 1e3, 1), "radius": radius}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, weights = _model()
    print(json.dumps({
        "machine": platform.machine(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
        "device": str(device), "torch": torch.__version__, "weights": weights,
        "person": bench_person(model, device, args.repeats),
        "refine_guided_ms": bench_refine(args.repeats),
        "reduce_chatter_ms": bench_chatter(args.repeats),
    }, indent=2))


if __name__ == "__main__":
    main()
