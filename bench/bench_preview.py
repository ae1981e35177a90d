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

What each figure measures (medians of ``--clicks`` fresh sessions):

- ``preview_open_frame_ms``: the first click on the frame named in
  ``session.open`` (the host's current frame, decoded and embedded while the
  open is answered): the prompt encoder, the mask decoder, the upsampling and
  the preview EXR. Against ``bare_forward_ms`` this is ``ratio_open_frame``,
  the goal (≤ 1.2): what a click costs once a session is open;
- ``preview_seek_ms``: the first click on another frame, nothing cached (a
  seek and decode, the processor, the image encoder, the decoder) —
  ``ratio_seek`` against ``bare_forward_ms``, which also runs the encoder;
- ``preview_again_ms``: a second click on that frame (its image features are
  kept by the session) against ``bare_again_ms``, the same second call in a
  bare transformers session (whose cache holds the frame's features too):
  ``ratio_again`` compares like with like. (This bench's old ``warm`` ratio
  set the second click against a bare forward that ran the encoder.)
- ``*_display_ms``: the same with ``preview_size`` (the preview at the host's
  display size, ``--display`` px long side) when the source is larger;
- ``open_ms``: ``session.open`` once the model is loaded (probe + embedding);
  ``session_open_ms``: the first, which loads the model (and meets the
  server's start-up warm-up);
- ``*_server_cpu_ms``: the server process's CPU time for that reply (Linux),
  beside its wall time: more CPU than wall means threads, less means waiting.

    python bench/bench_preview.py [--clicks 8] [--threads 1] [--size 512] [--skip-real]
                                  [--source 1920x1080] [--display 960] [--smoke]
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
from functools import partial
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


def bare_forward_ms(model, processor, image, clicks: int) -> tuple[float, float]:
    """Medians of one model call on a freshly prompted frame (image encoder included), and
    of a second click on that frame in the same session (its features cached by transformers)."""
    height, width = image.shape[:2]
    pixels = processor(images=image, do_rescale=False, return_tensors="pt").pixel_values[0]
    first, again = [], []
    for i in range(clicks + 1):
        session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
        for times, label in ((first, 1), (again, 0)):
            processor.add_inputs_to_inference_session(
                inference_session=session, frame_idx=0, obj_ids=1,
                input_points=[[[[float(width // 2 + i), float(height // 2)]]]],
                input_labels=[[[label]]], original_size=(height, width), clear_old_inputs=False)
            with torch.inference_mode():
                t0 = time.perf_counter()
                model(inference_session=session, frame=pixels, frame_idx=0)
                times.append(time.perf_counter() - t0)
    # the first round pays one-off allocations
    return 1e3 * statistics.median(first[1:]), 1e3 * statistics.median(again[1:])


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


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def preview_ms(address: str, token: str, source: str, clicks: int, size: tuple[int, int],
               display: int | None, pid: int) -> dict[str, float]:
    """Median reply times of clicks, each figure in fresh sessions (see the module docstring)."""
    width, height = size
    client = Client(address, token, name="bench")
    client.connect(timeout=30)
    here = {"x": width // 2, "y": height // 2}
    there = {"x": width // 3, "y": height // 3, "label": 0}
    try:
        t0 = time.perf_counter()
        sid = client.session_open(source, timeout=600)["session"]  # loads the model: kept warm
        first_open = time.perf_counter() - t0
        client.session_prompt(sid, 0, "o", points=[here])  # one-off allocations
        client.session_close(sid)
        keys = ("open", "open_frame", "seek", "again", "open_frame_display", "seek_display")
        got: dict[str, list[float]] = {k: [] for k in keys}
        cpu: dict[str, list[float]] = {k: [] for k in keys}

        def timed(key: str, call) -> None:
            c0, t0 = process_cpu_s(pid), time.perf_counter()
            call()
            got[key].append(time.perf_counter() - t0)
            cpu[key].append(process_cpu_s(pid) - c0)  # the server's CPU for that reply

        sizes = [(None, "")] + ([(display, "_display")] if display else [])
        for i in range(1, clicks + 1):
            frame = (5 * i) % FRAMES  # away from frame 0: as when an artist scrubs
            other = (frame + 7) % FRAMES
            for px, tag in sizes:
                t0 = time.perf_counter()
                sid = client.session_open(source, frame=frame)["session"]
                got["open"].append(time.perf_counter() - t0)
                timed(f"open_frame{tag}", partial(client.session_prompt, sid, frame, "o",
                                                  points=[here], preview_size=px))
                timed(f"seek{tag}", partial(client.session_prompt, sid, other, "o",
                                            points=[here], preview_size=px))
                if not tag:
                    timed("again", partial(client.session_prompt, sid, other, "o",
                                           points=[there]))
                client.session_close(sid)
    finally:
        client.close()
    out = {"session_open_ms": round(1e3 * first_open, 1)}
    out.update({f"{k}_ms": 1e3 * statistics.median(v) for k, v in got.items() if v})
    out.update({f"{k}_cpu_ms": 1e3 * statistics.median(v) for k, v in cpu.items() if v})
    return out


def measure(name: str, model, processor, source: str, clicks: int, threads: int,
            size: tuple[int, int], display: int | None) -> dict:
    width, height = size
    image = clipgen.green_screen(0, width, height)[0].astype("float32") / 255.0
    bare, bare_again = bare_forward_ms(model, processor, image, clicks)
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-") as tmp:
        root = Path(tmp)
        save_to_hub(root / "hub", model, processor)
        proc, address, token = start_server(root / "srv", root / "hub", threads)
        try:
            got = preview_ms(address, token, source, clicks, size,
                             display if display and display < max(size) else None, proc.pid)
        finally:
            proc.terminate()
            proc.wait(60)
    run = {"config": name, "params": sum(p.numel() for p in model.parameters()),
           "input_size": int(processor.target_size), "source": [width, height], "clicks": clicks,
           "bare_forward_ms": round(bare, 2), "bare_again_ms": round(bare_again, 2),
           "session_open_ms": got["session_open_ms"], "open_ms": round(got["open_ms"], 1)}
    for key in ("open_frame", "seek", "again", "open_frame_display", "seek_display"):
        if f"{key}_ms" in got:
            run[f"preview_{key}_ms"] = round(got[f"{key}_ms"], 2)
            run[f"preview_{key}_server_cpu_ms"] = round(got[f"{key}_cpu_ms"], 1)
            floor = bare_again if key == "again" else bare
            run[f"ratio_{key}"] = round(got[f"{key}_ms"] / floor, 3)
    run["goal_ratio_open_frame"] = 1.2
    if display and display < max(size):
        run["display"] = display
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clicks", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=512, help="input size of the real-sized config")
    ap.add_argument("--skip-real", action="store_true", help="only the tiny test config")
    ap.add_argument("--source", default=f"{W}x{H}", help="the clip's size, WxH")
    ap.add_argument("--display", type=int, default=960,
                    help="preview_size (long side) for the *_display figures")
    ap.add_argument("--smoke", action="store_true", help="2 clicks, tiny config only (CI)")
    args = ap.parse_args()
    if args.smoke:
        args.clicks, args.skip_real = 2, True
    size = tuple(int(v) for v in args.source.lower().split("x"))
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-clip-") as tmp:
        source = clipgen.write_green_screen_clip(Path(tmp) / "clip.mp4", FRAMES, *size)
        runs = [measure("tiny-64", tiny_model(tiny_sam2_config(64)), tiny_processor(64), source,
                        args.clicks, args.threads, size, args.display)]
        if not args.skip_real:
            cfg = sam2_tiny_sized(args.size)
            runs.append(measure(f"sam2.1-tiny-sized-{args.size}",
                                tiny_model(cfg, weight_scale=1.0, object_bias=4.0),
                                tiny_processor(args.size), source, args.clicks, args.threads,
                                size, args.display))
    print(json.dumps({"bench": "preview", "machine": platform.machine(), "torch": torch.__version__,
                      "threads": args.threads, "cpus": os.cpu_count(),
                      "loadavg": [round(x, 2) for x in os.getloadavg()], "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
