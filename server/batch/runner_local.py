"""Runners on this machine: through the local server's queue, or in this process.

:class:`ServerRunner` is the default: the server already has a queue, a
journal and the GPU, and it keeps going if the terminal closes. A few shots are
kept in the server's queue at a time (``window``), so an interrupted batch
leaves little behind to cancel. :class:`InProcessRunner` runs the shots one
after another in this process, for tests and for machines without a server.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from segmatte.client.events import (
    TERMINAL,
    Accepted,
    Cancelled,
    Event,
    Failed,
    JobState,
    Progress,
    event_from_dict,
)

from .driver import Reporter
from .plan import ShotJob

CANCEL_GRACE_S = 60.0
"""How long an interrupted batch waits for the server to confirm its cancels."""
LOST_AFTER_S = 120.0
"""How long the server may stay unreachable before its running shots count as failed
(the client reconnects meanwhile; a restarted server resumes its jobs from the journal)."""


class InProcessRunner:
    """Shots one after another through :func:`~segmatte.server.pipeline.run_job`."""

    name = "local"

    def __init__(self, device: str = "auto") -> None:
        self.device = device

    def run(self, jobs: list[ShotJob], reporter: Reporter, stop: threading.Event) -> None:
        from ..pipeline import run_job

        for job in jobs:
            if stop.is_set():
                return
            reporter.started(job)

            def emit(event: Event, job: ShotJob = job) -> None:
                if isinstance(event, Progress):
                    reporter.progress(job, event.done)

            event = run_job(job.spec, job_id=job.job_id, emit=emit, cancel=stop,
                            device=self.device, plan=job.plan)
            reporter.finished(job, event)


class ServerRunner:
    """Shots as jobs of the local server, followed by their events."""

    name = "server"

    def __init__(self, client: Any, window: int = 2) -> None:
        self.client = client
        self.window = max(1, window)

    def run(self, jobs: list[ShotJob], reporter: Reporter, stop: threading.Event) -> None:
        from segmatte.client.client import ClientError

        waiting = list(jobs)
        live: dict[str, ShotJob] = {}
        started: set[str] = set()
        cancel_sent_at: float | None = None
        lost_since: float | None = None
        while waiting or live:
            if self.client.connected:
                lost_since = None
            elif lost_since is None:
                lost_since = time.monotonic()
            elif time.monotonic() - lost_since > LOST_AFTER_S:
                for job in live.values():
                    reporter.finished(job, Failed(job=job.job_id, reason=(
                        f"the server stopped answering for {LOST_AFTER_S:g} s; run the batch "
                        "again with --retry-failed to resume")))
                for job in waiting:
                    reporter.finished(job, Cancelled(job=job.job_id))
                return
            if stop.is_set():
                waiting.clear()
                if cancel_sent_at is None:
                    cancel_sent_at = time.monotonic()
                    for job_id in list(live):
                        try:
                            self.client.cancel(job_id)
                        except (ClientError, TimeoutError, ConnectionError):
                            pass
                elif time.monotonic() - cancel_sent_at > CANCEL_GRACE_S:
                    for job_id, job in live.items():
                        reporter.finished(job, Cancelled(job=job_id))
                    return
            while waiting and len(live) < self.window and not stop.is_set():
                job = waiting.pop(0)
                try:
                    job_id = self.client.submit(job.spec_json(), subscribe=True)
                except (ClientError, TimeoutError, ConnectionError) as exc:
                    reporter.finished(job, Failed(job=job.job_id, reason=_reason(exc)))
                    continue
                job.job_id = job_id
                live[job_id] = job
            try:
                event = self.client.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(event, dict):
                event = event_from_dict(event)
            job = live.get(event.job)
            if job is None:
                continue
            if event.job not in started and (isinstance(event, (Accepted, Progress))
                                             or (isinstance(event, JobState)
                                                 and event.state != "queued")
                                             or isinstance(event, TERMINAL)):
                started.add(event.job)
                reporter.started(job)
            if isinstance(event, Progress):
                reporter.progress(job, event.done)
            elif isinstance(event, JobState):
                reporter.progress(job, event.done)
                terminal = _terminal_from_state(event)
                if terminal is not None:
                    live.pop(event.job)
                    reporter.finished(job, terminal)
            elif isinstance(event, TERMINAL):
                live.pop(event.job)
                reporter.finished(job, event)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)


def _terminal_from_state(state: JobState) -> Event | None:
    from segmatte.client.events import Done

    if state.state == "done":
        return Done(job=state.job, manifest=state.manifest, written=state.written,
                    skipped=state.skipped)
    if state.state == "failed":
        return Failed(job=state.job, reason=state.reason)
    if state.state == "cancelled":
        return Cancelled(job=state.job, written=state.written)
    return None


def connect(address: str | None = None, start_if_needed: bool = True) -> Any:
    """A client of the local server, starting one in the background when none answers
    (as ``segmatte matte --server`` does); raises ConnectionError with one sentence."""
    from rich.console import Console

    from segmatte.client.client import ClientError

    from ..commands.remote import connect_or_start

    try:
        return connect_or_start(address, start_if_needed, Console(stderr=True))
    except ClientError as exc:
        raise ConnectionError(f"{exc.message}; or pass --local to run the batch in this process") from None
    except ConnectionError as exc:
        raise ConnectionError(f"{exc}; or pass --local to run the batch in this process") from None
