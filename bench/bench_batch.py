"""Batch throughput: shots/hour and frames/s in-process, through the server queue, on Ray.

Prints one JSON object. A small batch (``--shots`` green-screen clips cut into
an EDL, key engine) runs: in this process with the thread policy of
models/device.py (``local``), in this process with torch on every core
(``local_all_cores``, ``SEGMATTE_TORCH_THREADS``: the policy sets the count at
every job, so a bare ``torch.set_num_threads`` would be undone), through a
real ``segmatte serve`` subprocess's queue with the ``segmatte batch`` CLI as
its client (``server``: the client's own wall, CPU and peak RSS, read with
``wait4``, and the server's CPU), and with ``segmatte batch --ray auto``
against a local Ray instance started here (``ray``; not in ``--smoke``).
Each run reports the torch thread count it ran with. On 2 shared cores
workers compete with each other and with the driver: compare ratios within
one run; the point of Ray is many GPUs, which this cannot show.

Usage: ``python3 bench/bench_batch.py [--smoke|--quick] [--json PATH] [--shots 6]
[--frames 48] [--size 320x240] [--workers 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the local Ray instance binds to 127.0.0.1 only (read by Ray at import)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import benchkit  # noqa: E402
import clipgen  # noqa: E402

from segmatte.server.batch.driver import run_batch  # noqa: E402
from segmatte.server.batch.plan import BatchSettings  # noqa: E402
from segmatte.server.batch.runner_local import InProcessRunner  # noqa: E402
from segmatte.server.batch.shots import read_shots  # noqa: E402


def make_cut(folder: Path, shots: int, frames: int, w: int, h: int) -> Path:
    """``shots`` clips with start timecodes an hour apart, each used whole by one EDL event."""
    distinct = [clipgen.green_screen(n * 3, w, h)[0] for n in range(8)]
    lines = ["TITLE: bench", "FCM: NON-DROP FRAME", ""]
    rec = 0
    for i in range(shots):
        path = folder / f"shot{i:03d}.mp4"
        tc = f"{i + 1:02d}:00:00:00"
        clipgen.write_video(path, (distinct[n % len(distinct)] for n in range(frames)), 24.0,
                            codec="h264", pix_fmt="yuv444p", crf=12, timecode=tc)
        src_out = f"{i + 1:02d}:00:{frames // 24:02d}:{frames % 24:02d}"
        r_in, r_out = _tc(rec), _tc(rec + frames)
        lines += [f"{i + 1:03d}  S{i:03d}     V     C        {tc} {src_out} {r_in} {r_out}",
                  f"* SOURCE FILE: {path}"]
        rec += frames
    edl = folder / "bench.edl"
    edl.write_text("\n".join(lines) + "\n")
    return edl


def _tc(frames: int, fps: int = 24) -> str:
    s, f = divmod(frames, fps)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def figures(t: benchkit.Timing, shots: int) -> dict[str, float]:
    return {**t.to_dict(),
            "shots_per_hour": round(shots * 3600 / t.wall_s, 1) if t.wall_s else 0.0}


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_LAUNCH = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime,
                  usage.ru_maxrss / 1024]))
"""
"""Runs the CLI from a small process: a child's peak RSS (``ru_maxrss``) counts from the
fork, so forked from this bench (torch loaded by the local run) it would report ours."""


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """Run the ``segmatte batch`` CLI; (wall s, CPU s, peak RSS MiB, exit code, stderr tail)."""
    cmd = [sys.executable, "-m", "segmatte.server.commands.batch", *args, "--json"]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run([sys.executable, "-c", _LAUNCH, *cmd], env=env, stdout=subprocess.PIPE,
                              stderr=err, text=True)
        wall = time.perf_counter() - t0
        err.seek(0)
        tail = err.read().decode(errors="replace")[-800:]
    rc, cpu, rss = json.loads(proc.stdout.strip().splitlines()[-1])
    return wall, cpu, rss, rc, tail


def server_run(tmp: Path, edl: Path, shots: int, frames: int, workers: int) -> dict:
    """The default path: the CLI as a client of a real server's queue."""
    from serverkit import ServerProcess

    t0 = time.perf_counter()
    srv = ServerProcess(tmp / "srv", workers=1).start()
    start_s = time.perf_counter() - t0
    try:
        env = {**srv.env, "SEGMATTE_ADDRESS": srv.address}
        cpu0 = proc_cpu_s(srv.proc.pid)
        wall, cpu, rss, rc, tail = run_cli([str(edl), "--out", str(tmp / "server-out"),
                                            "--window", str(workers), "--no-start"], env)
        server_cpu = proc_cpu_s(srv.proc.pid) - cpu0
    finally:
        srv.stop()
    if rc != 0:
        raise RuntimeError(f"segmatte batch through the server failed ({rc}): {tail}")
    t = benchkit.Timing("server", shots * frames, wall, cpu)
    return {**figures(t, shots), "server_start_s": round(start_s, 2),
            "server_cpu_s": round(server_cpu, 2), "client_peak_rss_mb": round(rss, 1),
            "note": "wall_s/cpu_s are the CLI client's; server_cpu_s is the server's during it"}


