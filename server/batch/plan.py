"""From shots to job specs, and which of them this run must do.

Every shot becomes an ordinary :class:`~segmatte.server.spec.JobSpec`, so a
batch runs through the very same pipeline (and resume logic) as ``segmatte
matte``: the runners differ only in *where* the spec runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec import JobSpec, parse_spec
from .manifest import BatchManifest, ShotRecord
from .shots import Shot


@dataclass(frozen=True)
class BatchSettings:
    """What every shot of a batch shares (a CSV row may override engine and options)."""

    output: Path
    engine: str = "key"
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    finish: dict[str, Any] = field(default_factory=dict, hash=False)
    channels: str = "rgba"
    compression: str = "zip"
    datatype: str = "half"
    overwrite: bool = False
    part: str | None = None
    """Multi-part EXR sources: the part every shot reads (None: the first)."""

    def folder(self, shot: Shot) -> Path:
        return self.output / shot.id


def shot_spec(shot: Shot, settings: BatchSettings) -> JobSpec:
    """The job spec of one shot; raises SpecError naming the field at fault."""
    data: dict[str, Any] = {
        "source": shot.source,
        "engine": shot.engine or settings.engine,
        "model": settings.model,
        "options": {**settings.options, **shot.options},
        "finish": settings.finish,
        "objects": list(shot.objects),
        "output": {"folder": str(settings.folder(shot).absolute()), "name": shot.name,
                   "channels": settings.channels, "compression": settings.compression,
                   "datatype": settings.datatype, "overwrite": settings.overwrite},
    }
    if settings.part is not None:
        data["part"] = settings.part
    if shot.first is not None and shot.last is not None:
        data["range"] = {"first": shot.first, "last": shot.last}
    return parse_spec(data)


@dataclass
class ShotJob:
    """A shot this run will hand to a runner."""

    shot: Shot
    spec: JobSpec
    first: int
    last: int
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    plan: Any = field(default=None, repr=False)
    """The pipeline's JobPlan when checked in this process (in-process runs re-use it)."""

    @property
    def frames(self) -> int:
        return self.last - self.first + 1

    def spec_json(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json")


def is_current(record: ShotRecord | None, job: ShotJob) -> bool:
    """The record is of this very job: same settings digest and range."""
    return (record is not None and record.digest == job.spec.digest()
            and record.first == job.first and record.last == job.last
            and record.folder == job.spec.output.folder)


def needs_run(record: ShotRecord | None, job: ShotJob, retry_failed: bool) -> bool:
    """New, pending, cancelled and changed shots run; done shots whose job
    manifest is still there stay done; failed ones wait for ``--retry-failed``
    (also those that failed at the door, whose media may since have appeared)
    unless their settings changed."""
    if record is None:
        return True
    if record.state == "failed":
        return retry_failed or bool(record.digest and not is_current(record, job))
    if not is_current(record, job):
        return True
    if record.state == "done":
        return not (record.manifest and Path(record.manifest).is_file())
    return True


def record_for(shot: Shot, job: ShotJob | None, settings: BatchSettings,
               previous: ShotRecord | None = None) -> ShotRecord:
    """A fresh record for a shot, carrying the attempt count of the previous one."""
    return ShotRecord(
        id=shot.id, name=shot.name, source=shot.source,
        first=job.first if job else shot.first, last=job.last if job else shot.last,
        folder=str(settings.folder(shot).absolute()), engine=shot.engine or settings.engine,
        digest=job.spec.digest() if job else "", handles=shot.handles,
        attempts=previous.attempts if previous else 0, notes=shot.notes)


def empty_manifest(input_path: str, settings: BatchSettings) -> BatchManifest:
    return BatchManifest(input=input_path, output=str(settings.output.absolute()))
