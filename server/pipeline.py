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
from segmatte.models.engine import Engine, EngineCard, EngineError, EngineOptions, Pass
from segmatte.models.frames import ClipInfo, Frame, Matte
from segmatte.models.prompts import prompt_digest

from .media import MediaError, MediaInfo, check_frames, open_reader, probe, read_frame
from .output import foreground as fg_out
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
from .prompts_door import check_kinds, check_prompts
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
    engine_cls: type[EngineCard]
    """The engine's card (torch-free); :func:`~segmatte.models.registry.engine_class` builds."""
    options: EngineOptions
    first: int
    last: int
    layers: tuple[str, ...]
    """Layer names the engine yields after finishing; one sequence each."""
    digest: str
    """The whole job's digest (settings and prompts), recorded in the manifest."""
    folder: Path
    settings: str = ""
    """The settings digest (``JobSpec.settings_digest``): files with it are this job's."""
    frame_digests: dict[int, str] = field(default_factory=dict)
    """Frame → digest of what its matte depends on (settings + the prompts behind it)."""
    foreground: bool = False
    """Also write the engine's foreground colour (``name_foreground.####.exr``, see
    :mod:`segmatte.server.output.foreground`)."""

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)

    def frame_digest(self, number: int) -> str:
        return self.frame_digests.get(number, self.digest)

    @property
    def retrack(self) -> set[int]:
        """Frames the spec asks to re-track whatever is on disk (``retrack``)."""
        r = self.spec.retrack
        return set(range(r.first, r.last + 1)) if r is not None else set()

    def passes(self, todo: set[int]) -> list[Pass]:
        """How the engine computes ``todo`` (see :class:`~segmatte.models.engine.Pass`)."""
        return self.engine_cls.plan_passes(self.spec.direction, self.first, self.last,
                                           self.spec.objects, todo,
                                           temporal_finish=self.spec.finish.temporal)

    @property
    def multichannel(self) -> bool:
        """Several layers in one EXR per frame (channels ``<layer>.A``)."""
        return self.spec.output.layers == "channels" and len(self.layers) > 1

    def matte_paths(self, number: int) -> dict[str, Path]:
        """Each layer's matte file for a source frame (one shared file when multichannel)."""
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

    def paths(self, number: int) -> dict[str, Path]:
        """Every file of a source frame: the mattes, then the foreground when asked
        (key ``foreground``): resume, the door and the manifest treat them alike."""
        paths = self.matte_paths(number)
        if self.foreground:
            out = self.spec.output
            paths[fg_out.LAYER] = sequence_path(self.folder, out.name, number, out.padding,
                                                fg_out.LAYER)
        return paths

    @property
    def manifest(self) -> Path:
        return manifest_path(self.folder, self.spec.output.name)


def _layer_names(spec: JobSpec, options: EngineOptions,
                 engine_cls: type[EngineCard] | None = None) -> tuple[str, ...]:
    """The layers the job writes, known before any frame: one sequence each."""
    if spec.finish.combine:
        return ("matte",)
    from_objects = getattr(engine_cls, "plan_layers", None)  # e.g. the text engine's instances
    if from_objects is not None:
        return tuple(from_objects(spec.objects, options))
    planned = getattr(options, "layer_names", None)  # e.g. the semantic engine's classes
    if planned is not None:
        return tuple(planned(spec.model))
    return tuple(o.id for o in spec.objects) if spec.objects else ("matte",)


