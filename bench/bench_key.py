"""Per-frame cost of the key engine's default chroma keyer (``keyer=screen``) on CPU.

One synthetic green-screen frame per size (a screen with fall-off and grain, a
soft-edged subject), keyed by ``KeyEngine().layers`` with torch on one thread
(as a 2-core machine with other work runs it), after one warm-up frame; wall
and process-CPU milliseconds per frame (medians), for the matte alone and with
``foreground`` (the despilled subject colour). ``--baseline PATH`` adds an
earlier run's figures (e.g. of the previous keyer) and the speed-up over them.

    python bench/bench_key.py [--quick | --smoke] [--json PATH] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import add_common_args, emit, timed  # noqa: E402

from segmatte.models.key.engine_key import KeyEngine  # noqa: E402

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920)}


def green_frame(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """H×W×3 display-referred RGB: green screen darker to the right, grain, an elliptic subject."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    rgb = torch.empty(h, w, 3)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.15, 0.7 - 0.3 * xx / w, 0.2
    rgb += 0.02 * torch.randn(h, w, 3, generator=g)
    r = ((yy - h / 2) / (h / 3)) ** 2 + ((xx - w / 2) / (w / 5)) ** 2
    a = (1.0 - (r - 0.95) / 0.1).clamp(0.0, 1.0)[..., None]  # a soft edge a few px wide
    rgb = a * torch.tensor([0.6, 0.45, 0.4]) + (1 - a) * rgb
    return rgb.clamp(0.0, 1.0)


def measure(size: tuple[int, int], frames: int, foreground: bool) -> dict[str, float]:
    """Median per-frame wall and CPU milliseconds (the median: shared cores' load moves the mean)."""
    engine = KeyEngine({"foreground": foreground})
    rgb = green_frame(*size)
    walls, cpus = [], []
    with torch.inference_mode():
        engine.layers(rgb)  # warm-up
        for _ in range(frames):
            with timed("key", 1) as t:
                engine.layers(rgb)
            walls.append(1e3 * t.wall_s)
            cpus.append(1e3 * t.cpu_s)
    return {"wall_ms_per_frame": round(statistics.median(walls), 2),
            "cpu_ms_per_frame": round(statistics.median(cpus), 2),
            "cpu_ms_min": round(min(cpus), 2), "fps": round(1e3 / statistics.median(walls), 2),
            "frames": frames}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--baseline", type=Path, default=None,
                    help="an earlier --json report: its figures and the speed-up go in this one")
    args = ap.parse_args()
    torch.set_num_threads(1)
    frames = 1 if args.smoke else 5 if args.quick else 9
    sizes = {"720p": SIZES["720p"]} if args.smoke else SIZES
    results = {}
    for name, size in sizes.items():
        results[name] = {"matte": measure(size, frames, False)}
        if not args.smoke:
            results[name]["foreground"] = measure(size, frames, True)
    report: dict = {"bench": "key", "keyer": "screen (KeyEngine defaults)", "torch_threads": 1,
                    "results": results}
    if args.baseline is not None:
        base = json.loads(args.baseline.read_text())["results"]
        report["baseline"] = base
        report["speedup_cpu"] = {
            f"{name}.{kind}": round(base[name][kind]["cpu_ms_per_frame"] / r["cpu_ms_per_frame"], 2)
            for name, kinds in results.items() for kind, r in kinds.items()
            if name in base and kind in base[name]}
    emit(report, args.json)


if __name__ == "__main__":
    main()
