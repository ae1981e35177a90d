"""Shots as Ray tasks: many GPUs, one machine or a cluster, no protocol of our own.

Each worker is a Ray actor holding one GPU (``num_gpus``; 0 on CPU) and an
:class:`EngineKeeper`, so a model's weights load once per worker, not once per
shot. The driver hands a shot (its spec as JSON) to an idle worker, and the
worker runs the ordinary pipeline, writing into the output folder — which must
be the same path on every node (a shared file system). Results come back as
terminal events, so the batch manifest and resume work exactly as locally.

Actors run two threads (``max_concurrency=2``) so that :meth:`cancel` reaches a
worker while its shot runs: Ray cannot interrupt a running actor method, but the
pipeline stops between frames when its cancel flag is set.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from segmatte.client.events import Cancelled, Event, Failed, Progress, event_from_dict

from .driver import Reporter
from .plan import ShotJob

CANCEL_GRACE_S = 60.0
PROGRESS_POLL_S = 0.5


class EngineKeeper:
    """Engines kept alive between shots, keyed by what their weights depend on.

    The pipeline opens and closes an engine once per job; the keeper hands it
    a wrapper whose ``close`` leaves the weights loaded, so the next shot with
    the same engine, model, options and device re-uses them.
    """

    def __init__(self) -> None:
        self._engines: dict[tuple[str, str, str, str], Any] = {}

    def engine(self, plan: Any, device: str) -> Any:
        """The pipeline's ``engine_factory``: a kept engine for this plan."""
        key = (plan.engine_cls.__name__, plan.options.model_dump_json(), plan.spec.model or "",
               device)
        engine = self._engines.get(key)
        if engine is None:
            from segmatte.models.registry import engine_class

            engine = self._engines[key] = engine_class(plan.engine_cls)(
                plan.options, model=plan.spec.model, device=device)
        return _Kept(engine)

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()

    def __len__(self) -> int:
        return len(self._engines)


class _Kept:
    """An engine whose ``close`` is deferred to the keeper (everything else passes through)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class ShotWorker:
    """The body of a Ray actor: runs shots with engines kept between them."""

    def __init__(self, device: str = "auto") -> None:
        self.device = device
        self.keeper = EngineKeeper()
        self.cancels: dict[str, threading.Event] = {}
        self.done: dict[str, int] = {}
        self.shots = 0

    def run(self, spec: dict[str, Any], job_id: str) -> dict[str, Any]:
        from ..media import MediaError
        from ..pipeline import check_job, run_job
        from ..spec import SpecError, parse_spec

        cancel = self.cancels.setdefault(job_id, threading.Event())
        try:
            parsed = parse_spec(spec)
            plan = check_job(parsed)
        except (SpecError, MediaError, ValueError, RuntimeError) as exc:
            return Failed(job=job_id, reason=str(exc)).to_dict()

        def emit(event: Event) -> None:
            if isinstance(event, Progress):
                self.done[job_id] = event.done

        try:
            event = run_job(parsed, job_id=job_id, emit=emit, cancel=cancel, device=self.device,
                            plan=plan, engine_factory=self.keeper.engine)
        finally:
            self.cancels.pop(job_id, None)
            self.done.pop(job_id, None)
        self.shots += 1
        return event.to_dict()

    def progress(self, job_id: str) -> int:
        """Frames of ``job_id`` done so far (the second actor thread answers while it runs)."""
        return self.done.get(job_id, 0)

    def cancel(self, job_id: str) -> None:
        self.cancels.setdefault(job_id, threading.Event()).set()

    def stats(self) -> dict[str, int]:
        return {"shots": self.shots, "engines": len(self.keeper)}


@dataclass(frozen=True)
class RaySettings:
    address: str | None = "auto"
    """``auto`` (a running cluster), ``local`` (start one here), or ``ray://host:port``;
    None: use the Ray instance this process already initialised."""
    workers: int | None = None
    """Actors to start; None: one per GPU in the cluster (one per 2 CPUs without GPUs)."""
    num_gpus: float = 1.0
    num_cpus: float = 1.0
    device: str | None = None
    """Torch device inside workers; None: ``cuda`` when ``num_gpus`` > 0, else ``cpu``."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