def _wants_foreground(options: EngineOptions, layers: tuple[str, ...]) -> bool:
    """Whether the engine's options ask for its foreground colour (``foreground``),
    and the job can pair it with one matte."""
    if not getattr(options, "foreground", False):
        return False
    if len(layers) != 1:
        raise SpecError("the foreground layer goes with a single matte; this job writes "
                        f"{len(layers)} layers ({', '.join(layers)})")
    return True


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
    for number in plan.numbers:
        for path in plan.paths(number).values():
            if path.name not in present or path in checked:
                continue
            checked.add(path)
            header = matte_header(path)
            if not header:
                raise SpecError(f"output folder {plan.folder} already holds {path.name}, which "
                                "segmatte did not write; choose another folder or --name")
            # The same job with other prompts (a correction) rewrites what changed; files of
            # another job (other engine, model, options, finishing or file settings) need
            # the overwrite switch.
            same_job = (header.get("settings") == plan.settings
                        or header.get("job") == plan.frame_digest(number))
            if not plan.spec.output.overwrite and not same_job:
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
    engine_cls = registry.card(spec.engine)  # the class loads (torch) only when a job runs
    try:
        options = engine_cls.Options(**spec.options)
    except ValidationError as exc:
        raise SpecError(_first_error(exc, "options")) from None
    if engine_cls.needs_objects and not spec.objects:
        raise SpecError(f"the {spec.engine} engine needs at least one object with prompts")
    check_kinds(spec.objects, engine=spec.engine, takes=engine_cls.prompt_kinds)
    engine_cls.check_ready(options, spec.model)
    if spec.finish.refine == "vitmatte":
        from segmatte.models.weights import cache

        cache.require(spec.finish.refine_model)
    media = probe(spec.source, spec.part)
    first, last = (spec.range.first, spec.range.last) if spec.range else (media.first, media.last)
    media = check_frames(media, first, last, hold_gaps=spec.hold_gaps)  # range, gaps: one sentence
    if first < media.first or last > media.last:
        raise MediaError(f"range {first}-{last} is outside the source's frames "
                         f"{media.first}-{media.last} ({spec.source})")
    if spec.retrack is not None and not (first <= spec.retrack.first
                                         and spec.retrack.last <= last):
        raise SpecError(f"retrack: {spec.retrack.first}-{spec.retrack.last} is outside the job's "
                        f"range {first}-{last}")
    check_prompts(spec.objects, engine=spec.engine, takes=engine_cls.prompt_kinds,
                  width=media.width, height=media.height, first=first, last=last)
    if spec.direction == "both" and engine_cls.needs_objects and not any(
            first <= kf.frame <= last for o in spec.objects for kf in o.keyframes):
        raise SpecError("direction both needs a keyframe inside the frame range")
    folder = Path(spec.output.folder).expanduser().absolute()
    settings = spec.settings_digest()
    layers = _layer_names(spec, options, engine_cls)
    plan = JobPlan(spec=spec, media=media, engine_cls=engine_cls, options=options, first=first,
                   last=last, layers=layers,
                   digest=spec.digest(),
                   folder=folder, settings=settings,
                   frame_digests=frame_digests(spec, engine_cls, first, last, settings),
                   foreground=_wants_foreground(options, layers))
    check_output(plan)
    return plan


def frame_digests(spec: JobSpec, engine_cls: type[EngineCard], first: int, last: int,
                  settings: str) -> dict[int, str]:
    """Per frame: the settings digest joined with what the engine says the frame depends on."""
    import hashlib

    per_frame = engine_cls.frame_digests(spec.direction, first, last, spec.objects)
    return {n: hashlib.sha256(f"{settings}:{d}".encode()).hexdigest()[:16]
            for n, d in per_frame.items()}


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


def write_frame(plan: JobPlan, matte: Matte, metadata: dict[str, str | int],
                colour: np.ndarray | None = None) -> FrameRecord:
    """Write one frame's layers as the plan names them; return its manifest record.

    ``colour`` is the engine's foreground colour (H×W×3) when the plan writes
    the foreground layer. Shared by jobs and interactive sessions
    (``segmatte.server.sessions``), so a matte written from a session is the
    same file a job would write.
    """
    out = plan.spec.output
    files = {}
    metadata = {**metadata, "job": plan.frame_digest(matte.number), "settings": plan.settings}
    if plan.multichannel:
        path = next(iter(plan.matte_paths(matte.number).values()))
        layers = {layer: matte.layers[layer] if layer in matte.layers else matte.layer()
                  for layer in plan.layers}
        digest = write_layers(path, layers, compression=out.compression, datatype=out.datatype,
                              metadata={**metadata, "frame": matte.number,
                                        "layer": ",".join(plan.layers)})
        files = {layer: (path, digest) for layer in plan.layers}
    for layer, path in ({} if plan.multichannel else plan.matte_paths(matte.number)).items():
        alpha = matte.layers[layer] if layer in matte.layers else matte.layer()
        meta = {**metadata, "frame": matte.number, "layer": layer}
        digest = write_matte(path, alpha, channels=out.channels, compression=out.compression,
                             datatype=out.datatype, metadata=meta)
        files[layer] = (path, digest)
    # An empty layer (the object left the frame, or the engine saw nothing) is
    # flagged so an artist can find the frames to fix from the manifest.
    flags = {layer: ["empty"] for layer in files
             if not np.any(matte.layers.get(layer, matte.layer()))}
    if plan.foreground:
        if colour is None:
            raise EngineError(f"the {plan.spec.engine} engine gave no foreground colour for "
                              f"frame {matte.number}")
        path = plan.paths(matte.number)[fg_out.LAYER]
        digest = fg_out.write_foreground(
            path, colour, matte.layer(plan.layers[0]) if plan.layers[0] in matte.layers
            else matte.layer(), linear_source=plan.media.linear, compression=out.compression,
            datatype=out.datatype,
            metadata={**metadata, "frame": matte.number, "layer": fg_out.LAYER})
        files[fg_out.LAYER] = (path, digest)
    return FrameRecord.make(plan.folder, matte.number, files, matte.scores, flags,
                            digest=plan.frame_digest(matte.number))


