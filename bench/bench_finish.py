"""How long finishing and the key engine take per frame, on CPU or a GPU.

Prints one JSON object: median milliseconds per frame for each finishing op
at a few sizes (choke and feather cost grows with the radius), for a full
Finisher pass, for ``--refine guided`` (a soft matte; a hard mask, its band
solved by closed-form matting or filtered only), and for the chroma and
difference keys. Shared machines are
noisy: each figure is the median of several repeats, and the numbers are for
comparing with each other within one run, not for asserting on.

    python bench/bench_finish.py [--device cuda] [--width 1920 --height 1080] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from segmatte.models.finish import ops
from segmatte.models.finish.finisher import Finisher
from segmatte.models.finish.options import FinishOptions
from segmatte.models.finish.refine import refine_guided
from segmatte.models.frames import ClipInfo, Frame, Matte
from segmatte.models.key.engine_key import KeyEngine


def soft_blob(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    d = np.hypot(xx - width * 0.45, yy - height * 0.5)
    return np.clip((height * 0.3 - d) / 12 + 0.5, 0.0, 1.0).astype(np.float32)


def green_frame(alpha: np.ndarray) -> np.ndarray:
    screen = np.array([0.1, 0.75, 0.15], np.float32)
    fg = np.array([0.8, 0.5, 0.4], np.float32)
    return (alpha[..., None] * fg + (1 - alpha[..., None]) * screen).astype(np.float32)


def median_ms(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up (kernels, allocator)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    alpha = soft_blob(args.width, args.height)
    a = ops.as_tensor(alpha, device)

    def ms(fn) -> float:
        return median_ms(fn, args.repeats, device)

    figures: dict[str, float] = {}
    figures["threshold_soft"] = ms(lambda: ops.threshold(a, 0.5, 0.2))
    for r in (1, 2.5, 8, 32, 128):
        figures[f"choke_{r}"] = ms(lambda r=r: ops.choke(a, r))
    for s in (1, 4, 16, 64):
        figures[f"feather_{s}"] = ms(lambda s=s: ops.feather(a, s))
    figures["clip"] = ms(lambda: ops.clip(a, 0.1, 0.9))

    options = FinishOptions(threshold=0.5, softness=0.2, choke=2.5, feather=2.0,
                            clip_black=0.05, clip_white=0.95)
    finisher = Finisher(options, device=device)
    matte = Matte(1, {"a": alpha, "b": alpha[::-1].copy()})
    figures["finisher_2_layers_numpy"] = ms(lambda: finisher.apply(matte))

    # --refine guided: a soft matte (filter only), and a tracker's hard mask whose
    # contour is 4 px off (its band solved by closed-form matting, or filtered only).
    image = green_frame(alpha)
    hard = (np.roll(alpha, 4, axis=1) >= 0.5).astype(np.float32)
    figures["refine_soft_matte"] = ms(lambda: refine_guided(image, alpha, device=device))
    figures["refine_hard_mask"] = ms(lambda: refine_guided(image, hard, device=device))
    figures["refine_hard_mask_filter_only"] = ms(
        lambda: refine_guided(image, hard, solve=False, device=device))

    clip = ClipInfo(args.width, args.height, 24.0, 1, 1)
    frame = Frame(1, green_frame(alpha))
    chroma = KeyEngine(device=str(device))
    chroma.open(clip)
    figures["key_chroma_numpy"] = ms(lambda: next(chroma.stream([frame])))
    plate = Frame(0, green_frame(np.zeros_like(alpha)))
    diff = KeyEngine({"mode": "difference", "clean_plate": 0}, device=str(device))
    diff.open(clip, fetch=lambda n: plate)
    figures["key_difference_numpy"] = ms(lambda: next(diff.stream([frame])))

    print(json.dumps({
        "bench": "finish", "device": str(device), "width": args.width, "height": args.height,
        "threads": torch.get_num_threads(), "repeats": args.repeats, "median_ms": figures,
    }, indent=2))


if __name__ == "__main__":
    main()