def ray_run(tmp: Path, edl: Path, shots: int, frames: int, workers: int) -> dict:
    """``segmatte batch --ray auto`` against a Ray instance this bench starts (and stops)."""
    try:
        import ray
    except ImportError:
        return {"skipped": "ray not installed"}
    t0 = time.perf_counter()
    ctx = ray.init(num_cpus=max(2, workers), include_dashboard=False, log_to_driver=False)
    start_s = time.perf_counter() - t0
    try:
        env = {**os.environ, "RAY_ADDRESS": ctx.address_info["gcs_address"]}
        wall, cpu, rss, rc, tail = run_cli([str(edl), "--out", str(tmp / "ray-out"), "--ray", "auto",
                                            "--workers", str(workers)], env)
    finally:
        ray.shutdown()
    if rc != 0:
        raise RuntimeError(f"segmatte batch --ray auto failed ({rc}): {tail}")
    t = benchkit.Timing("ray", shots * frames, wall, cpu)
    return {**figures(t, shots), "ray_start_s": round(start_s, 2), "workers": workers,
            "client_peak_rss_mb": round(rss, 1),
            "note": "wall includes the actors' start (each imports the pipeline); "
                    "cpu_s is the CLI driver's own"}


def local_run(shots, out: Path, threads: str | None) -> tuple[benchkit.Timing, int]:
    """The batch in this process; ``threads`` sets SEGMATTE_TORCH_THREADS for its jobs."""
    import torch

    saved = os.environ.get("SEGMATTE_TORCH_THREADS")
    if threads is not None:
        os.environ["SEGMATTE_TORCH_THREADS"] = threads
    try:
        with benchkit.timed("local", sum(s.frames for s in shots)) as t:
            result = run_batch(shots, BatchSettings(output=out), InProcessRunner())
        used = torch.get_num_threads()  # what the jobs' device policy set
    finally:
        if saved is None:
            os.environ.pop("SEGMATTE_TORCH_THREADS", None)
        else:
            os.environ["SEGMATTE_TORCH_THREADS"] = saved
    assert result.ok, result.manifest.to_dict()
    return t, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=6)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-ray", action="store_true")
    benchkit.add_common_args(ap)
    args = ap.parse_args()
    if args.smoke:
        args.shots, args.frames, args.skip_ray = 2, 6, True
    elif args.quick:
        args.shots, args.frames = 3, 24
    w, h = map(int, args.size.lower().split("x"))
    result: dict[str, object] = {
        "bench": "batch", "shots": args.shots, "frames_per_shot": args.frames, "size": args.size,
        "engine": "key"}

    with tempfile.TemporaryDirectory(prefix="segmatte-bench-batch-") as tmp:
        tmp = Path(tmp)
        edl = make_cut(tmp, args.shots, args.frames, w, h)
        shots = read_shots(edl)

        # warm-up (imports, first-call set-up), as the server and Ray workers get theirs
        run_batch(shots[:1], BatchSettings(output=tmp / "warm"), InProcessRunner())
        t, used = local_run(shots, tmp / "local", None)
        result["local"] = {**figures(t, args.shots), "torch_threads": used,
                           "note": "thread count from models/device.py's policy"}
        if not args.smoke:
            t, used = local_run(shots, tmp / "local-all", str(benchkit.cores()))
            result["local_all_cores"] = {**figures(t, args.shots), "torch_threads": used}
            result["all_cores_vs_policy"] = round(result["local"]["wall_s"] /
                                                  result["local_all_cores"]["wall_s"], 3)
        result["server"] = server_run(tmp, edl, args.shots, args.frames, args.workers)
        if args.skip_ray:
            result["ray"] = {"skipped": "--skip-ray (or --smoke)"}
        else:
            result["ray"] = ray_run(tmp, edl, args.shots, args.frames, args.workers)
            if "wall_s" in result["ray"]:
                result["ray_vs_local"] = round(result["local"]["wall_s"] / result["ray"]["wall_s"], 2)
    benchkit.emit(result, args.json)


if __name__ == "__main__":
    main()
