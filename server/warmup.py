"""Warm the server up at start, in the background: the first job should not wait for torch.

Importing torch takes seconds (1–4 s measured on a busy CPU) and the first
call of each kernel more; a fresh server paid both inside its first job. At
start the server runs :func:`start` on a daemon thread that imports torch,
the finishing stage, the job's pipeline and EXR writer, and the default
engine's class, resolves the device
(CUDA's context is made there) and runs one tiny frame through the engine
when it needs no weights (the key engine). The loop serves ``hello`` and
every request meanwhile; a job submitted during warm-up simply finds the
modules half-imported and waits on Python's import lock for the rest, as it
would have imported them itself. One caveat: loading torch's shared
libraries holds the GIL (0.5–1 s here), so a reply due in that moment waits.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger("segmatte.warmup")


@dataclass
class WarmUp:
    """What the warm-up thread did; ``done`` is set when it ends (well or not)."""

    engine: str
    device: str = "auto"
    thread: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    seconds: float | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        if not self.done.is_set():
            return "warming"
        return "failed" if self.error else "warm"


def warm(engine: str, device: str = "auto") -> None:
    """Import and exercise what the first job of ``engine`` would (any exception: not warm)."""
    import numpy as np
    import torch  # noqa: F401 - the point: seconds, paid here rather than in the first job

    from segmatte.models import device as device_config
    from segmatte.models import registry
    from segmatte.models.finish.stage import FinishStage  # noqa: F401 - torch too
    from segmatte.models.frames import ClipInfo, Frame

    from . import pipeline  # noqa: F401 - the job's own modules: media, EXR writer (OIIO)
    from .output import exr  # noqa: F401

    where = device_config.resolve(device)
    device_config.configure(where)
    cls = registry.get(engine)
    if cls.name == "key":  # no weights: one tiny frame runs its kernels once
        eng = cls(device=where)
        eng.open(ClipInfo(width=32, height=32, fps=24.0, first=0, last=0))
        image = np.zeros((32, 32, 3), np.float32)
        image[..., 1] = 0.8
        list(eng.stream([Frame(0, image)]))
        eng.close()


def start(engine: str, device: str = "auto") -> WarmUp:
    """Warm up on a daemon thread (it never keeps the process alive); returns at once."""
    state = WarmUp(engine=engine, device=device)

    def run() -> None:
        t0 = time.perf_counter()
        try:
            warm(engine, device)
        except Exception as exc:  # a failed warm-up only costs the first job its wait
            state.error = f"{type(exc).__name__}: {exc}"
            log.warning("warm-up of the %s engine failed (jobs still run): %s", engine, state.error)
        finally:
            state.seconds = round(time.perf_counter() - t0, 3)
            state.done.set()
        if not state.error:
            log.info("warm: torch and the %s engine ready in %.1f s", engine, state.seconds)

    state.thread = threading.Thread(target=run, name="segmatte-warmup", daemon=True)
    state.thread.start()
    return state
