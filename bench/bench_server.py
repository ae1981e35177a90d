#!/usr/bin/env python3
"""The sidecar's own costs, printed as one JSON object.

Starts a real ``segmatte serve`` (temporary config and data folders, any free
port) and measures, in one run so the figures compare:

* ``ping_raw_ms``: request round trip on a bare DEALER socket (p50/p95) — the
  protocol + ROUTER loop alone;
* ``ping_client_ms``: the same through :class:`segmatte.client.client.Client`
  (adds the hop to its I/O thread and a Future) — what a host sees;
* ``submit_to_first_frame_ms``: submit → first ``frame`` event for a tiny key
  job (p50/p95 over ``--jobs`` jobs, after one warm-up job that pays for
  importing torch; ``cold_first_frame_ms`` is that first one);
* ``load``: ``--clients`` clients each submitting ``--per-client`` jobs at
  once; events received per second over all clients, frames/s and jobs/s.

Timings on a shared 2-core machine vary a lot between runs (see
MEASURED.md); compare ratios within one run, and note ``cpus``/``workers``.

Usage: ``python3 bench/bench_server.py [--pings 2000] [--jobs 10] [--clients 10] [--per-client 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import clipgen  # noqa: E402
from serverkit import RawPeer, ServerProcess, key_spec  # noqa: E402

from segmatte.client.events import FrameWritten  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def summary(ms: list[float]) -> dict[str, float]:
    return {"p50": pct(ms, 0.5), "p95": pct(ms, 0.95), "mean": round(statistics.fmean(ms), 3),
            "n": len(ms)}


def bench_ping(server: ServerProcess, n: int) -> tuple[dict, dict]:
    raw = RawPeer(server.address)
    raw.hello(server.token)
    raw_ms = []
    for i in range(n):
        t = time.perf_counter()
        raw.call({"type": "ping", "id": f"p{i}"})
        raw_ms.append((time.perf_counter() - t) * 1000)
    raw.close()
    client = server.client(name="bench")
    client_ms = []
    for _ in range(n):
        t = time.perf_counter()
        client.ping()
        client_ms.append((time.perf_counter() - t) * 1000)
    client.close()
    return summary(raw_ms), summary(client_ms)


def first_frame(client, spec: dict) -> float:
    t = time.perf_counter()
    job = client.submit(spec)
    first = None
    while True:
        event = client.events.get(timeout=120)
        if event.job != job:
            continue
        if first is None and isinstance(event, FrameWritten):
            first = (time.perf_counter() - t) * 1000
        if event.type in ("done", "failed", "cancelled"):
            assert event.type == "done", event
            return first if first is not None else float("nan")


def bench_first_frame(server: ServerProcess, clip: str, out: Path, n: int) -> tuple[float, dict]:
    client = server.client(name="bench")
    cold = first_frame(client, key_spec(clip, out / "cold"))
    warm = [first_frame(client, key_spec(clip, out / f"warm{i}")) for i in range(n)]
    client.close()
    return round(cold, 1), summary(warm)


def bench_load(server: ServerProcess, clip: str, out: Path, clients: int, per: int) -> dict:
    counts = [0] * clients
    frames = [0] * clients
    go = threading.Event()

    def run(n: int) -> None:
        client = server.client(name=f"load{n}")
        go.wait()
        jobs = {client.submit(key_spec(clip, out / f"c{n}j{k}")) for k in range(per)}
        while jobs:
            try:
                event = client.events.get(timeout=120)
            except queue.Empty:
                break
            if event.type == "connection":
                continue
            counts[n] += 1
            frames[n] += isinstance(event, FrameWritten)
            if event.type in ("done", "failed", "cancelled"):
                jobs.discard(event.job)
        client.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # all connected and welcomed
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "jobs": clients * per, "events": sum(counts),
            "wall_s": round(wall, 2), "events_per_s": round(sum(counts) / wall, 1),
            "frames_per_s": round(sum(frames) / wall, 1),
            "jobs_per_s": round(clients * per / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pings", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--per-client", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--frames", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-server-") as tmp:
        root = Path(tmp)
        clip = clipgen.write_green_screen_clip(root / "clip.mp4", args.frames, 64, 48)
        server = ServerProcess(root / "srv", workers=args.workers, heartbeat=1.0).start()
        try:
            raw, client = bench_ping(server, args.pings)
            cold, warm = bench_first_frame(server, clip, root / "ff", args.jobs)
            load = bench_load(server, clip, root / "load", args.clients, args.per_client)
        finally:
            server.stop()
    print(json.dumps({
        "bench": "server", "cpus": os.cpu_count(), "workers": args.workers,
        "clip": f"64x48x{args.frames} h264, key engine",
        "ping_raw_ms": raw, "ping_client_ms": client,
        "cold_first_frame_ms": cold, "submit_to_first_frame_ms": warm,
        "load": load,
    }, indent=2))


if __name__ == "__main__":
    main()
