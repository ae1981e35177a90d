"""Text engine cost and memory against the bare transformers loop; prints JSON.

Per-frame cost of our engine (detection with NMS and the cap, instance
layers, the bounded tracking session, upsampling, mattes, the union layer)
over the plain loop of :mod:`text_reference` (tests/) (``Sam3Model`` on
the keyframe, each instance's mask into an unbounded
``Sam3TrackerVideoModel`` streaming session) on the same frames and text,
wall and CPU time; and the tracking session's tensor bytes against clip
length, ours vs. bare. Random tiny SAM 3 checkpoints (real classes) at two
input sizes: timings on shared CPUs are noisy, so compare ratios within a
run, not absolutes. The goal: ratio <= 1.05 and flat memory.

    python bench/bench_text.py [--frames 30] [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.prompts import Keyframe, ObjectPrompts
from segmatte.models.text.engine_text import TextEngine
from segmatte.models.text.loader import TextParts, share_backbone
from segmatte.models.track.streaming import footprint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tiny test models
from text_reference import text_reference_run  # noqa: E402
from tiny_text import save_checkpoint, tiny_config  # noqa: E402

W, H = 320, 180
TEXT = "red car"
OPTIONS = dict(detection_threshold=0.5, max_instances=4, nms_iou=1.0)


def clip_images(n: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    out = {}
    for i in range(n):
        blob = np.exp(-(((xx - 80 - 4 * i) / 40.0) ** 2 + ((yy - 90) / 30.0) ** 2))
        out[i] = (0.2 * rng.random((H, W, 3)) + 0.8 * blob[..., None]).astype(np.float32)
    return out


def load_parts(image_size: int, **tracker_overrides) -> TextParts:
    from transformers import (
        Sam3Model,
        Sam3Processor,
        Sam3TrackerVideoModel,
        Sam3TrackerVideoProcessor,
    )

    folder = tempfile.mkdtemp(prefix="bench-text-")
    cfg = tiny_config(image_size, tracker_overrides=tracker_overrides or None)
    save_checkpoint(folder, config=cfg)
    det, trk = Sam3Model.from_pretrained(folder).eval(), Sam3TrackerVideoModel.from_pretrained(
        folder).eval()
    share_backbone(det, trk)
    return TextParts(det, Sam3Processor.from_pretrained(folder), trk,
                     Sam3TrackerVideoProcessor.from_pretrained(folder))


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def run_ours(parts: TextParts, images: dict[int, np.ndarray]):
    objects = [ObjectPrompts(id="car", keyframes=(Keyframe(frame=0, text=TEXT),))]
    engine = TextEngine(OPTIONS, parts=parts)
    engine.open(ClipInfo(W, H, 24.0, 0, len(images) - 1), objects)
    w0, c0 = _clock()
    for _ in engine.stream(Frame(n, images[n]) for n in range(len(images))):
        pass
    w1, c1 = _clock()
    return (w1 - w0) / len(images), (c1 - c0) / len(images), footprint(engine.tracker.session), \
        len(engine.found["car"])


def run_bare(parts: TextParts, images: dict[int, np.ndarray]):
    sessions = []
    proc = parts.tracker_processor
    orig = proc.init_video_session

    def spy(*a, **k):
        sessions.append(orig(*a, **k))
        return sessions[-1]

    proc.init_video_session = spy
    try:
        w0, c0 = _clock()
        found, _ = text_reference_run(parts.detector, parts.detector_processor, parts.tracker,
                                      proc, images, list(range(len(images))), TEXT, 0, 0,
                                      threshold=OPTIONS["detection_threshold"],
                                      limit=OPTIONS["max_instances"])
        w1, c1 = _clock()
    finally:
        proc.init_video_session = orig
    return (w1 - w0) / len(images), (c1 - c0) / len(images), footprint(sessions[-1]), len(found)


def compare(name: str, parts: TextParts, frames: int, repeats: int) -> dict:
    images = clip_images(frames)
    with torch.inference_mode():
        run_ours(parts, clip_images(3))  # warm-up
        run_bare(parts, clip_images(3))
        ours, bare = [], []
        for _ in range(repeats):  # interleaved, best of: the least disturbed run of each
            ours.append(run_ours(parts, images))
            bare.append(run_bare(parts, images))
    o, b = min(ours, key=lambda r: r[0]), min(bare, key=lambda r: r[0])
    assert o[3] == b[3], "engine and bare loop found different instance counts"
    return {"config": name, "input_size": int(parts.tracker_processor.video_processor.size.height),
            "params": sum(p.numel() for p in parts.detector.parameters())
            + sum(p.numel() for n, p in parts.tracker.named_parameters()
                  if not n.startswith("vision_encoder.backbone")),
            "source": [W, H], "frames": frames, "instances": o[3], "repeats": repeats,
            "ours_ms_per_frame": round(1e3 * o[0], 2), "bare_ms_per_frame": round(1e3 * b[0], 2),
            "ours_cpu_ms_per_frame": round(1e3 * o[1], 2),
            "bare_cpu_ms_per_frame": round(1e3 * b[1], 2),
            "ratio_ours_over_bare": round(o[0] / b[0], 3),
            "cpu_ratio_ours_over_bare": round(o[1] / b[1], 3),
            "session_bytes_ours": o[2].tensor_bytes, "session_bytes_bare": b[2].tensor_bytes}


def memory_vs_length(parts: TextParts, lengths: list[int]) -> list[dict]:
    rows = []
    with torch.inference_mode():
        for n in lengths:
            images = clip_images(n)
            ours, bare = run_ours(parts, images), run_bare(parts, images)
            rows.append({"frames": n, "ours_bytes": ours[2].tensor_bytes,
                         "ours_entries": ours[2].entries, "bare_bytes": bare[2].tensor_bytes,
                         "bare_entries": bare[2].entries})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lengths", default="10,30,90", help="clip lengths for the memory figures")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    report = {"machine": platform.machine(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "runs": []}
    for size in (112, 224):
        report["runs"].append(compare(f"tiny-sam3-{size}", load_parts(size), args.frames,
                                      args.repeats))
    # a short memory window (3) so the shortest clip already fills it
    short = load_parts(112, num_maskmem=3, max_object_pointers_in_encoder=4)
    report["memory_vs_length_tiny-sam3-112_window3"] = memory_vs_length(
        short, [int(v) for v in args.lengths.split(",") if v])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
