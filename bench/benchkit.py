"""What every bench reports the same way: wall and CPU per stage, the honest P1, RSS, load.

Why CPU beside wall: on 2 shared cores a pipeline that runs its stages at once
cannot beat the cores, so ``pipeline fps ÷ slowest stage fps`` blames the
pipeline for a saturated CPU. The honest P1 divides the job's throughput by
what the machine allows: one frame cannot take less than the slowest stage's
wall time, nor less than the stages' summed CPU time spread over the cores::

    P1 = job fps × max(slowest stage s/frame, Σ stage CPU s/frame ÷ cores)

(with fixed costs — check, engine load — added to the bound's time as they
run once, before the frames, and cannot overlap).

Stage CPU is process CPU (``time.process_time``: every thread) while the stage
runs alone. Benches share the CLI flags ``--smoke`` (a few frames, for CI),
``--quick`` and ``--json PATH`` (:func:`add_common_args`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Timing:
    """Wall and process-CPU seconds of one measured stretch, over ``frames`` frames."""

    name: str
    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def per_frame(self) -> tuple[float, float]:
        n = max(1, self.frames)
        return self.wall_s / n, self.cpu_s / n

    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        wall, cpu = self.per_frame()
        return {"frames": self.frames, "wall_s": round(self.wall_s, 4), "cpu_s": round(self.cpu_s, 4),
                "wall_ms_per_frame": round(1e3 * wall, 2), "cpu_ms_per_frame": round(1e3 * cpu, 2),
                "fps": round(self.fps(), 2),
                "cpu_per_wall": round(self.cpu_s / self.wall_s, 2) if self.wall_s > 0 else None}


@contextmanager
def timed(name: str, frames: int = 0) -> Iterator[Timing]:
    """Measure the ``with`` body; set ``.frames`` inside when the count is known only then."""
    t = Timing(name, frames)
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        yield t
    finally:
        t.wall_s = time.perf_counter() - w0
        t.cpu_s = time.process_time() - c0


def cores() -> int:
    """Cores this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def honest_p1(job: Timing, stages: list[Timing], n_cores: int | None = None,
              fixed: list[Timing] = ()) -> dict[str, Any]:
    """The job's throughput over what the stages allow on these cores (see the module doc).

    ``stages`` run per frame and may overlap; ``fixed`` (check, engine load) run
    once before the frames and cannot, so their wall time adds to the bound.
    """
    n_cores = n_cores or cores()
    slowest = max(stages, key=lambda s: s.per_frame()[0])
    slowest_s = slowest.per_frame()[0]
    cpu_bound_s = sum(s.per_frame()[1] for s in stages) / n_cores
    per_frame_s = max(slowest_s, cpu_bound_s)
    fixed_s = sum(t.wall_s for t in fixed)
    bound_s = fixed_s + job.frames * per_frame_s
    return {"job_fps": round(job.fps(), 2), "slowest_stage": slowest.name,
            "slowest_stage_ms": round(1e3 * slowest_s, 2),
            "stage_cpu_sum_ms_per_core": round(1e3 * cpu_bound_s, 2), "cores": n_cores,
            "bound": "cpu" if cpu_bound_s > slowest_s else "slowest stage",
            "fixed_s": round(fixed_s, 3),
            "bound_fps": round(job.frames / bound_s, 2) if bound_s > 0 else None,
            "honest_p1": round(bound_s / job.wall_s, 3) if job.wall_s > 0 else None,
            "p1_vs_slowest_stage_only": round((fixed_s + job.frames * slowest_s) / job.wall_s, 3)
            if job.wall_s > 0 else None}


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its waited-for children, MiB."""
    unit = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes there, KiB here
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / unit
    return {"self": round(own, 1), "children": round(kids, 1)}


def machine() -> dict[str, Any]:
    """Where and under what load the figures were taken."""
    info: dict[str, Any] = {"machine": platform.machine(), "python": platform.python_version(),
                            "cores": cores(), "loadavg": [round(v, 2) for v in os.getloadavg()]}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def add_common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--smoke", action="store_true", help="a few frames, to check the bench runs (CI)")
    ap.add_argument("--quick", action="store_true", help="fewer frames and sizes than the full run")
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")


def emit(report: dict[str, Any], path: Path | None) -> None:
    """Print the report (with machine, load and peak RSS at the end) and write it to ``path``."""
    report = {**report, "host": machine(), "peak_rss_mb": peak_rss_mb()}
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


__all__ = ["Timing", "timed", "cores", "honest_p1", "peak_rss_mb", "machine", "add_common_args",
           "emit"]
