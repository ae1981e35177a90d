"""bench/bench_person.py and bench/bench_writer.py in their smoke mode, so they never rot.

Figures are not checked (never assert on time); the JSON's shape and its
file sizes are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, tmp_path: Path) -> dict:
    out = tmp_path / "result.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--smoke", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(out.read_text())
    return json.loads(out.read_text())


def test_bench_person_smoke(tmp_path):
    d = _run("bench_person.py", tmp_path)
    for t in ("1", "2"):
        assert {"before", "alpha"} <= set(d["forward"][t])
        assert d["forward"][t]["alpha"]["cpu_ms"] > 0 and d["job"][t]["cpu_ms"] > 0
        assert d["job"][t]["frames"] == 4 and d["job"][t]["torch_threads"] == int(t)
        assert {"job_over_forward", "forward_cpu_over_job_cpu"} <= set(d["goals"][f"{t}_threads"])


def test_bench_writer_smoke(tmp_path):
    d = _run("bench_writer.py", tmp_path)
    sizes = d["bytes_per_frame"]
    assert sizes["fast_y"] == sizes["fast_a"] < sizes["fast_rgba"]  # one plane against four
    assert sizes["fast_rgba_zip4"] <= sizes["fast_rgba"]
    assert set(d["cpu_ms_per_frame_median"]) == set(d["fps_median"])
