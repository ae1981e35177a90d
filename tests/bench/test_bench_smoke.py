"""The benches run (smoke mode, a few frames) so they never rot, and report what #18 asks.

``bench/run_all --mode smoke`` runs every bench that takes ``--smoke`` as its
own process and writes one JSON; this checks the figures are there (wall and
CPU per stage and per job, the honest P1, peak RSS, the load average) and
that the goals table names each goal. No timing is asserted. ``bench/gpu.sh
--cpu-dry-run`` runs the GPU script's whole logic on the CPU at a tiny size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import benchkit  # noqa: E402

pytestmark = pytest.mark.slow


def test_honest_p1_is_bounded_by_the_cpu_when_stages_overlap_on_too_few_cores() -> None:
    # 10 frames; decode 10 ms wall / 10 ms CPU, engine 30/30, write 20/20 per frame; 2 cores:
    # slowest stage 30 ms, CPU bound (10+30+20)/2 = 30 ms -> equal; 1 core: 60 ms per frame
    stages = [benchkit.Timing("decode", 10, 0.1, 0.1), benchkit.Timing("engine", 10, 0.3, 0.3),
              benchkit.Timing("write", 10, 0.2, 0.2)]
    job = benchkit.Timing("job", 10, 0.6 + 0.5, 0.0)
    fixed = [benchkit.Timing("check", 0, 0.5, 0.5)]
    one = benchkit.honest_p1(job, stages, n_cores=1, fixed=fixed)
    assert one["bound"] == "cpu" and one["honest_p1"] == 1.0  # (0.5 + 10 x 0.06) / 1.1
    four = benchkit.honest_p1(job, stages, n_cores=4, fixed=fixed)
    assert four["bound"] == "slowest stage" and four["slowest_stage"] == "engine"
    assert four["honest_p1"] == round((0.5 + 0.3) / 1.1, 3)


@pytest.mark.timeout(900)
def test_run_all_smoke_writes_one_json_with_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "run_all.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run_all"), "--mode", "smoke",
                           "--json", str(out)], capture_output=True, text=True, cwd=ROOT,
                          timeout=890)  # bounds a hang only
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    benches = report["benches"]
    for name in ("track", "pipeline", "batch"):
        assert "result" in benches[name], benches[name]
        res = benches[name]["result"]
        assert res["host"]["loadavg"] and res["host"]["cores"] >= 1
        assert res["peak_rss_mb"]["self"] > 0
    for name, eng in benches["pipeline"]["result"]["engines"].items():
        if "skipped" in eng:
            continue
        for stage in ("check_job", "engine_open"):  # fixed costs (the key engine loads nothing)
            assert eng["stages"][stage]["wall_s"] >= 0 and "cpu_s" in eng["stages"][stage]
        for stage in ("decode", "engine_finish", "write"):
            assert eng["stages"][stage]["frames"] > 0 and eng["stages"][stage]["wall_s"] > 0
            assert "cpu_ms_per_frame" in eng["stages"][stage]
        assert eng["job"]["frames"] > 0 and eng["p1"]["honest_p1"] > 0, name
    assert {"key", "track"} <= set(benches["pipeline"]["result"]["engines"])
    track = benches["track"]["result"]
    assert {r["size"] for r in track["runs"]} >= {"320x180", "1080p"}
    assert "measured" in track["goal_p3"]
    batch = benches["batch"]["result"]
    assert batch["server"]["client_peak_rss_mb"] > 0 and batch["local"]["cpu_s"] > 0
    goals = {g["goal"] for g in report["goals"]}
    assert any(g.startswith("P3 ") for g in goals) and any("honest P1" in g for g in goals)
    assert "issue #18 goals" in proc.stdout
    person = benches["person"]["result"]  # bench_person: forward before/now, the whole job
    for t in ("1", "2"):
        assert {"before", "alpha"} <= set(person["forward"][t])
        assert person["forward"][t]["alpha"]["cpu_ms"] > 0 and person["job"][t]["cpu_ms"] > 0
        assert person["job"][t]["frames"] == 4 and person["job"][t]["torch_threads"] == int(t)
        assert {"job_over_forward", "forward_cpu_over_job_cpu"} <= set(person["goals"][f"{t}_threads"])
    sizes = benches["writer"]["result"]["bytes_per_frame"]  # bench_writer: file sizes per layout
    assert sizes["fast_y"] == sizes["fast_a"] < sizes["fast_rgba"]  # one plane against four
    assert sizes["fast_rgba_zip4"] <= sizes["fast_rgba"]
    clients = benches["light"]["result"]["clients"]  # bench_light: client commands, no torch
    assert clients["matte_server"]["peak_rss_mb"] > 0
    assert not any(c["imports_torch"] for c in clients.values())
    assert benches["preview"]["result"]["runs"][0]["ratio_open_frame"] > 0
    assert any(g.startswith("P5 ") for g in goals) and any("bench_light" in g for g in goals)
    key = benches["key"]["result"]["results"]["720p"]["matte"]  # bench_key: the screen keyer per frame
    assert key["cpu_ms_per_frame"] > 0 and key["wall_ms_per_frame"] > 0
    for name, entry in benches.items():  # every bench is accounted for: ran, or said why not
        assert "result" in entry or "skipped" in entry, (name, entry.get("failed"))


@pytest.mark.timeout(300)
def test_gpu_script_fails_clearly_without_cuda_and_its_logic_runs_on_the_cpu(tmp_path: Path) -> None:
    import torch

    script = ROOT / "bench" / "gpu.sh"
    env = {**os.environ, "SEGMATTE_GPU_OUT": str(tmp_path)}
    if not torch.cuda.is_available():
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, cwd=ROOT,
                              env=env, timeout=120)
        assert proc.returncode == 2
        assert "CUDA" in proc.stderr and "--cpu-dry-run" in proc.stderr
    proc = subprocess.run(["bash", str(script), "--cpu-dry-run"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu.json").read_text())
    assert report["dry_run"] is True
    for name in ("person", "track", "key"):
        r = report["engines"][name]
        assert r["model_only"]["frames"] > 0 and r["end_to_end"]["frames"] > 0
        assert r["end_to_end"]["written"] == r["end_to_end"]["frames"]
        assert r["e2e_over_model"] > 0
    assert "end-to-end / model-only" in proc.stdout
