"""The server going away under a client, and coming back: reconnect, resume, no frame twice."""

from __future__ import annotations

import queue
import sqlite3
import time
from pathlib import Path

from serverkit import LONG_FRAMES, ServerProcess, free_port, key_spec
from test_server_jobs import WAIT, exr_files, wait_for_frames

from segmatte.client.events import Connection, Done, Event, FrameWritten, JobState
from segmatte.server.output.exr import read_matte


def drain_until_end(client, job: str, timeout: float = WAIT) -> list[Event]:
    out: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = client.events.get(timeout=0.5)
        except queue.Empty:
            continue
        out.append(event)
        if event.job == job and event.type in ("done", "failed", "cancelled"):
            return out
    raise AssertionError(f"job {job} did not end; got {out}")


def test_client_reconnects_when_the_server_restarts(server_factory, clips: dict[str, str],
                                                    tmp_path: Path) -> None:
    port = free_port()
    first: ServerProcess = server_factory(port=port, slow=0.1).start()
    client = first.client(name="survivor")
    try:
        out = tmp_path / "out"
        job = client.submit(key_spec(clips["long"], out))
        before = wait_for_frames(client, job, 3)
        assert first.stop() == 0  # graceful: the job stays unfinished in the journal
        # The client notices the silence (heartbeat liveness), then the server returns.
        deadline = time.monotonic() + WAIT
        lost = False
        while not lost:
            assert time.monotonic() < deadline
            try:
                event = client.events.get(timeout=0.5)
            except queue.Empty:
                continue
            lost = isinstance(event, Connection) and event.state == "lost"
        server_factory(port=port, slow=0.02).start()
        after = drain_until_end(client, job)
        kinds = [(e.type, getattr(e, "state", "")) for e in after if isinstance(e, Connection)]
        assert ("connection", "connected") in kinds
        states = [e for e in after if isinstance(e, JobState)]
        assert states, "a re-subscribed client first gets the job's state"
        end = after[-1]
        assert isinstance(end, Done)
        frames = [e.frame for e in before + after if isinstance(e, FrameWritten)]
        assert sorted(set(frames)) == list(range(LONG_FRAMES))
        assert end.written + end.skipped == LONG_FRAMES
        assert len(exr_files(out)) == LONG_FRAMES
        assert client.ping()["type"] == "pong"
    finally:
        client.close()


def test_kill_9_mid_job_resumes_without_rewriting_frames(server_factory, clips: dict[str, str],
                                                        tmp_path: Path) -> None:
    first: ServerProcess = server_factory(slow=0.1).start()
    client = first.client()
    out = tmp_path / "out"
    job = client.submit(key_spec(clips["long"], out))
    wait_for_frames(client, job, 5)
    first.kill()
    client.close()
    on_disk = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in exr_files(out)}
    assert 5 <= len(on_disk) < LONG_FRAMES

    second = server_factory(slow=0.0).start()  # same folders: resumes from the journal
    watcher = second.client()
    try:
        deadline = time.monotonic() + WAIT
        while (state := watcher.status(job)["state"])["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert state["state"] == "done", state
    finally:
        watcher.close()

    files = exr_files(out)
    assert [f.name for f in files] == [f"matte.{n:04d}.exr" for n in range(LONG_FRAMES)]
    for f in files:
        read_matte(f)  # every frame whole
        if f.name in on_disk:  # written before the crash: never written again
            assert (f.stat().st_ino, f.stat().st_mtime_ns) == on_disk[f.name], f.name
    with sqlite3.connect(second.journal) as db:
        rows = db.execute("SELECT frame, writes, skips FROM frames WHERE job=? ORDER BY frame",
                          (job,)).fetchall()
    assert [r[0] for r in rows] == list(range(LONG_FRAMES))
    assert all(writes <= 1 for _, writes, _ in rows), rows
    for frame, writes, _skips in rows:
        if writes == 0:  # only frames already on disk may have been skipped
            assert f"matte.{frame:04d}.exr" in on_disk
    leftovers = [p.name for p in out.iterdir() if p.suffix != ".exr" and "manifest" not in p.name]
    assert not leftovers, leftovers
