"""Jobs on the server: their state, the priority queue, and the worker threads.

Threading rule: a :class:`Job`'s fields and the :class:`JobTable` are touched
only by the server's ROUTER thread. Workers touch nothing but the
:class:`JobQueue` (locked) and a job's ``cancel`` event; what they learn
(events, the end of a run) they post to the ROUTER thread through a
:class:`Mailbox`, which also wakes its poll loop.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from segmatte.client.events import (
    Accepted,
    Cancelled,
    Done,
    Event,
    Failed,
    FrameWritten,
    JobState,
    Progress,
)

from .journal import JobRow, Journal

log = logging.getLogger("segmatte.server.jobs")

FINISHED = ("done", "failed", "cancelled")


class Runner(Protocol):
    """What the server needs from the pipeline (``segmatte.server.pipeline``)."""

    def check(self, spec: Any) -> Any:
        """Validate against the real world; raise a ValueError/EngineError with one sentence."""

    def run(self, spec: Any, job_id: str, emit: Callable[[Event], None],
            cancel: threading.Event) -> Event:
        """Run the job, calling ``emit`` for each event; return the terminal event."""


class PipelineRunner:
    """The real pipeline, imported on first use (it pulls in media, engines and EXR)."""

    def check(self, spec: Any) -> Any:
        from segmatte.server.pipeline import check_job

        return check_job(spec)

    def run(self, spec: Any, job_id: str, emit: Callable[[Event], None],
            cancel: threading.Event) -> Event:
        from segmatte.server.pipeline import run_job

        return run_job(spec, job_id=job_id, emit=emit, cancel=cancel)


class Mailbox:
    """Thread-safe calls into the ROUTER thread: ``post(fn, ...)`` queues a call
    and writes a byte to a socket pair whose read end the loop polls, so the
    loop wakes at once instead of spinning on a short timeout."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.SimpleQueue()
        self._rsock, self._wsock = socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)

    def fileno(self) -> int:
        return self._rsock.fileno()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self._calls.put((fn, args))
        try:
            self._wsock.send(b"\x01")
        except (BlockingIOError, OSError):
            pass  # already signalled (buffer full) or closing

    def drain(self, limit: int = 10_000) -> int:
        """Run queued calls (on the calling thread, the ROUTER thread); return how many."""
        try:
            while self._rsock.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        n = 0
        while n < limit:
            try:
                fn, args = self._calls.get_nowait()
            except queue.Empty:
                break
            n += 1
            try:
                fn(*args)
            except Exception:  # a bug in one call must not kill the loop
                log.exception("mailbox call %s failed", getattr(fn, "__name__", fn))
        return n

    def close(self) -> None:
        self._rsock.close()
        self._wsock.close()


class JobQueue:
    """Job ids by priority (higher first), then by arrival; blocking get with a timeout."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str, Any]] = []
        self._removed: set[str] = set()
        self._count = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, job: str, priority: int, payload: Any = None) -> None:
        """Queue ``job``; ``payload`` (what a worker needs to run it) comes back from get."""
        with self._cond:
            self._removed.discard(job)
            heapq.heappush(self._heap, (-priority, next(self._count), job, payload))
            self._cond.notify()

    def get(self, timeout: float) -> tuple[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._heap:
                    _, _, job, payload = heapq.heappop(self._heap)
                    if job in self._removed:
                        self._removed.discard(job)
                        continue
                    return job, payload
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return None
                self._cond.wait(left)

    def remove(self, job: str) -> bool:
        """Take a queued job out; False if a worker already has it."""
        with self._cond:
            if any(item[2] == job for item in self._heap) and job not in self._removed:
                self._removed.add(job)
                return True
            return False

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap) - len(self._removed)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class Job:
    """One job as the server knows it. Fields change on the ROUTER thread only."""

    id: str
    spec: Any
    """The parsed JobSpec (None for a finished job read back from the journal)."""
    spec_dict: dict[str, Any]
    priority: int = 0
    key: str | None = None
    state: str = "queued"
    total: int = 0
    done: int = 0
    written: int = 0
    skipped: int = 0
    fps: float = 0.0
    eta_s: float | None = None
    seq: int = 0
    manifest: str = ""
    reason: str = ""
    terminal: tuple[int, dict[str, Any]] | None = None
    """(seq, event dict) of the job's end, replayed to late subscribers."""
    cancel: threading.Event = field(default_factory=threading.Event)
    user_cancelled: bool = False
    resumable: bool = True
    """False for a session's propagation: it needs the session, which ends with the server."""
    started: float | None = None
    """When the job first ran (wall clock); a resumed job's frames on disk from after it are its own."""
    frames: dict[int, bool] = field(default_factory=dict)
    """Frames this job has accounted for → True if it wrote the frame, False if it found
    it done. The counters are recounted from it, so a resumed run that meets
    its own frames again counts each frame once."""

    def recount(self) -> None:
        self.written = sum(self.frames.values())
        self.skipped = len(self.frames) - self.written
        self.done = len(self.frames)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def snapshot(self) -> JobState:
        return JobState(job=self.id, state=self.state, total=self.total, done=self.done,
                        written=self.written, skipped=self.skipped, fps=self.fps, eta_s=self.eta_s,
                        seq=self.seq, manifest=self.manifest, reason=self.reason)

    def summary(self) -> dict[str, Any]:
        data = self.snapshot().to_dict()
        data.pop("type")
        return data

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        job = cls(id=row.id, spec=None, spec_dict=row.spec, priority=row.priority, key=row.key,
                  state=row.state, total=row.total, done=row.done, written=row.written,
                  skipped=row.skipped, seq=row.seq, manifest=row.manifest or "",
                  reason=row.error or "", started=row.started)
        end: Event | None = None
        if row.state == "done":
            end = Done(job=row.id, manifest=job.manifest, written=row.written, skipped=row.skipped)
        elif row.state == "failed":
            end = Failed(job=row.id, reason=job.reason)
        elif row.state == "cancelled":
            end = Cancelled(job=row.id, written=row.written)
        if end is not None:
            job.terminal = (row.seq, end.to_dict())
        return job


