"""The batch manifest: every shot's result, beside the mattes.

``<out>/segmatte-batch.json`` is rewritten (temp file + rename) each time a
shot ends, so an interrupted batch leaves an honest record, and the next run
reads it to know what is done, what failed and why. A shot is only "done"
when its job finished and its job manifest is on disk; the frames themselves
are re-checked by the pipeline when a shot runs again.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

MANIFEST_NAME = "segmatte-batch.json"
LOCK_NAME = ".segmatte-batch.lock"
VERSION = 1

State = Literal["pending", "running", "done", "failed", "cancelled"]


@dataclass
class ShotRecord:
    """One shot's last known result."""

    id: str
    name: str
    source: str
    first: int | None
    last: int | None
    folder: str
    engine: str = ""
    digest: str = ""
    """The job spec's digest: a record of other settings is not this shot's."""
    handles: tuple[int, int] = (0, 0)
    state: State = "pending"
    reason: str = ""
    frame: int | None = None
    """The frame a failure concerns, when it concerns one."""
    written: int = 0
    skipped: int = 0
    manifest: str = ""
    attempts: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    """What reading the edit assumed or relinked for this shot (rate mismatch, media found)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShotRecord:
        names = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if "handles" in kwargs:
            kwargs["handles"] = tuple(kwargs["handles"])
        if "notes" in kwargs:
            kwargs["notes"] = tuple(kwargs["notes"])
        return cls(**kwargs)


@dataclass
class BatchManifest:
    input: str
    output: str
    shots: dict[str, ShotRecord] = field(default_factory=dict)
    runner: str = ""
    version: int = VERSION
    updated: float = 0.0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for rec in self.shots.values():
            out[rec.state] = out.get(rec.state, 0) + 1
        return out

    def failed(self) -> list[ShotRecord]:
        return [r for r in self.shots.values() if r.state == "failed"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shots"] = [asdict(r) for r in self.shots.values()]
        return data


def manifest_file(output: str | os.PathLike[str]) -> Path:
    return Path(output) / MANIFEST_NAME


def load(output: str | os.PathLike[str]) -> BatchManifest | None:
    """The manifest in ``output``, or None when there is none (or it is unreadable)."""
    path = manifest_file(output)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        shots = {s["id"]: ShotRecord.from_dict(s) for s in data.get("shots", [])}
        return BatchManifest(input=data.get("input", ""), output=data.get("output", str(output)),
                             shots=shots, runner=data.get("runner", ""),
                             version=int(data.get("version", VERSION)),
                             updated=float(data.get("updated", 0.0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(manifest: BatchManifest) -> Path:
    """Write atomically: a reader never sees half a manifest."""
    manifest.updated = time.time()
    path = manifest_file(manifest.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".segmatte-batch-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(manifest.to_dict(), fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class BatchBusyError(RuntimeError):
    """Another batch writes into the same output folder."""


@contextlib.contextmanager
def locked(output: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the output folder: two batches must not share a manifest."""
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; one batch per folder is then up to the user
            yield
            return
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchBusyError(f"another segmatte batch is writing into {folder}; wait for it "
                                 "or choose another --out") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
