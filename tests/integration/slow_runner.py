"""The real pipeline, slowed per written frame: makes "mid-job" observable in tests.

``segmatte serve --runner slow_runner:SlowRunner`` (with this folder on
PYTHONPATH). ``SEGMATTE_TEST_FRAME_DELAY`` (seconds, default 0.1) is slept
after each frame written, inside ``emit`` on the worker thread, so the job
really runs at that pace; everything else (reader, engine, EXR writer,
resume) is the real thing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from segmatte.client.events import Event, FrameWritten
from segmatte.server.jobs import PipelineRunner


class SlowRunner(PipelineRunner):
    def run(self, spec: Any, job_id: str, emit: Callable[[Event], None],
            cancel: threading.Event) -> Event:
        delay = float(os.environ.get("SEGMATTE_TEST_FRAME_DELAY", "0.1"))

        def slow_emit(event: Event) -> None:
            emit(event)
            if isinstance(event, FrameWritten) and not event.skipped:
                time.sleep(delay)

        return super().run(spec, job_id, slow_emit, cancel)