class JobTable:
    """The server's registry of jobs, mirrored into the journal.

    :meth:`apply` folds one event into a job and returns the event's sequence
    number (None when the event is dropped: anything after the job's end).
    """

    MAX_FINISHED_IN_MEMORY = 2000

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.jobs: dict[str, Job] = {}
        self.keys: dict[str, str] = {}
        self.stopping = False

    def add(self, job: Job) -> None:
        if not job.frames and job.state not in FINISHED:  # a resumed job: what it already did
            job.frames = self.journal.frame_outcomes(job.id)
            if job.frames:
                job.recount()
        self.jobs[job.id] = job
        if job.key:
            self.keys[job.key] = job.id
        self._prune()

    def get(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None:
            row = self.journal.job(job_id)
            if row is not None:
                job = Job.from_row(row)
                self.jobs[job.id] = job
        return job

    def by_key(self, key: str) -> Job | None:
        job_id = self.keys.get(key)
        if job_id is None:
            row = self.journal.job_by_key(key)
            job_id = row.id if row else None
        return self.get(job_id) if job_id else None

    def started(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.state == "queued":
            job.state = "running"
            job.started = job.started or time.time()
            self.journal.set_state(job_id, "running")

    def apply(self, job_id: str, event: Event) -> int | None:
        job = self.jobs.get(job_id)
        if job is None or job.finished:
            return None
        if isinstance(event, Cancelled) and self.stopping and not job.user_cancelled \
                and job.resumable:
            # Interrupted by the server stopping, not by a user: leave it to resume.
            job.state = "queued"
            self.journal.set_state(job_id, "queued")
            return None
        job.seq += 1
        db = self.journal.db
        db.execute("BEGIN")
        try:
            if isinstance(event, Accepted):
                job.total = event.total
                job.started = job.started or time.time()
                if job.state == "queued":
                    job.state = "running"
                    self.journal.set_state(job_id, "running")
            elif isinstance(event, Progress):
                job.total = event.total or job.total
                job.done = max(job.done, min(event.done, job.total or event.done))
                job.fps, job.eta_s = event.fps, event.eta_s
            elif isinstance(event, FrameWritten):
                self._frame(job, event)
            elif isinstance(event, (Done, Failed, Cancelled)):
                job.state = event.type
                if isinstance(event, Done):
                    job.manifest = event.manifest
                    job.eta_s = 0.0
                elif isinstance(event, Failed):
                    job.reason = event.reason
                job.terminal = (job.seq, event.to_dict())
                self.journal.set_state(job_id, job.state, error=job.reason or None,
                                       manifest=job.manifest or None)
            self.journal.update_counts(job_id, total=job.total, done=job.done, written=job.written,
                                       skipped=job.skipped, seq=job.seq)
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        return job.seq

    def _frame(self, job: Job, event: FrameWritten) -> None:
        """Count one frame once: a resumed run skips the frames this job wrote before."""
        known = job.frames.get(event.frame)
        skipped = event.skipped
        if skipped and known is None and _written_since(event.paths, job.started):
            # On disk, valid for this job, newer than its start, yet not in the
            # journal: written just before a crash took the event with it.
            skipped = False
        wrote = known is True or not skipped
        job.frames[event.frame] = wrote
        job.recount()
        self.journal.record_frame(job.id, event.frame, list(event.paths), skipped)

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.state == "running"]

    def _prune(self) -> None:
        finished = [j for j in self.jobs.values() if j.finished]
        for job in finished[: max(0, len(finished) - self.MAX_FINISHED_IN_MEMORY)]:
            self.jobs.pop(job.id, None)
            if job.key:
                self.keys.pop(job.key, None)


def _written_since(paths: tuple[str, ...], started: float | None) -> bool:
    """Whether every file of a frame was modified after ``started`` (wall clock)."""
    if started is None or not paths:
        return False
    try:
        return all(os.stat(p).st_mtime >= started - 1.0 for p in paths)
    except OSError:
        return False


class Workers:
    """N threads running jobs from the queue, one at a time each."""

    def __init__(self, count: int, jobs: JobQueue, runner: Runner, mailbox: Mailbox,
                 on_event: Callable[[str, Event], None],
                 on_start: Callable[[str], None]) -> None:
        self.queue = jobs
        self.runner = runner
        self.mailbox = mailbox
        self.on_event = on_event
        self.on_start = on_start
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._loop, name=f"segmatte-worker-{i}", daemon=True)
                        for i in range(count)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self.queue.get(timeout=0.5)
            if item is None:
                continue
            job_id, (spec, cancel) = item
            self.mailbox.post(self.on_start, job_id)
            self._run(job_id, spec, cancel)

    def _run(self, job_id: str, spec: Any, cancel: threading.Event) -> None:
        def emit(event: Event) -> None:
            self.mailbox.post(self.on_event, job_id, event)

        if cancel.is_set():
            emit(Cancelled(job=job_id, written=0))
            return
        try:
            terminal = self.runner.run(spec, job_id, emit, cancel)
        except Exception as exc:  # run_job should return Failed; this is the safety net
            log.exception("job %s: the pipeline raised", job_id)
            terminal = Failed(job=job_id, reason=f"internal error: {exc}")
        if not isinstance(terminal, (Done, Failed, Cancelled)):
            terminal = Failed(job=job_id, reason="the pipeline ended without a result")
        emit(terminal)  # dropped by JobTable.apply if the pipeline already emitted it
