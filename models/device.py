"""Where the engines compute, and how many CPU threads torch may take.

``auto`` (the default everywhere: CLI, server jobs, sessions, batch) is the
GPU when there is one — CUDA, then Apple's MPS — else the CPU;
``SEGMATTE_DEVICE`` overrides it for a whole server or shell.

On the CPU, torch's default (one thread per core) fights the pipeline's own
threads — the decoder, the writer pool — for the same cores: on 2 cores a job
ran 4–13× slower with torch on 2 threads than on 1 (bench/bench_batch.py).
So a job on the CPU gives torch half the cores (at least one), unless the user
said otherwise with ``SEGMATTE_TORCH_THREADS`` (or ``OMP_NUM_THREADS``).

That rule was measured on the key engine. Each engine says which rule suits
it (``Engine.cpu_threads``): ``"half"`` (the default) or ``"all"`` — one
thread per core, for an engine whose forward is nearly all of a job. The
person engine was measured both ways (bench/bench_person.py, 1080p, 2 cores
shared with other work): torch on 2 threads made its whole job ~3× slower
than on 1 (0.54 against 1.74 fps), so it keeps ``"half"`` too; no engine
takes ``"all"`` yet.
"""

from __future__ import annotations

import os
from typing import Literal

ThreadPolicy = Literal["half", "all"]


def cpu_threads(policy: ThreadPolicy = "half") -> int:
    """The torch thread count a CPU job should use under ``policy`` (the
    environment variables win over any policy)."""
    for var in ("SEGMATTE_TORCH_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    cores = os.cpu_count() or 2
    return max(1, cores if policy == "all" else cores // 2)


def resolve(device: str | None = "auto") -> str:
    """A concrete torch device name for ``device`` (``auto`` or None picks one)."""
    if device and device != "auto":
        return device
    wanted = os.environ.get("SEGMATTE_DEVICE", "").strip()
    if wanted and wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def configure(device: str, policy: ThreadPolicy = "half") -> None:
    """Set torch's CPU thread count for a job on ``device`` (no-op on GPUs)."""
    if device != "cpu":
        return
    import torch

    wanted = cpu_threads(policy)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
