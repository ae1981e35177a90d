"""One matte job, start to finish: reader → engine → finish → writer, overlapped.

The reader decodes ahead in its own thread (bounded queue), the engine and
finishing run in the caller's thread, and a small writer pool writes EXRs
while the next frame computes — so the slowest stage sets the pace, not the
sum. At most ``reader queue + writer max_pending`` frames are in flight,
whatever the clip length.

:func:`check_job` is the door: everything that can be known before the first
frame (source readable, range inside the clip, engine and options valid,
output folder usable and free of files that are not ours) fails there with one
sentence. :func:`run_job` never raises for job-level trouble: it emits and
returns one terminal event (Done, Failed or Cancelled).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from segmatte.client import __version__
from segmatte.client.events import (
    Accepted,
    Cancelled,
    Done,
    Event,
    Failed,
    FrameWritten,
    Progress,
)
from segmatte.models import device as device_config
from segmatte.models import registry
from segmatte.models.engine import Engine, EngineError, EngineOptions
from segmatte.models.finish.stage import FinishStage
from segmatte.models.frames import ClipInfo, Frame, Matte
from segmatte.models.prompts import prompt_digest

from .media import MediaError, MediaInfo, check_frames, open_reader, probe, read_frame
from .output.exr import (
    file_sha256,
    is_complete,
    matte_header,
    sequence_path,
    stale_temps,
    write_matte,
)
from .output.layers_exr import write_layers
from .output.manifest import (
    FrameRecord,
    Manifest,
    ManifestError,
    load_manifest,
    manifest_path,
    write_manifest,
)
from .output.writer_pool import WriteError, WriterPool
from .spec import JobSpec, SpecError, _first_error

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]

PROGRESS_INTERVAL_S = 0.1
"""Progress events are throttled to this interval (frame events are not)."""


@dataclass(frozen=True)
class JobPlan:
    """A spec checked against the world, with everything derived from it."""

    spec: JobSpec
    media: MediaInfo
    engine_cls: type[Engine]
    options: EngineOptions
    first: int
    last: int
    layers: tuple[str, ...]
    """Layer names the engine yields after finishing; one sequence each."""
    digest: str
    folder: Path

    @property
    def order(self) -> list[int]:
        """Source frame numbers in the order they are processed.

        An engine may plan its own order (the tracker runs ``both`` as the
        keyframe back to the first frame, then on to the last); otherwise
        forward, or reversed for ``backward``.
        """
        plan_order = getattr(self.engine_cls, "frame_order", None)
        if plan_order is not None:
            return list(plan_order(self.spec.direction, self.first, self.last, self.spec.objects))
        frames = list(range(self.first, self.last + 1))
        return frames[::-1] if self.spec.direction == "backward" else frames

    @property
    def multichannel(self) -> bool:
        """Several layers in one EXR per frame (channels ``<layer>.A``)."""
        return self.spec.output.layers == "channels" and len(self.layers) > 1

    def paths(self, number: int) -> dict[str, Path]:
        """Each layer's file for a source frame (one shared file when multichannel)."""
        out = self.spec.output
        if self.multichannel:
            shared = sequence_path(self.folder, out.name, number, out.padding)
            return {layer: shared for layer in self.layers}
        single = len(self.layers) == 1
        return {
            layer: sequence_path(self.folder, out.name, number, out.padding,
                                 None if single else layer)
            for layer in self.layers
        }

    @property
    def manifest(self) -> Path:
        return manifest_path(self.folder, self.spec.output.name)


def _layer_names(spec: JobSpec, options: EngineOptions) -> tuple[str, ...]:
    """The layers the job writes, known before any frame: one sequence each."""
    if spec.finish.combine:
        return ("matte",)
    planned = getattr(options, "layer_names", None)  # e.g. the semantic engine's classes
    if planned is not None:
        return tuple(planned(spec.model))
    return tuple(o.id for o in spec.objects) if spec.objects else ("matte",)


def _check_folder(folder: Path) -> None:
    """The output folder (or its nearest existing parent) must be a writable folder."""
    probe_dir = folder
    while not probe_dir.exists():
        if probe_dir.parent == probe_dir:
            break
        probe_dir = probe_dir.parent
    if probe_dir == folder and not folder.is_dir():
        raise SpecError(f"output folder {folder} exists but is not a folder")
    if not probe_dir.is_dir():
        raise SpecError(f"output folder {folder} cannot be made: {probe_dir} is not a folder")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise SpecError(f"output folder {folder} is not writable (no write permission on {probe_dir})")


