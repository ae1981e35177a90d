"""Load: 10 clients × 20 jobs submitted at once; every job ends, with its events complete and in order."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from serverkit import SHORT_FRAMES, ServerProcess, key_spec

from segmatte.client.events import Accepted, Done, Event, FrameWritten, JobState, Progress

CLIENTS = 10
JOBS_EACH = 20
WAIT = 240.0
"""Bounds a hang only (200 jobs on 2 shared cores)."""


def check_job_events(job: str, events: list[Event]) -> None:
    """Complete and in order. A client whose heartbeats were missed on the loaded
    machine reconnects and resubscribes: the server then sends the job's state
    (``JobState``, the events so far folded in) and goes on from there, so a
    reconnect may fold frames into a state, never drop or reorder one."""
    # a state taken before the job's accepted event (queued, or running while the worker
    # checks the job: seq 0) knows no total yet
    started = [e for e in events if not (isinstance(e, JobState) and e.total == 0)]
    first = started[0]
    assert (isinstance(first, Accepted) and first.total == SHORT_FRAMES) or (
        isinstance(first, JobState) and first.total == SHORT_FRAMES), events
    frames = [e.frame for e in events if isinstance(e, FrameWritten)]
    assert frames == sorted(set(frames)), (job, events)
    if not any(isinstance(e, JobState) for e in events):
        assert frames == list(range(SHORT_FRAMES)), (job, events)
    done = [e.done for e in events if isinstance(e, Progress | JobState)]
    assert done == sorted(done), (job, events)
    end = events[-1]  # the job's end, or its state after a reconnect when it ended meanwhile
    assert (isinstance(end, Done) and end.written == SHORT_FRAMES) or (
        isinstance(end, JobState) and end.state == "done" and end.written == SHORT_FRAMES), (job, events)
    assert sum(isinstance(e, Done) for e in events) <= 1


def test_ten_clients_twenty_jobs_each(server_factory, clips: dict[str, str], tmp_path: Path) -> None:
    server: ServerProcess = server_factory(workers=2, heartbeat=0.5).start()
    failures: list[str] = []
    results: dict[str, list[Event]] = {}
    lock = threading.Lock()
    go = threading.Event()

    def one_client(n: int) -> None:
        client = server.client(name=f"load-{n}")
        try:
            go.wait(30)
            jobs = [client.submit(key_spec(clips["short"], tmp_path / f"c{n}" / f"j{k}"))
                    for k in range(JOBS_EACH)]
            mine: dict[str, list[Event]] = {j: [] for j in jobs}
            open_jobs = set(jobs)
            deadline = time.monotonic() + WAIT
            while open_jobs and time.monotonic() < deadline:
                try:
                    event = client.events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if event.job in mine:
                    mine[event.job].append(event)
                    if event.type in ("done", "failed", "cancelled") or (
                            isinstance(event, JobState) and event.state in ("done", "failed", "cancelled")):
                        open_jobs.discard(event.job)
            with lock:
                results.update(mine)
                if open_jobs:
                    failures.append(f"client {n}: {len(open_jobs)} jobs did not end")
        except Exception as exc:  # reported below, with the client's number
            with lock:
                failures.append(f"client {n}: {exc!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=one_client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(WAIT + 60)
    assert not failures, failures
    assert len(results) == CLIENTS * JOBS_EACH
    for job, events in results.items():
        check_job_events(job, events)
    for n in range(CLIENTS):
        for k in range(JOBS_EACH):
            assert len(list((tmp_path / f"c{n}" / f"j{k}").glob("*.exr"))) == SHORT_FRAMES
