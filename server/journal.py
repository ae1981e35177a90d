"""The job journal: jobs and their frames in SQLite, so a restarted server resumes.

One file (``journal.sqlite3`` in the data folder), WAL mode so ``segmatte
jobs`` can read while the server writes. The server writes from a single
thread (its ROUTER loop), so one connection suffices; readers open their own.

``frames.writes`` counts how many times a frame was actually written (not
skipped): after a crash and a resume it must still be 1 for every frame —
the integration tests hold the server to that.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id        TEXT PRIMARY KEY,
    spec      TEXT NOT NULL,
    state     TEXT NOT NULL,
    priority  INTEGER NOT NULL DEFAULT 0,
    created   REAL NOT NULL,
    started   REAL,
    finished  REAL,
    error     TEXT,
    total     INTEGER NOT NULL DEFAULT 0,
    done      INTEGER NOT NULL DEFAULT 0,
    written   INTEGER NOT NULL DEFAULT 0,
    skipped   INTEGER NOT NULL DEFAULT 0,
    manifest  TEXT,
    seq       INTEGER NOT NULL DEFAULT 0,
    key       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_key ON jobs(key) WHERE key IS NOT NULL;
CREATE TABLE IF NOT EXISTS frames (
    job     TEXT NOT NULL,
    frame   INTEGER NOT NULL,
    paths   TEXT NOT NULL,
    writes  INTEGER NOT NULL DEFAULT 0,
    skips   INTEGER NOT NULL DEFAULT 0,
    time    REAL NOT NULL,
    PRIMARY KEY (job, frame)
);
"""


def journal_path(data_dir: Path) -> Path:
    return data_dir / "journal.sqlite3"


def private_folder(folder: Path) -> None:
    """Make ``folder`` (the data folder: journal, log, endpoint) if needed; owner-only (0700)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix" and folder.stat().st_mode & 0o077:
        os.chmod(folder, 0o700)


@dataclass(frozen=True)
class JobRow:
    id: str
    spec: dict[str, Any]
    state: str
    priority: int
    created: float
    started: float | None
    finished: float | None
    error: str | None
    total: int
    done: int
    written: int
    skipped: int
    manifest: str | None
    seq: int
    key: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRow:
        data = dict(row)
        try:
            data["spec"] = json.loads(data["spec"])
        except ValueError:
            data["spec"] = {}
        return cls(**data)

    def summary(self) -> dict[str, Any]:
        """What ``jobs`` replies and ``segmatte jobs`` prints for one job."""
        spec = self.spec if isinstance(self.spec, dict) else {}
        return {
            "job": self.id, "state": self.state, "priority": self.priority,
            "created": self.created, "started": self.started, "finished": self.finished,
            "total": self.total, "done": self.done, "written": self.written,
            "skipped": self.skipped, "error": self.error, "manifest": self.manifest,
            "engine": spec.get("engine"), "source": spec.get("source"),
            "output": (spec.get("output") or {}).get("folder"),
            "session": spec.get("session"),
        }


class Journal:
    """Read/write access for the server (one thread)."""

    def __init__(self, path: Path) -> None:
        private_folder(path.parent)
        self.path = path
        # The journal holds users' paths: readable by its owner only (SQLite
        # gives the -wal and -shm files the database file's mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        if os.name == "posix":
            os.chmod(path, 0o600)
        self.db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add_job(self, job: str, spec: dict[str, Any], priority: int, key: str | None,
                state: str = "queued") -> None:
        self.db.execute(
            "INSERT INTO jobs (id, spec, state, priority, created, key) VALUES (?, ?, ?, ?, ?, ?)",
            (job, json.dumps(spec, sort_keys=True), state, priority, time.time(), key))

    def set_state(self, job: str, state: str, *, error: str | None = None,
                  manifest: str | None = None) -> None:
        now = time.time()
        if state == "running":
            self.db.execute("UPDATE jobs SET state=?, started=COALESCE(started, ?) WHERE id=?",
                            (state, now, job))
        elif state in ("done", "failed", "cancelled"):
            self.db.execute("UPDATE jobs SET state=?, finished=?, error=?, manifest=? WHERE id=?",
                            (state, now, error, manifest, job))
        else:
            self.db.execute("UPDATE jobs SET state=? WHERE id=?", (state, job))

    def update_counts(self, job: str, *, total: int, done: int, written: int, skipped: int,
                      seq: int) -> None:
        self.db.execute("UPDATE jobs SET total=?, done=?, written=?, skipped=?, seq=? WHERE id=?",
                        (total, done, written, skipped, seq, job))

    def record_frame(self, job: str, frame: int, paths: list[str], skipped: bool) -> None:
        """Log one frame's outcome; ``writes`` counts real writes, ``skips`` frames found done."""
        self.db.execute(
            "INSERT INTO frames (job, frame, paths, writes, skips, time) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(job, frame) DO UPDATE SET paths=excluded.paths, "
            "writes=writes+excluded.writes, skips=skips+excluded.skips, time=excluded.time",
            (job, frame, json.dumps(paths), 0 if skipped else 1, 1 if skipped else 0, time.time()))

    def frame_outcomes(self, job: str) -> dict[int, bool]:
        """Each frame the journal knows of this job → whether this job wrote it (else skipped)."""
        rows = self.db.execute("SELECT frame, writes FROM frames WHERE job=?", (job,)).fetchall()
        return {int(r[0]): int(r[1]) > 0 for r in rows}

    def job(self, job: str) -> JobRow | None:
        row = self.db.execute("SELECT * FROM jobs WHERE id=?", (job,)).fetchone()
        return JobRow.from_row(row) if row else None

    def job_by_key(self, key: str) -> JobRow | None:
        row = self.db.execute("SELECT * FROM jobs WHERE key=?", (key,)).fetchone()
        return JobRow.from_row(row) if row else None

    def unfinished(self) -> list[JobRow]:
        """Jobs to resume on start: queued or running, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created").fetchall()
        return [JobRow.from_row(r) for r in rows]

    def jobs(self, state: str | None = None, limit: int = 100) -> list[JobRow]:
        return list_jobs(self.db, state, limit)


def list_jobs(db: sqlite3.Connection, state: str | None = None, limit: int = 100) -> list[JobRow]:
    db.row_factory = sqlite3.Row
    if state:
        rows = db.execute("SELECT * FROM jobs WHERE state=? ORDER BY created DESC LIMIT ?",
                          (state, limit)).fetchall()
    else:
        rows = db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
    return [JobRow.from_row(r) for r in rows]


def read_jobs(path: Path, state: str | None = None, limit: int = 100) -> list[JobRow]:
    """Jobs from a journal file, read-only: works whether or not a server runs."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        try:
            return list_jobs(db, state, limit)
        except sqlite3.OperationalError:
            return []


def read_frames(path: Path, job: str) -> Iterator[dict[str, Any]]:
    """The frame log of one job (frame, paths, writes, skips), read-only."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM frames WHERE job=? ORDER BY frame", (job,)).fetchall()
    for row in rows:
        data = dict(row)
        data["paths"] = json.loads(data["paths"])
        yield data
