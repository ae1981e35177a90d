"""Preview latency of an interactive session against one bare model forward; prints JSON.

What an artist waits for after a click is ``session.prompt`` → its reply: the
ZeroMQ round trip, the frame fetch, the processor, one model call, the
upsampling to source size and the preview EXR. The floor is one bare
``Sam2VideoModel`` call on that frame (the documented transformers calls, a
fresh inference session each time, preprocessing not counted). Goal: the ratio
of the two at most 1.2.

A real ``segmatte serve`` subprocess is started on a temporary data folder,
with a randomly initialised model of the real class saved as ``sam2.1-tiny``
in a temporary Hugging Face cache (offline). Two configurations: the tiny test
one, and SAM 2.1-tiny's real widths and depths at ``--size`` input. Timings on
shared CPUs are noisy: compare the ratios of one run, not absolutes.

- ``cold``: the first click of a session, on a frame away from frame 0 (a
  seek and decode, the image encoder, the decoder) — one object, as in the
  bare forward;
- ``warm``: a second click on that frame and object (transformers keeps the
  frame's image features in the inference session, so it is cheaper than the
  bare forward, which always runs the image encoder).

The model stays loaded between sessions (the server's model cache); the first
``session.open`` pays the load (``session_open_ms``).

    python bench/bench_preview.py [--clicks 8] [--threads 1] [--size 512] [--skip-real]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import clipgen  # noqa: E402
from bench_track import sam2_tiny_sized  # noqa: E402
from tiny_track import tiny_model, tiny_processor, tiny_sam2_config  # noqa: E402

from segmatte.client.client import Client  # noqa: E402
from segmatte.models.weights import catalog  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"
W, H, FRAMES = 320, 180, 24


def save_to_hub(root: Path, model, processor) -> None:
    entry = catalog.get("sam2.1-tiny")
    repo = root / ("models--" + entry.repo.replace("/", "--"))
    model.save_pretrained(repo / "snapshots" / COMMIT)
    processor.save_pretrained(repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)


def bare_forward_ms(model, processor, image, clicks: int) -> float:
    """Median of one model call on a freshly prompted frame (what a first click costs)."""
    pixels = processor(images=image, do_rescale=False, return_tensors="pt").pixel_values[0]
    times = []
    for i in range(clicks + 1):
        session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
        processor.add_inputs_to_inference_session(
            inference_session=session, frame_idx=0, obj_ids=1,
            input_points=[[[[float(W // 2 + i), float(H // 2)]]]], input_labels=[[[1]]],
            original_size=(H, W))
        with torch.inference_mode():
            t0 = time.perf_counter()
            model(inference_session=session, frame=pixels, frame_idx=0)
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[1:])  # the first pays one-off allocations


def start_server(root: Path, hub: Path, threads: int) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "SEGMATTE_CONFIG_DIR": str(root / "config"),
           "SEGMATTE_DATA_DIR": str(root / "data"), "HF_HUB_CACHE": str(hub),
           "HF_HUB_OFFLINE": "1", "SEGMATTE_TORCH_THREADS": str(threads), "SEGMATTE_DEVICE": "cpu"}
    env.pop("SEGMATTE_ADDRESS", None)
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "segmatte.server.cli", "serve", "--foreground",
                             "--port", "0"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(root / "server.log", "wb"))  # noqa: SIM115
    endpoint = root / "data" / "server.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            info = json.loads(endpoint.read_text())
            if info.get("pid") == proc.pid:
                return proc, info["address"], (root / "config" / "token").read_text().strip()
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server did not start")


def preview_ms(address: str, token: str, source: str, clicks: int) -> dict[str, float]:
    """Median reply times of first clicks (a fresh session each) and second clicks."""
    client = Client(address, token, name="bench")
    client.connect(timeout=30)
    try:
        t0 = time.perf_counter()
        sid = client.session_open(source, timeout=300)["session"]  # loads the model: kept warm
        open_s = time.perf_counter() - t0
        client.session_prompt(sid, 0, "o", points=[{"x": W // 2, "y": H // 2}])  # warm-up
        client.session_close(sid)
        cold, warm = [], []
        for i in range(1, clicks + 1):
            sid = client.session_open(source)["session"]
            frame = (5 * i) % FRAMES  # away from frame 0: a seek, as when an artist scrubs
            t0 = time.perf_counter()
            client.session_prompt(sid, frame, "o", points=[{"x": W // 2, "y": H // 2}])
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.session_prompt(sid, frame, "o", points=[{"x": W // 3, "y": H // 3, "label": 0}])
            warm.append(time.perf_counter() - t0)
            client.session_close(sid)
    finally:
        client.close()
    return {"open_ms": round(1e3 * open_s, 1), "cold_ms": 1e3 * statistics.median(cold),
            "warm_ms": 1e3 * statistics.median(warm)}


def measure(name: str, model, processor, source: str, clicks: int, threads: int) -> dict:
    image = clipgen.green_screen(0, W, H)[0].astype("float32") / 255.0
    bare = bare_forward_ms(model, processor, image, clicks)
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        root = Path(tmp)
        save_to_hub(root / "hub", model, processor)
        proc, address, token = start_server(root / "srv", root / "hub", threads)
        try:
            got = preview_ms(address, token, source, clicks)
        finally:
            proc.terminate()
            proc.wait(60)
    return {"config": name, "params": sum(p.numel() for p in model.parameters()),
            "input_size": int(processor.target_size), "source": [W, H], "clicks": clicks,
            "bare_forward_ms": round(bare, 2), "preview_cold_ms": round(got["cold_ms"], 2),
            "preview_warm_ms": round(got["warm_ms"], 2), "session_open_ms": got["open_ms"],
            "ratio_cold": round(got["cold_ms"] / bare, 3),
            "ratio_warm": round(got["warm_ms"] / bare, 3), "goal_ratio": 1.2}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clicks", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=512, help="input size of the real-sized config")
    ap.add_argument("--skip-real", action="store_true", help="only the tiny test config")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-clip-") as tmp:
        source = clipgen.write_green_screen_clip(Path(tmp) / "clip.mp4", FRAMES, W, H)
        runs = [measure("tiny-64", tiny_model(tiny_sam2_config(64)), tiny_processor(64), source,
                        args.clicks, args.threads)]
        if not args.skip_real:
            cfg = sam2_tiny_sized(args.size)
            runs.append(measure(f"sam2.1-tiny-sized-{args.size}",
                                tiny_model(cfg, weight_scale=1.0, object_bias=4.0),
                                tiny_processor(args.size), source, args.clicks, args.threads))
    print(json.dumps({"machine": platform.machine(), "torch": torch.__version__,
                      "threads": args.threads, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