def _check_existing(plan: JobPlan) -> None:
    """Refuse to touch files that are not ours, or ours from another job unless asked.

    Headers only: whether a file of this job is *complete* is the run's
    business (it rewrites what is not), not the door's.
    """
    if not plan.folder.is_dir():
        return
    present = {e.name for e in os.scandir(plan.folder)}
    if not present:
        return
    manifest = plan.manifest
    if manifest.name in present and not _manifest_is_ours(manifest):
        raise SpecError(f"output folder {plan.folder} already holds {manifest.name}, which segmatte "
                        "did not write; choose another folder or --name")
    checked: set[Path] = set()
    for number in plan.order:
        for path in plan.paths(number).values():
            if path.name not in present or path in checked:
                continue
            checked.add(path)
            header = matte_header(path)
            if not header:
                raise SpecError(f"output folder {plan.folder} already holds {path.name}, which "
                                "segmatte did not write; choose another folder or --name")
            if not plan.spec.output.overwrite and header.get("job") != plan.digest:
                raise SpecError(f"{path} was written by a different segmatte job (other settings); "
                                "pass --overwrite to replace it, or choose another folder or --name")


def _manifest_is_ours(path: Path) -> bool:
    try:
        load_manifest(path)
        return True
    except (ManifestError, OSError, ValueError):
        return False


def check_output(plan: JobPlan) -> None:
    """The output folder is usable and holds nothing this plan may not touch (SpecError)."""
    _check_folder(plan.folder)
    _check_existing(plan)


def check_job(spec: JobSpec) -> JobPlan:
    """Validate a spec against the real world; raises SpecError/MediaError/EngineError."""
    engine_cls = registry.get(spec.engine)
    try:
        options = engine_cls.Options(**spec.options)
    except ValidationError as exc:
        raise SpecError(_first_error(exc, "options")) from None
    if engine_cls.needs_objects and not spec.objects:
        raise SpecError(f"the {spec.engine} engine needs at least one object with prompts")
    engine_cls.check_ready(options, spec.model)
    if spec.finish.refine == "vitmatte":
        from segmatte.models.weights import cache

        cache.require(spec.finish.refine_model)
    media = probe(spec.source)
    first, last = (spec.range.first, spec.range.last) if spec.range else (media.first, media.last)
    media = check_frames(media, first, last, hold_gaps=spec.hold_gaps)  # range, gaps: one sentence
    if first < media.first or last > media.last:
        raise MediaError(f"range {first}-{last} is outside the source's frames "
                         f"{media.first}-{media.last} ({spec.source})")
    folder = Path(spec.output.folder).expanduser().absolute()
    plan = JobPlan(spec=spec, media=media, engine_cls=engine_cls, options=options, first=first,
                   last=last, layers=_layer_names(spec, options), digest=spec.digest(), folder=folder)
    check_output(plan)
    return plan


# ---------------------------------------------------------------- running