LOOPBACK_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0 before Ray is imported, a Ray instance started here binds to
127.0.0.1 only (Ray's own switch, read at import: it makes Ray use the
loopback address as the node address). A local instance is this machine's
business; other machines join a real cluster (``--ray ADDRESS``) instead."""


def _ray(local: bool = False) -> Any:
    if local and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ONLY_ENV, "0")
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install 'ray[default]'") from None
    return ray


def ensure_ray(settings: RaySettings) -> Any:
    """Connect to (or start) Ray as asked; returns the ``ray`` module."""
    ray = _ray(local=settings.address in (None, "local"))
    if ray.is_initialized():
        return ray
    address = settings.address
    if address in (None, "local"):
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as exc:
            raise RuntimeError(f"no Ray cluster answered at {address} ({exc}); start one with "
                               "`ray start --head`, or pass --ray local") from None
    return ray


def worker_count(ray: Any, settings: RaySettings) -> int:
    if settings.workers:
        return settings.workers
    resources = ray.cluster_resources()
    if settings.num_gpus > 0:
        return max(1, int(resources.get("GPU", 0) // settings.num_gpus))
    return max(1, int(resources.get("CPU", 1) // max(settings.num_cpus, 1) // 2) or 1)


class RayRunner:
    """Hand shots to a pool of :class:`ShotWorker` actors; one shot per actor at a time."""

    name = "ray"

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings
        self.ray = ensure_ray(settings)
        ray = self.ray
        gpus = ray.cluster_resources().get("GPU", 0)
        if settings.num_gpus > gpus:
            raise RuntimeError(f"each Ray worker asks for {settings.num_gpus:g} GPU but the cluster "
                               f"has {gpus:g}; pass --num-gpus 0 to run on CPUs")
        count = worker_count(ray, settings)
        self.device = settings.device or ("cuda" if settings.num_gpus > 0 else "cpu")
        self.actor = ray.remote(ShotWorker).options(num_gpus=settings.num_gpus,
                                                    num_cpus=settings.num_cpus, max_concurrency=2)
        self.workers = [self.actor.remote(self.device) for _ in range(count)]

    def run(self, jobs: list[ShotJob], reporter: Reporter, stop: threading.Event) -> None:
        ray = self.ray
        waiting = list(jobs)
        idle = list(self.workers)
        running: dict[Any, tuple[ShotJob, Any]] = {}
        cancelled_at: float | None = None
        while waiting or running:
            if stop.is_set():
                waiting.clear()
                if cancelled_at is None:
                    cancelled_at = time.monotonic()
                    for job, worker in running.values():
                        worker.cancel.remote(job.job_id)
                elif time.monotonic() - cancelled_at > CANCEL_GRACE_S:
                    for job, _worker in running.values():
                        reporter.finished(job, Cancelled(job=job.job_id))
                    return
            while waiting and idle:
                job, worker = waiting.pop(0), idle.pop(0)
                ref = worker.run.remote(job.spec_json(), job.job_id)
                running[ref] = (job, worker)
                reporter.started(job)
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=PROGRESS_POLL_S)
            if not ready:
                self._poll_progress(running, reporter)
            for ref in ready:
                job, worker = running.pop(ref)
                event, alive = self._result(ref, job)
                idle.append(worker if alive else self._replace(worker))
                reporter.finished(job, event)

    def _poll_progress(self, running: dict[Any, tuple[ShotJob, Any]], reporter: Reporter) -> None:
        asks = {w.progress.remote(job.job_id): job for job, w in running.values()}
        ready, _ = self.ray.wait(list(asks), num_returns=len(asks), timeout=PROGRESS_POLL_S)
        for ref in ready:
            try:
                reporter.progress(asks[ref], int(self.ray.get(ref)))
            except self.ray.exceptions.RayError:
                pass

    def _result(self, ref: Any, job: ShotJob) -> tuple[Event, bool]:
        """The shot's terminal event, and whether its worker is still alive."""
        errors = self.ray.exceptions
        try:
            return event_from_dict(self.ray.get(ref)), True
        except errors.TaskCancelledError:
            return Cancelled(job=job.job_id), True
        except errors.RayActorError as exc:
            return Failed(job=job.job_id, reason="the Ray worker died while running this shot "
                          f"({_first_line(exc)})"), False
        except errors.RayError as exc:
            return Failed(job=job.job_id, reason=f"the Ray worker failed: {_first_line(exc)}"), True

    def _replace(self, dead: Any) -> Any:
        """A fresh actor in place of one that died (out of memory, node lost)."""
        fresh = self.actor.remote(self.device)
        self.workers = [fresh if w is dead else w for w in self.workers]
        return fresh

    def stats(self) -> list[dict[str, int]]:
        return self.ray.get([w.stats.remote() for w in self.workers])

    def close(self) -> None:
        for w in self.workers:
            self.ray.kill(w)
        self.workers = []
