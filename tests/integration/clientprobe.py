"""Run one ``segmatte`` client command in a fresh interpreter and report what it loaded.

The command runs through the CLI's real ``main`` (as ``segmatte ...`` would);
after it returns, the child prints one JSON line: its exit code, whether
``torch`` (or ``transformers``) is in ``sys.modules``, its peak RSS and its
wall and CPU time. Used by tests/integration/test_light_clients.py (the
client paths never import torch) and bench/bench_light.py (how light they are).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

MARK = "SEGMATTE-CLIENT-PROBE "

_CHILD = r"""
import json, os, resource, sys, time
MARK = "SEGMATTE-CLIENT-PROBE "
t0, c0 = time.perf_counter(), time.process_time()
from segmatte.server.cli import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:
    rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 1024
heavy = sorted(m for m in ("torch", "transformers", "torchvision") if m in sys.modules)
print(MARK + json.dumps({"rc": rc, "heavy": heavy, "peak_rss_mb": round(peak_mb, 1),
                       "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}), file=sys.stderr)
"""


@dataclass(frozen=True)
class Probe:
    args: tuple[str, ...]
    rc: int
    heavy: tuple[str, ...]
    """Which of torch / transformers / torchvision the command imported."""
    peak_rss_mb: float
    wall_s: float
    """From the interpreter's start of ``main`` to its return (imports of the CLI included)."""
    cpu_s: float
    stdout: str
    stderr: str

    def as_dict(self) -> dict[str, Any]:
        return {"args": list(self.args), "rc": self.rc, "heavy": list(self.heavy),
                "peak_rss_mb": self.peak_rss_mb, "wall_s": self.wall_s, "cpu_s": self.cpu_s}


def run_client(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> Probe:
    """``segmatte ARGS`` in a child interpreter; raises if it printed no report."""
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env or dict(os.environ),
                         capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith(MARK)]
    if not lines:
        raise RuntimeError(f"segmatte {' '.join(args)} printed no probe report "
                           f"(exit {out.returncode}):\n{out.stderr[-3000:]}")
    data = json.loads(lines[-1][len(MARK):])
    stderr = "\n".join(ln for ln in out.stderr.splitlines() if not ln.startswith(MARK))
    return Probe(tuple(args), int(data["rc"]), tuple(data["heavy"]), data["peak_rss_mb"],
                 data["wall_s"], data["cpu_s"], out.stdout, stderr)