_write_frame = write_frame  # the job loop's name for it (tests patch it to slow writes down)


def _existing_record(plan: JobPlan, number: int, old: FrameRecord | None) -> FrameRecord | None:
    """The record of a frame left on disk: the old manifest's if it still holds, else re-read."""
    paths = plan.paths(number)
    if not all(p.exists() for p in paths.values()):
        return None
    digests = {p: file_sha256(p) for p in set(paths.values())}
    files = {layer: (p, digests[p]) for layer, p in paths.items()}
    if old is not None and all(old.files.get(layer) is not None
                               and old.files[layer].sha256 == digests[p]
                               for layer, p in paths.items()):
        return old  # the same bytes: keep what the engine said of them (scores, flags)
    header = matte_header(next(iter(paths.values()))) or {}
    return FrameRecord.make(plan.folder, number, files, {}, digest=str(header.get("job", "")))


def _old_records(plan: JobPlan) -> dict[int, FrameRecord]:
    """The frames the existing manifest of this sequence lists (none if it is not ours)."""
    try:
        return {r.number: r for r in load_manifest(plan.manifest).frames}
    except (ManifestError, OSError, ValueError):
        return {}


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


def write_job_shapes(manifest: Path, spec: JobSpec) -> str:
    """The job's shapes option: ``segmatte shapes`` over the mattes just written, into the
    same folder under the same name. Returns why it could not ("" when written), so the
    job fails with one sentence while its mattes stay."""
    from .shapes import SourceError, build, open_mattes
    from .shapes.build import Settings
    from .shapes.writer import OutputError, write_outputs

    try:
        mattes = open_mattes(manifest)
        shapes, ious = build(mattes, Settings())
        write_outputs(shapes, manifest.parent, spec.output.name, list(spec.shapes), ious,
                      overwrite=spec.output.overwrite)
    except (SourceError, OutputError, OSError) as exc:
        return f"the mattes are written, the shapes are not: {exc}"
    return ""


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
    def skip(self, number: int, old: FrameRecord | None) -> None:
        """A frame already on disk and valid for this job (resume), or left alone (retrack)."""
        record = _existing_record(self.plan, number, old)
        if record is not None:
            self.records[number] = record
        self.tally.skipped += 1
        self.tally.tick()
        self.emit(FrameWritten(job=self.job_id, frame=number, skipped=True,
                               paths=tuple(str(p) for p in self.plan.paths(number).values())))

    def write(self, pool: WriterPool, matte: Matte, colour: np.ndarray | None = None) -> None:
        future = pool.submit(_write_frame, self.plan, matte, self.metadata, colour,
                             frame=matte.number)
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

    def todo(self) -> set[int]:
        """Frames to (re)make: ``retrack`` if asked, else those not on disk for their digest."""
        plan = self.plan
        if plan.retrack:
            return plan.retrack
        return {n for n in plan.numbers
                if not all(is_complete(p, plan.frame_digest(n)) for p in plan.paths(n).values())}

    # -- the run ----------------------------------------------------------------
    def run(self) -> Event:
        plan, spec = self.plan, self.plan.spec
        device_config.configure(self.device, plan.engine_cls.cpu_threads)
        plan.folder.mkdir(parents=True, exist_ok=True)
        # A writer killed mid-frame leaves its temporary file: never a frame, so gone.
        finals = {p.name for n in plan.numbers for p in plan.paths(n).values()}
        finals.add(plan.manifest.name)
        for stale in stale_temps(plan.folder, finals):
            stale.unlink(missing_ok=True)
        old = _old_records(plan)
        todo = self.todo()
        self.emit(Accepted(job=self.job_id, total=self.tally.total))
        for n in plan.numbers:
            if n not in todo:
                self.skip(n, old.get(n))
        passes = plan.passes(todo) if todo else []
        cancelled = self._compute(passes, todo) if passes else self.cancel.is_set()
        if cancelled:
            return _finish(self.emit, Cancelled(job=self.job_id, written=self.tally.written))
        _progress(self.emit, self.job_id, self.tally, force=True)
        for n, record in old.items():  # frames outside this run's range stay listed
            if not plan.first <= n <= plan.last and n not in self.records:
                self.records[n] = record
        manifest = Manifest.make(spec=spec, job_id=self.job_id, digest=plan.digest,
                                 first=min([plan.first, *self.records]),
                                 last=max([plan.last, *self.records]), layers=plan.layers,
                                 frames=[self.records[n] for n in sorted(self.records)])
        path = write_manifest(plan.manifest, manifest)
        if spec.shapes:
            reason = write_job_shapes(path, spec)
            if reason:
                return _finish(self.emit, Failed(job=self.job_id, reason=reason))
        return _finish(self.emit, Done(job=self.job_id, manifest=str(path),
                                       written=self.tally.written, skipped=self.tally.skipped))

    def _compute(self, passes: list[Pass], todo: set[int]) -> bool:
        """Run the engine over ``passes``, finish and write the frames of ``todo``.

        Returns whether the run was cancelled. Frames a pass computes that are
        not to do (the start of a segment before the first frame to re-make)
        go through finishing — reduce chatter needs them — and are not written.
        """
        plan, spec = self.plan, self.plan.spec
        engine = (self.engine_factory(plan, self.device) if self.engine_factory else
                  registry.engine_class(plan.engine_cls)(plan.options, model=spec.model,
                                                         device=self.device))
        from segmatte.models.finish.stage import FinishStage  # torch: where the compute happens

        stage = FinishStage(spec.finish, device=self.device)
        reads = []
        for p in passes:
            reads += [(n, False) for n in p.prime] + [(n, True) for n in p.frames]
        held: dict[int, Frame] = {}  # frames whose picture the finishing stage still needs
        # The engine's foreground colour skips finishing (it is no matte) and
        # waits here for its finished matte: reduce chatter's look-ahead delays it.
        colours: dict[int, np.ndarray | None] = {}

        def tap(frames: Iterator[Frame]) -> Iterator[Frame]:
            for frame, (_number, emits) in zip(frames, reads, strict=False):
                if emits and stage.needs_frames:
                    held[frame.number] = frame
                yield frame

        written: set[int] = set()

        def finished(mattes: list[Matte], pool: WriterPool) -> None:
            for matte in mattes:
                colour = colours.pop(matte.number, None)
                if matte.number in todo and matte.number not in written:
                    written.add(matte.number)
                    self.write(pool, matte, colour)

        readers: list = []
        clip = ClipInfo(width=plan.media.width, height=plan.media.height,
                        fps=plan.media.fps or 0.0, first=plan.first, last=plan.last)
        engine.schedule(spec.direction, passes)
        engine.open(clip, spec.objects, fetch=lambda n: read_frame(plan.media, n))
        try:
            with WriterPool(workers=self.writers, max_pending=4) as pool:
                stream = engine.stream(tap(_frames(plan.media, [n for n, _ in reads], readers)))
                try:
                    for p in passes:
                        finished(stage.flush(), pool)  # a pass starts afresh downstream too
                        for number in p.frames:
                            matte = next(stream)
                            if matte.number != number:
                                raise EngineError(f"the {spec.engine} engine yielded frame "
                                                  f"{matte.number} where {number} was due")
                            colour = fg_out.take_colour(matte.layers)
                            if plan.foreground:
                                colours[number] = colour
                            if number in p.breaks:
                                finished(stage.flush(), pool)  # a segment starts
                            finished(stage.push(held.pop(number, None), matte), pool)
                            if self.cancel.is_set():
                                return True
                    finished(stage.flush(), pool)
                    return self.cancel.is_set()
                finally:
                    close = getattr(stream, "close", None)
                    if close:
                        close()
                    for reader in readers:
                        reader.close()
                    self.collect(block=True)  # in-flight writes finish: only whole frames stay
        finally:
            engine.close()


def _progress(emit: Emit, job_id: str, tally: _Tally, force: bool = False) -> None:
    now = time.monotonic()
    if force or now - tally.last_emit >= PROGRESS_INTERVAL_S or tally.done == tally.total:
        tally.last_emit = now
        emit(Progress(job=job_id, done=tally.done, total=tally.total, fps=round(tally.fps, 2),
                      eta_s=None if tally.eta() is None else round(tally.eta(), 1)))
