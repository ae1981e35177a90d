"""Track engine cost and memory against the bare transformers loop; prints JSON.

Per-frame cost of our engine (bounded session, upsampling, mattes) over the
plain streaming loop (``track_reference`` (tests/)) on the same frames
and prompts, for the tiny test config and for a SAM 2.1-tiny-sized random
config at a small input size; and the session's tensor bytes against clip
length, trimmed vs. untrimmed. Ratios are measured within one run; timings on
shared CPUs are noisy, so compare ratios, not absolutes.

    python bench/bench_track.py [--frames 30] [--threads 1] [--skip-sam2-tiny]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Keyframe, ObjectPrompts, Point
from segmatte.models.track.engine_track import TrackEngine
from segmatte.models.track.streaming import footprint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tiny test models
from tiny_track import tiny_model, tiny_processor, tiny_sam2_config  # noqa: E402
from track_reference import reference_run  # noqa: E402

W, H = 320, 180


def clip_images(n: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    out = {}
    for i in range(n):
        blob = np.exp(-(((xx - 80 - 4 * i) / 40.0) ** 2 + ((yy - 90) / 30.0) ** 2))
        out[i] = (0.2 * rng.random((H, W, 3)) + 0.8 * blob[..., None]).astype(np.float32)
    return out


def sam2_tiny_sized(image_size: int):
    """``Sam2VideoConfig()`` (SAM 2.1 tiny widths and depths) at a smaller input size."""
    from transformers import Sam2VideoConfig

    s = image_size
    cfg = Sam2VideoConfig()
    vc = cfg.vision_config.to_dict()
    vc["backbone_config"]["image_size"] = [s, s]
    vc["backbone_feature_sizes"] = [[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]]
    return Sam2VideoConfig(vision_config=vc, image_size=s,
                           prompt_encoder_config=dict(image_size=s),
                           memory_attention_rope_feat_sizes=[s // 16, s // 16])


def run_ours(parts, images, objects, order):
    clip = ClipInfo(W, H, 24.0, 0, len(images) - 1)
    engine = TrackEngine({}, parts=parts)
    t0 = time.perf_counter()
    engine.open(clip, objects, fetch=lambda n: Frame(n, images[n]))
    t1 = time.perf_counter()
    for _ in engine.stream(Frame(n, images[n]) for n in order):
        pass
    t2 = time.perf_counter()
    fp = footprint(engine.tracker.session)
    return t1 - t0, (t2 - t1) / len(order), fp


def run_bare(parts, images, order):
    sessions = []
    proc = parts[1]
    orig = proc.init_video_session

    def spy(*a, **k):
        sessions.append(orig(*a, **k))
        return sessions[-1]

    proc.init_video_session = spy
    try:
        t0 = time.perf_counter()
        reference_run(*parts, images, order,
                      [(0, 1, dict(input_points=[[[[100.0, 90.0]]]], input_labels=[[[1]]]))], 0)
        dt = time.perf_counter() - t0
    finally:
        proc.init_video_session = orig
    return dt / (len(order) + 1), footprint(sessions[-1])


def compare(name, parts, frames):
    images = clip_images(frames)
    order = list(range(frames))
    objects = [ObjectPrompts(id="o", keyframes=(Keyframe(frame=0, points=(Point(x=100, y=90),)),))]
    with torch.inference_mode():
        run_ours(parts, {i: images[i] for i in range(3)}, objects, [0, 1, 2])  # warm-up
        prime_s, ours_s, fp_ours = run_ours(parts, images, objects, order)
        bare_s, fp_bare = run_bare(parts, images, order)
    return {"config": name, "params": sum(p.numel() for p in parts[0].parameters()),
            "input_size": int(parts[1].target_size), "source": [W, H], "frames": frames,
            "ours_ms_per_frame": round(1e3 * ours_s, 2), "bare_ms_per_frame": round(1e3 * bare_s, 2),
            "ratio_ours_over_bare": round(ours_s / bare_s, 3), "open_prime_ms": round(1e3 * prime_s, 1),
            "session_bytes_ours": fp_ours.tensor_bytes, "session_bytes_bare": fp_bare.tensor_bytes}


def memory_vs_length(parts, lengths):
    rows = []
    for n in lengths:
        images = clip_images(n)
        objects = [ObjectPrompts(id="o", keyframes=(Keyframe(frame=0, points=(Point(x=100, y=90),)),))]
        _, _, fp = run_ours(parts, images, objects, list(range(n)))
        _, fpb = run_bare(parts, images, list(range(n)))
        rows.append({"frames": n, "ours_bytes": fp.tensor_bytes, "ours_entries": fp.entries,
                     "bare_bytes": fpb.tensor_bytes, "bare_entries": fpb.entries})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sam2-size", type=int, default=256)
    ap.add_argument("--skip-sam2-tiny", action="store_true")
    ap.add_argument("--sam2-memory-lengths", default="10,40",
                    help="clip lengths for the memory figures of the SAM 2.1-tiny-sized config")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tiny = (tiny_model(tiny_sam2_config(64)), tiny_processor(64))
    report = {"machine": platform.machine(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "runs": [compare("tiny-64", tiny, args.frames)]}
    if not args.skip_sam2_tiny:
        cfg = sam2_tiny_sized(args.sam2_size)
        parts = (tiny_model(cfg, weight_scale=1.0, object_bias=4.0), tiny_processor(args.sam2_size))
        report["runs"].append(compare(f"sam2.1-tiny-sized-{args.sam2_size}", parts,
                                      max(6, args.frames // 3)))
        lengths = [int(v) for v in args.sam2_memory_lengths.split(",") if v]
        report[f"memory_vs_length_sam2.1-tiny-sized-{args.sam2_size}"] = memory_vs_length(parts, lengths)
    report["memory_vs_length_tiny"] = memory_vs_length(tiny, [10, 30, 90])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
