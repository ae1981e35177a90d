"""Frames per second of the semantic engine at 1080p, per model size, with and without smoothing.

No weights are downloaded: each model is the real ``transformers`` class at
its published shape (SegFormer B0 / B2, Mask2Former Swin-T) with random
weights and the ADE20K class list, which costs the same compute as the
trained checkpoint; the JSON says so. Each configuration streams ``--frames``
frames of a moving synthetic 1080p picture through the whole engine (scale,
model, post-processing, probabilities for the requested classes, upsampling
to source size, and reduce-chatter smoothing when on), after one warm-up
frame. Shared machines are noisy: compare figures within one run.

    python bench/bench_semantic.py [--device cuda] [--frames 6] [--models segformer-b0,...]
        [--tile-size 512]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import transformers

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.semantic.engine_semantic import SemanticEngine
from segmatte.models.semantic.segmenter import Segmenter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tiny test models
import tiny_semantic as tiny  # noqa: E402

MODELS = {
    "segformer-b0": ("segformer", lambda: tiny.segformer("b0")),
    "segformer-b2": ("segformer", lambda: tiny.segformer("b2")),
    "mask2former-swin-tiny": ("mask2former", lambda: tiny.mask2former("swin-tiny")),
}


def frames(count: int, width: int, height: int) -> list[Frame]:
    """A textured picture panning 4 px a frame (so optical flow has work to do)."""
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((height // 16, (width + 4 * count) // 16, 3)).astype(np.float32),
                      (width + 4 * count, height), interpolation=cv2.INTER_CUBIC)
    base = np.clip(base, 0, 1)
    return [Frame(n, np.ascontiguousarray(base[:, 4 * n:4 * n + width])) for n in range(count + 1)]


def run(segmenter: Segmenter, clip: list[Frame], device: str, **options) -> float:
    """Frames per second over ``clip[1:]`` after warming up on ``clip[0]``."""
    engine = SemanticEngine({"classes": "sky,people,vehicle", **options}, device=device,
                            segmenter=segmenter)
    h, w = clip[0].image.shape[:2]
    engine.open(ClipInfo(w, h, 24.0, 0, len(clip) - 1))
    engine.matte(clip[0])  # warm-up: kernels, allocator
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    count = sum(1 for _ in engine.stream(clip[1:]))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    engine.close()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--tile-size", type=int, default=None,
                        help="also measure tiled inference at this tile size (full resolution)")
    args = parser.parse_args()

    clip = frames(args.frames, args.width, args.height)
    results = []
    for name in args.models.split(","):
        family, build = MODELS[name]
        model, processor = build()
        segmenter = Segmenter(model.to(args.device), processor, family, args.device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        configs = [dict(smoothing=0.0), dict(smoothing=0.5)]
        if args.tile_size:
            configs += [dict(smoothing=0.0, tile_size=args.tile_size, max_size=None)]
        for config in configs:
            fps = run(segmenter, clip, args.device, **config)
            results.append({"model": name, "params_m": round(params, 1),
                            "processor_input": {k: v for k, v in dict(processor.size).items() if v},
                            **config,
                            "fps": round(fps, 3), "ms_per_frame": round(1000 / fps, 1)})
        del segmenter, model
    print(json.dumps({
        "bench": "semantic",
        "weights": "random init at the published model shapes (no download); compute equals "
                   "the trained checkpoints', outputs are meaningless",
        "resolution": [args.width, args.height],
        "frames": args.frames,
        "classes": "sky,people,vehicle (3 layers)",
        "device": args.device if not args.device.startswith("cuda")
        else torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
