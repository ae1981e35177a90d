"""Running a batch: check every shot, run the ones that need it, record every result.

The driver owns the batch manifest and is the same whatever runs the shots
(in-process, the local server's queue, Ray). A runner only promises to call
:meth:`Reporter.finished` once for each shot it started, with the job's
terminal event; the driver turns that into the manifest. Shots that cannot run
(missing media, bad range, a spec the pipeline refuses) are recorded as
failed before anything runs, and never stop the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from segmatte.client.events import Cancelled, Done, Event, Failed
from segmatte.models.engine import EngineError

from ..media import MediaError
from ..spec import SpecError
from . import manifest as mf
from .plan import BatchSettings, ShotJob, empty_manifest, needs_run, record_for, shot_spec
from .shots import Shot


class Reporter(Protocol):
    """What a runner tells the driver (any thread)."""

    def started(self, job: ShotJob) -> None: ...

    def progress(self, job: ShotJob, done: int) -> None: ...

    def finished(self, job: ShotJob, event: Event) -> None: ...


class Runner(Protocol):
    name: str

    def run(self, jobs: list[ShotJob], reporter: Reporter, stop: threading.Event) -> None:
        """Run ``jobs`` and return when each started one has finished; start no
        new job once ``stop`` is set, and cancel the running ones."""


class View(Protocol):
    """Progress for a person (rich) or a program (JSON lines)."""

    def begin(self, jobs: list[ShotJob], skipped: list[mf.ShotRecord]) -> None: ...

    def started(self, job: ShotJob) -> None: ...

    def progress(self, job: ShotJob, done: int) -> None: ...

    def finished(self, job: ShotJob, record: mf.ShotRecord) -> None: ...

    def end(self, manifest: mf.BatchManifest) -> None: ...


class NullView:
    def begin(self, jobs: list[ShotJob], skipped: list[mf.ShotRecord]) -> None:
        pass

    def started(self, job: ShotJob) -> None:
        pass

    def progress(self, job: ShotJob, done: int) -> None:
        pass

    def finished(self, job: ShotJob, record: mf.ShotRecord) -> None:
        pass

    def end(self, manifest: mf.BatchManifest) -> None:
        pass


@dataclass
class BatchResult:
    manifest: mf.BatchManifest
    ran: int
    stopped: bool

    @property
    def ok(self) -> bool:
        return all(r.state == "done" for r in self.manifest.shots.values())


def prepare(shots: list[Shot], settings: BatchSettings, manifest: mf.BatchManifest,
            retry_failed: bool, check: bool = True) -> tuple[list[ShotJob], list[mf.ShotRecord]]:
    """Update ``manifest`` for this input; return (jobs to run, records left as they were)."""
    from ..pipeline import check_job

    previous = manifest.shots
    manifest.shots = {}
    todo: list[ShotJob] = []
    kept: list[mf.ShotRecord] = []
    for shot in shots:
        prior = previous.get(shot.id)
        if shot.error:
            rec = record_for(shot, None, settings, prior)
            rec.state, rec.reason = "failed", shot.error
            manifest.shots[shot.id] = rec
            continue
        try:
            spec = shot_spec(shot, settings)
            if prior is not None and shot.first is not None and shot.last is not None and \
                    not needs_run(prior, ShotJob(shot, spec, shot.first, shot.last), retry_failed):
                # kept as it is: no need to probe the media and read every frame's header again
                manifest.shots[shot.id] = prior
                kept.append(prior)
                continue
            plan = check_job(spec) if check else None
        except (SpecError, MediaError, EngineError, ValueError) as exc:
            rec = record_for(shot, None, settings, prior)
            rec.state, rec.reason = "failed", f"{shot.origin or shot.id}: {exc}"
            manifest.shots[shot.id] = rec
            continue
        first = plan.first if plan else (shot.first or 0)
        last = plan.last if plan else (shot.last or 0)
        job = ShotJob(shot=shot, spec=spec, first=first, last=last, plan=plan)
        if needs_run(prior, job, retry_failed):
            rec = record_for(shot, job, settings, prior)
            manifest.shots[shot.id] = rec
            todo.append(job)
        else:
            assert prior is not None
            manifest.shots[shot.id] = prior
            kept.append(prior)
    return todo, kept


class _Recorder:
    """The Reporter runners see: updates the manifest (saved on every end) and the view."""

    def __init__(self, manifest: mf.BatchManifest, view: View) -> None:
        self.manifest = manifest
        self.view = view
        self.lock = threading.Lock()
        self.began: dict[str, float] = {}
        self.ended: set[str] = set()

    def started(self, job: ShotJob) -> None:
        with self.lock:
            rec = self.manifest.shots[job.shot.id]
            rec.state = "running"
            rec.attempts += 1
            self.began[job.shot.id] = time.monotonic()
            self.view.started(job)

    def progress(self, job: ShotJob, done: int) -> None:
        with self.lock:
            self.view.progress(job, done)

    def finished(self, job: ShotJob, event: Event) -> None:
        with self.lock:
            if job.shot.id in self.ended:
                return
            self.ended.add(job.shot.id)
            rec = self.manifest.shots[job.shot.id]
            began = self.began.get(job.shot.id)
            rec.seconds = round(time.monotonic() - began, 3) if began else 0.0
            rec.reason, rec.frame = "", None
            if isinstance(event, Done):
                rec.state, rec.manifest = "done", event.manifest
                rec.written, rec.skipped = event.written, event.skipped
            elif isinstance(event, Cancelled):
                rec.state, rec.written = "cancelled", event.written
            else:
                rec.state = "failed"
                rec.reason = getattr(event, "reason", "") or "failed without a reason"
                rec.frame = getattr(event, "frame", None)
            mf.save(self.manifest)
            self.view.finished(job, rec)


def run_batch(shots: list[Shot], settings: BatchSettings, runner: Runner, *,
              input_path: str = "", view: View | None = None, retry_failed: bool = False,
              stop: threading.Event | None = None,
              before_run: Callable[[list[ShotJob]], None] | None = None) -> BatchResult:
    """Run a batch to its end (or until ``stop``); the manifest records every shot."""
    view = view or NullView()
    stop = stop or threading.Event()
    with mf.locked(settings.output):
        return _run_batch(shots, settings, runner, input_path, view, retry_failed, stop, before_run)


def _run_batch(shots: list[Shot], settings: BatchSettings, runner: Runner, input_path: str,
               view: View, retry_failed: bool, stop: threading.Event,
               before_run: Callable[[list[ShotJob]], None] | None) -> BatchResult:
    manifest = mf.load(settings.output) or empty_manifest(input_path, settings)
    manifest.input = input_path or manifest.input
    manifest.runner = runner.name
    todo, kept = prepare(shots, settings, manifest, retry_failed)
    mf.save(manifest)
    if before_run:
        before_run(todo)
    view.begin(todo, kept)
    recorder = _Recorder(manifest, view)
    if todo and not stop.is_set():
        runner.run(todo, recorder, stop)
    for job in todo:  # never started, or the runner lost them
        if job.shot.id not in recorder.ended:
            reason = "the batch was interrupted before this shot ended" if stop.is_set() \
                else "the runner returned without a result for this shot"
            recorder.finished(job, Cancelled(job=job.job_id) if stop.is_set()
                              else Failed(job=job.job_id, reason=reason))
    mf.save(manifest)
    view.end(manifest)
    return BatchResult(manifest=manifest, ran=len(recorder.began), stopped=stop.is_set())