@dataclass
class _Tally:
    """Counts and rate for progress; fps over a sliding window of recent frames."""

    total: int
    done: int = 0
    written: int = 0
    skipped: int = 0
    times: deque = field(default_factory=lambda: deque(maxlen=32))
    last_emit: float = 0.0

    def tick(self) -> None:
        self.done += 1
        self.times.append(time.monotonic())

    @property
    def fps(self) -> float:
        if len(self.times) < 2:
            return 0.0
        span = self.times[-1] - self.times[0]
        return (len(self.times) - 1) / span if span > 0 else 0.0

    def eta(self) -> float | None:
        fps = self.fps
        return (self.total - self.done) / fps if fps > 0 else None


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Split frame numbers (in processing order) into runs of consecutive numbers.

    A run goes up or down by one; ``(a, b)`` with ``b < a`` is read backwards.
    """
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs:
            a, b = runs[-1]
            step = 0 if a == b else (1 if b > a else -1)
            if (step == 0 and abs(n - b) == 1) or (step != 0 and n == b + step):
                runs[-1] = (a, n)
                continue
        runs.append((n, n))
    return runs


def _frames(media: MediaInfo, numbers: list[int], readers: list) -> Iterator[Frame]:
    """Frames for ``numbers`` (processing order), one reader per contiguous run."""
    for a, b in _runs(numbers):
        reader = open_reader(media, min(a, b), max(a, b), reverse=b < a)
        readers.append(reader)
        with reader:
            yield from reader


def write_frame(plan: JobPlan, matte: Matte, metadata: dict[str, str | int]) -> FrameRecord:
    """Write one frame's layers as the plan names them; return its manifest record.

    Shared by jobs and interactive sessions (``segmatte.server.sessions``), so
    a matte written from a session is the same file a job would write.
    """
    out = plan.spec.output
    files = {}
    if plan.multichannel:
        path = next(iter(plan.paths(matte.number).values()))
        layers = {layer: matte.layers[layer] if layer in matte.layers else matte.layer()
                  for layer in plan.layers}
        digest = write_layers(path, layers, compression=out.compression, datatype=out.datatype,
                              metadata={**metadata, "frame": matte.number,
                                        "layer": ",".join(plan.layers)})
        files = {layer: (path, digest) for layer in plan.layers}
    for layer, path in ({} if plan.multichannel else plan.paths(matte.number)).items():
        alpha = matte.layers[layer] if layer in matte.layers else matte.layer()
        meta = {**metadata, "frame": matte.number, "layer": layer}
        digest = write_matte(path, alpha, channels=out.channels, compression=out.compression,
                             datatype=out.datatype, metadata=meta)
        files[layer] = (path, digest)
    # An empty layer (the object left the frame, or the engine saw nothing) is
    # flagged so an artist can find the frames to fix from the manifest.
    flags = {layer: ["empty"] for layer in files
             if not np.any(matte.layers.get(layer, matte.layer()))}
    return FrameRecord.make(plan.folder, matte.number, files, matte.scores, flags)


_write_frame = write_frame  # the job loop's name for it (tests patch it to slow writes down)


def _existing_record(plan: JobPlan, number: int) -> FrameRecord:
    digests = {p: file_sha256(p) for p in set(plan.paths(number).values())}
    files = {layer: (p, digests[p]) for layer, p in plan.paths(number).items()}
    return FrameRecord.make(plan.folder, number, files, {})


EngineFactory = Callable[[JobPlan, str], Engine]
"""Makes the job's engine from its plan and device (e.g. one kept warm between jobs)."""


def run_job(spec: JobSpec, *, job_id: str, emit: Emit | None = None,
            cancel: threading.Event | None = None, device: str = "auto",
            plan: JobPlan | None = None, writers: int = 2,
            engine_factory: EngineFactory | None = None) -> Event:
    """Run one job to its end; emits events and returns the terminal one.

    ``engine_factory`` lets a caller that runs many jobs (a Ray worker) hand
    in an engine whose weights stay loaded; by default each job makes its own.
    """
    emit = emit or (lambda _e: None)
    cancel = cancel or threading.Event()
    try:
        plan = plan or check_job(spec)
    except (SpecError, MediaError, EngineError) as exc:
        return _finish(emit, Failed(job=job_id, reason=str(exc), frame=getattr(exc, "frame", None)))
    try:
        return _JobRun(plan, job_id, emit, cancel, device_config.resolve(device), writers,
                       engine_factory).run()
    except (SpecError, MediaError, EngineError, WriteError, OSError, ValueError) as exc:
        return _finish(emit, Failed(job=job_id, reason=str(exc), frame=getattr(exc, "frame", None)))
    except Exception as exc:  # a bug: still a Failed event, with the type for the log
        log.exception("job %s failed", job_id)
        return _finish(emit, Failed(job=job_id, reason=f"{type(exc).__name__}: {exc}",
                                    frame=getattr(exc, "frame", None)))


def _finish(emit: Emit, event: Event) -> Event:
    emit(event)
    return event


