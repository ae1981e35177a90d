"""The server runner against a scripted client, and which shots a run re-does."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import pytest

from segmatte.client.client import ClientError
from segmatte.client.events import Accepted, Done, Failed, JobState, Progress
from segmatte.server.batch.manifest import ShotRecord
from segmatte.server.batch.plan import BatchSettings, ShotJob, needs_run, shot_spec
from segmatte.server.batch.runner_local import ServerRunner
from segmatte.server.batch.shots import Shot


class ScriptedClient:
    """Submit answers from a script; events appear as if the server sent them."""

    connected = True

    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.events: queue.Queue = queue.Queue()
        self.cancelled: list[str] = []
        self.submitted: list[str] = []

    def submit(self, spec: dict[str, Any], subscribe: bool = True) -> str:
        name = spec["output"]["name"]
        action = self.script[name]
        if isinstance(action, Exception):
            raise action
        job = f"job-{name}"
        self.submitted.append(name)
        for event in action(job):
            self.events.put(event)
        return job

    def cancel(self, job: str) -> dict[str, Any]:
        self.cancelled.append(job)
        return {}


class Log:
    def __init__(self) -> None:
        self.began: list[str] = []
        self.seen: list[tuple[str, int]] = []
        self.ended: dict[str, Any] = {}

    def started(self, job: ShotJob) -> None:
        self.began.append(job.shot.id)

    def progress(self, job: ShotJob, done: int) -> None:
        self.seen.append((job.shot.id, done))

    def finished(self, job: ShotJob, event: Any) -> None:
        assert job.shot.id not in self.ended
        self.ended[job.shot.id] = event


def job(name: str, tmp_path: Path, first: int = 0, last: int = 3) -> ShotJob:
    shot = Shot(id=name, name=name, source=str(tmp_path / f"{name}.mp4"), first=first, last=last)
    return ShotJob(shot=shot, spec=shot_spec(shot, BatchSettings(output=tmp_path)), first=first,
                   last=last)


def test_server_runner_follows_events_and_reports_refusals(tmp_path: Path) -> None:
    client = ScriptedClient({
        "a": lambda j: [Accepted(job=j, total=4), Progress(job=j, done=2, total=4),
                        Done(job=j, manifest="m", written=4)],
        "b": ClientError("bad_spec", "source: there is no file at b.mp4", "source"),
        "c": lambda j: [JobState(job=j, state="running", done=1),
                        JobState(job=j, state="failed", reason="disk full")],
    })
    log = Log()
    ServerRunner(client, window=1).run([job(n, tmp_path) for n in "abc"], log, threading.Event())
    assert isinstance(log.ended["a"], Done) and ("a", 2) in log.seen
    assert isinstance(log.ended["b"], Failed) and "no file" in log.ended["b"].reason
    assert isinstance(log.ended["c"], Failed) and log.ended["c"].reason == "disk full"
    assert log.began == ["a", "c"]


def test_server_runner_cancels_what_runs_when_stopped(tmp_path: Path) -> None:
    from segmatte.client.events import Cancelled

    client = ScriptedClient({"a": lambda j: [Accepted(job=j, total=4)], "b": lambda j: []})
    stop = threading.Event()
    log = Log()
    runner = ServerRunner(client, window=1)
    done = threading.Thread(target=runner.run, args=([job("a", tmp_path), job("b", tmp_path)], log, stop))
    done.start()
    while not log.began:
        threading.Event().wait(0.01)
    stop.set()
    while not client.cancelled:
        threading.Event().wait(0.01)
    client.events.put(Cancelled(job="job-a", written=1))
    done.join(10)
    assert not done.is_alive()
    assert client.submitted == ["a"] and isinstance(log.ended["a"], Cancelled)
    assert "b" not in log.ended  # never submitted: the driver records it as cancelled


@pytest.mark.parametrize("state, manifest, retry, runs", [
    ("done", True, False, False),
    ("done", False, False, True),     # its job manifest is gone: run (frames on disk are kept)
    ("failed", False, False, False),  # failed shots wait for --retry-failed
    ("failed", False, True, True),
    ("cancelled", False, False, True),
    ("pending", False, False, True),
    ("running", False, False, True),  # the batch died while it ran
])
def test_which_shots_run_again(tmp_path: Path, state: str, manifest: bool, retry: bool,
                               runs: bool) -> None:
    j = job("a", tmp_path)
    path = tmp_path / "a.manifest.json"
    if manifest:
        path.write_text("{}")
    rec = ShotRecord(id="a", name="a", source=j.shot.source, first=0, last=3,
                     folder=j.spec.output.folder, digest=j.spec.digest(), state=state,
                     manifest=str(path))
    assert needs_run(rec, j, retry) is runs


def test_changed_settings_or_range_run_again(tmp_path: Path) -> None:
    j = job("a", tmp_path)
    rec = ShotRecord(id="a", name="a", source=j.shot.source, first=0, last=3,
                     folder=j.spec.output.folder, digest="other", state="done", manifest="x")
    assert needs_run(rec, j, False)
    rec.digest, rec.last = j.spec.digest(), 9
    assert needs_run(rec, j, False)
    rec.state = "failed"  # a failure of other settings does not hold back new ones
    rec.last, rec.digest = 3, "other"
    assert needs_run(rec, j, False)
