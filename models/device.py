"""Where the engines compute, and how many CPU threads torch may take.

``auto`` (the default everywhere: CLI, server jobs, sessions, batch) is the
GPU when there is one — CUDA, then Apple's MPS — else the CPU;
``SEGMATTE_DEVICE`` overrides it for a whole server or shell.

On the CPU, torch's default (one thread per core) fights the pipeline's own
threads — the decoder, the writer pool — for the same cores: on 2 cores a job
ran 4–13× slower with torch on 2 threads than on 1 (bench/bench_batch.py).
So a job on the CPU gives torch half the cores (at least one), unless the user
said otherwise with ``SEGMATTE_TORCH_THREADS`` (or ``OMP_NUM_THREADS``).
"""

from __future__ import annotations

import os


def cpu_threads() -> int:
    """The torch thread count a CPU job should use."""
    for var in ("SEGMATTE_TORCH_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, (os.cpu_count() or 2) // 2)


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


def configure(device: str) -> None:
    """Set torch's CPU thread count for a job on ``device`` (no-op on GPUs)."""
    if device != "cpu":
        return
    import torch

    wanted = cpu_threads()
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