class _JobRun:
    """One run of a planned job: the stages wired together, and what they produced."""

    def __init__(self, plan: JobPlan, job_id: str, emit: Emit, cancel: threading.Event,
                 device: str, writers: int, engine_factory: EngineFactory | None = None) -> None:
        self.plan, self.job_id, self.emit, self.cancel = plan, job_id, emit, cancel
        self.device, self.writers = device, writers
        self.engine_factory = engine_factory
        self.tally = _Tally(total=plan.last - plan.first + 1)
        self.records: dict[int, FrameRecord] = {}
        self.pending: deque[tuple[int, Future]] = deque()
        spec = plan.spec
        self.metadata = {"engine": spec.engine, "model": spec.model or "", "source": spec.source,
                         "prompts": prompt_digest(spec.objects), "job": plan.digest,
                         "version": __version__}

    # -- outcomes of one frame ------------------------------------------------
    def skip(self, number: int) -> None:
        """A frame already on disk and valid for this job (resume)."""
        if number in self.records:
            return
        self.records[number] = _existing_record(self.plan, number)
        self.tally.skipped += 1
        self.tally.tick()
        self.emit(FrameWritten(job=self.job_id, frame=number, skipped=True,
                               paths=tuple(str(p) for p in self.plan.paths(number).values())))

    def write(self, pool: WriterPool, matte: Matte) -> None:
        future = pool.submit(_write_frame, self.plan, matte, self.metadata, frame=matte.number)
        self.pending.append((matte.number, future))
        self.collect(block=False)

    def collect(self, block: bool) -> None:
        """Report finished writes in submission order (block: wait for all)."""
        while self.pending and (block or self.pending[0][1].done()):
            number, future = self.pending.popleft()
            try:
                record = future.result()
            except Exception as exc:
                exc.frame = number  # type: ignore[attr-defined]
                raise
            self.records[number] = record
            self.tally.written += 1
            self.tally.tick()
            self.emit(FrameWritten(job=self.job_id, frame=number, paths=tuple(
                str(self.plan.folder / f.path) for f in record.files.values())))
            _progress(self.emit, self.job_id, self.tally)

    # -- the run ----------------------------------------------------------------
    def run(self) -> Event:
        plan, spec = self.plan, self.plan.spec
        device_config.configure(self.device)
        plan.folder.mkdir(parents=True, exist_ok=True)
        order = plan.order
        # A writer killed mid-frame leaves its temporary file: never a frame, so gone.
        finals = {p.name for n in order for p in plan.paths(n).values()} | {plan.manifest.name}
        for stale in stale_temps(plan.folder, finals):
            stale.unlink(missing_ok=True)
        done = {n for n in order
                if all(is_complete(p, plan.digest) for p in plan.paths(n).values())}
        self.emit(Accepted(job=self.job_id, total=self.tally.total))

        engine = (self.engine_factory(plan, self.device) if self.engine_factory else
                  plan.engine_cls(plan.options, model=spec.model, device=self.device))
        stage = FinishStage(spec.finish, device=self.device)
        # A frame's matte depends on earlier frames (temporal engine) or on its
        # neighbours (reduce chatter): then every frame is fed, and only the
        # writing of frames already on disk is skipped.
        temporal = engine.temporal or spec.finish.temporal
        if not temporal:
            for n in order:
                if n in done:
                    self.skip(n)
        todo = order if temporal else [n for n in order if n not in done]
        clip = ClipInfo(width=plan.media.width, height=plan.media.height,
                        fps=plan.media.fps or 0.0, first=plan.first, last=plan.last)

        held: dict[int, Frame] = {}  # frames whose picture the finishing stage still needs

        def tap(frames: Iterator[Frame]) -> Iterator[Frame]:
            for frame in frames:
                if stage.needs_frames:
                    held[frame.number] = frame
                yield frame

        def finished(mattes: list[Matte], pool: WriterPool) -> None:
            for matte in mattes:
                if matte.number in done:
                    self.skip(matte.number)
                else:
                    self.write(pool, matte)

        readers: list = []
        cancelled = False
        engine.open(clip, spec.objects, fetch=lambda n: read_frame(plan.media, n))
        try:
            with WriterPool(workers=self.writers, max_pending=4) as pool:
                stream = engine.stream(tap(_frames(plan.media, todo, readers)))
                try:
                    for matte in stream:
                        if self.cancel.is_set():
                            break
                        finished(stage.push(held.pop(matte.number, None), matte), pool)
                        if self.cancel.is_set():
                            break
                    else:
                        finished(stage.flush(), pool)
                    cancelled = self.cancel.is_set()
                finally:
                    close = getattr(stream, "close", None)
                    if close:
                        close()
                    for reader in readers:
                        reader.close()
                    self.collect(block=True)  # in-flight writes finish: only whole frames stay
        finally:
            engine.close()

        if cancelled:
            return _finish(self.emit, Cancelled(job=self.job_id, written=self.tally.written))
        _progress(self.emit, self.job_id, self.tally, force=True)
        manifest = Manifest.make(spec=spec, job_id=self.job_id, digest=plan.digest,
                                 first=plan.first, last=plan.last, layers=plan.layers,
                                 frames=[self.records[n] for n in sorted(self.records)])
        path = write_manifest(plan.manifest, manifest)
        return _finish(self.emit, Done(job=self.job_id, manifest=str(path),
                                       written=self.tally.written, skipped=self.tally.skipped))


def _progress(emit: Emit, job_id: str, tally: _Tally, force: bool = False) -> None:
    now = time.monotonic()
    if force or now - tally.last_emit >= PROGRESS_INTERVAL_S or tally.done == tally.total:
        tally.last_emit = now
        emit(Progress(job=job_id, done=tally.done, total=tally.total, fps=round(tally.fps, 2),
                      eta_s=None if tally.eta() is None else round(tally.eta(), 1)))
