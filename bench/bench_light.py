"""How light the client commands are, and what the server's warm-up buys; prints JSON.

Clients (issue #18, goals: peak RSS ≤ 250 MB for ``batch`` and ``matte --server``,
``doctor`` ≤ 1 s): each command runs through the CLI's real ``main`` in a fresh
interpreter against a real ``segmatte serve`` (tests/integration/clientprobe.py)
and reports its peak RSS, wall and CPU time from the start of ``main`` (the
CLI's own imports included), and whether torch was imported. ``process_wall_s``
is the whole child process, interpreter start included (what a shell user waits).

Warm-up: the first key job of a fresh server, submitted once ``ping`` says the
warm-up ended (``first_job_warm_s``), against the first job of a server started
with ``--no-warm-up`` (``first_job_cold_s``: it imports torch itself) and the
second job of that server (``next_job_s``: the floor). Each is submit → done,
seen by the client.

    python bench/bench_light.py [--repeat 3] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import clipgen  # noqa: E402
from clientprobe import run_client  # noqa: E402
from serverkit import ServerProcess, key_spec  # noqa: E402

W, H = 320, 180


def wait_warm(srv: ServerProcess) -> tuple[str, float]:
    """Until the server's warm-up ended: its state and how long that took from here."""
    with srv.client() as c:
        t0 = time.perf_counter()
        while c.ping()["warm"] == "warming" and time.perf_counter() - t0 < 600:
            time.sleep(0.05)
        return c.ping()["warm"], time.perf_counter() - t0


def client_figures(srv: ServerProcess, root: Path, clip: str, repeat: int) -> dict:
    wait_warm(srv)  # the clients' figures, not the server's start
    env = {**srv.env, "SEGMATTE_ADDRESS": srv.address}
    shots = root / "shots.csv"
    shots.write_text("source,name\n" + "".join(f"{clip},shot{i}\n" for i in range(3)))
    commands = {
        "matte_server": lambda i: ["matte", clip, "--out", str(root / f"m{i}"), "--server"],
        "batch_server": lambda i: ["batch", str(shots), "--out", str(root / f"b{i}"), "--json"],
        "doctor": lambda i: ["doctor"],
        "probe": lambda i: ["probe", clip],
        "models_list": lambda i: ["models", "list"],
        "jobs": lambda i: ["jobs"],
    }
    out = {}
    for name, args in commands.items():
        runs = []
        for i in range(repeat):
            t0 = time.perf_counter()
            p = run_client(args(i), env)
            runs.append((p, time.perf_counter() - t0))
        if any(p.rc not in (0, 1) for p, _ in runs):
            raise RuntimeError(f"{name} failed: {runs[-1][0].stderr[-2000:]}")
        out[name] = {
            "peak_rss_mb": max(p.peak_rss_mb for p, _ in runs),
            "wall_s": round(statistics.median(p.wall_s for p, _ in runs), 3),
            "cpu_s": round(statistics.median(p.cpu_s for p, _ in runs), 3),
            "process_wall_s": round(statistics.median(w for _, w in runs), 3),
            "imports_torch": any("torch" in p.heavy for p, _ in runs),
        }
    return out


def job_s(srv: ServerProcess, clip: str, out: Path) -> float:
    with srv.client(name="bench-light") as c:
        t0 = time.perf_counter()
        job = c.submit(key_spec(clip, out))
        event = c.wait(job, timeout=600)
        took = time.perf_counter() - t0
    if event.type != "done":
        raise RuntimeError(f"job ended {event.type}: {event}")
    return took


def warmup_figures(root: Path, clip: str) -> dict:
    warm = ServerProcess(root / "warm").start()
    try:
        warm_state, warm_wait = wait_warm(warm)
        first_warm = job_s(warm, clip, root / "jw")
    finally:
        warm.stop()
    cold = ServerProcess(root / "cold", extra=["--no-warm-up"]).start()
    try:
        first_cold = job_s(cold, clip, root / "jc1")
        after = job_s(cold, clip, root / "jc2")
    finally:
        cold.stop()
    return {"warm_state": warm_state, "warm_up_wait_s": round(warm_wait, 3),
            "first_job_warm_s": round(first_warm, 3), "first_job_cold_s": round(first_cold, 3),
            "next_job_s": round(after, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="one run each, few frames (CI)")
    args = ap.parse_args()
    repeat = 1 if args.smoke else args.repeat
    frames = 3 if args.smoke else 24
    with tempfile.TemporaryDirectory(prefix="segmatte-bench-light-") as tmp:
        root = Path(tmp)
        clip = clipgen.write_green_screen_clip(root / "clip.mp4", frames, W, H)
        srv = ServerProcess(root / "srv").start()
        try:
            clients = client_figures(srv, root, clip, repeat)
        finally:
            srv.stop()
        warm = warmup_figures(root, clip)
    goals = {"client_rss_mb_max": 250, "doctor_s_max": 1.0}
    print(json.dumps({
        "bench": "light", "machine": platform.machine(), "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()], "repeat": repeat,
        "clip": {"size": [W, H], "frames": frames}, "clients": clients, "warm_up": warm,
        "goals": goals,
        "met": {"batch_rss": clients["batch_server"]["peak_rss_mb"] <= 250,
                "matte_server_rss": clients["matte_server"]["peak_rss_mb"] <= 250,
                "doctor_s": clients["doctor"]["wall_s"] <= 1.0},
    }, indent=2))


if __name__ == "__main__":
    main()
