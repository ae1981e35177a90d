"""Jobs through a real server: events to done, late subscribers, cancel, priorities."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

from serverkit import LONG_FRAMES, SHORT_FRAMES, ServerProcess, frames_in_order, key_spec

from segmatte.client.client import Client
from segmatte.client.events import (
    Accepted,
    Cancelled,
    Done,
    Event,
    FrameWritten,
    JobState,
    Progress,
)
from segmatte.server.output.exr import read_matte

WAIT = 120.0
"""Bounds a hang only; these jobs take well under a second of work each."""


def job_events(client: Client, job: str, timeout: float = WAIT) -> list[Event]:
    """Every event of ``job`` from the client's queue, up to and including its end."""
    out: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = client.events.get(timeout=0.5)
        except queue.Empty:
            continue
        if event.job != job:
            continue
        out.append(event)
        if event.type in ("done", "failed", "cancelled"):
            return out
    raise AssertionError(f"job {job} did not end within {timeout} s; got {out}")


def wait_for_frames(client: Client, job: str, count: int) -> list[Event]:
    seen: list[Event] = []
    deadline = time.monotonic() + WAIT
    while sum(isinstance(e, FrameWritten) for e in seen) < count:
        assert time.monotonic() < deadline, seen
        try:
            event = client.events.get(timeout=0.5)
        except queue.Empty:
            continue
        if event.job == job:
            seen.append(event)
            assert event.type not in ("done", "failed", "cancelled"), seen
    return seen


def exr_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.exr"))


def test_submit_streams_events_to_done(client: Client, clips: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    job = client.submit(key_spec(clips["short"], out))
    events = job_events(client, job)
    assert isinstance(events[0], Accepted) and events[0].total == SHORT_FRAMES
    assert frames_in_order(events, 0) == SHORT_FRAMES
    done = [e.done for e in events if isinstance(e, Progress)]
    assert done == sorted(done) and done[-1] == SHORT_FRAMES
    end = events[-1]
    assert isinstance(end, Done) and end.written == SHORT_FRAMES and end.skipped == 0
    manifest = json.loads(Path(end.manifest).read_text())
    assert manifest  # helper-2's manifest: present and JSON
    assert len(exr_files(out)) == SHORT_FRAMES
    status = client.status(job)["state"]
    assert status["state"] == "done" and status["written"] == SHORT_FRAMES
    assert [j["job"] for j in client.jobs()] == [job]


def test_resubmitting_the_same_spec_skips_frames_on_disk(client: Client, clips: dict[str, str],
                                                         tmp_path: Path) -> None:
    spec = key_spec(clips["short"], tmp_path / "out")
    first = job_events(client, client.submit(spec))[-1]
    again = job_events(client, client.submit(spec))[-1]
    assert isinstance(first, Done) and isinstance(again, Done)
    assert (again.written, again.skipped) == (0, SHORT_FRAMES)


def test_late_subscriber_gets_state_then_the_rest(server_factory, clips: dict[str, str],
                                                  tmp_path: Path) -> None:
    server: ServerProcess = server_factory(slow=0.1).start()
    a, b = server.client(name="a"), server.client(name="b")
    try:
        job = a.submit(key_spec(clips["long"], tmp_path / "out"))
        wait_for_frames(a, job, 3)
        b.subscribe(job)
        events = [e for e in job_events(b, job) if not e.type == "connection"]
        state = events[0]
        assert isinstance(state, JobState) and state.state == "running", events[:2]
        assert 3 <= state.written < LONG_FRAMES
        # Frames follow in order from the state (a reconnect re-sends the state).
        assert frames_in_order(events[1:], state.written) == LONG_FRAMES
        assert isinstance(events[-1], Done) and events[-1].written == LONG_FRAMES
        # A subscriber that comes after the end still gets the state and the end.
        c = server.client(name="c")
        c.subscribe(job)
        replay = job_events(c, job)
        assert [type(e) for e in replay] == [JobState, Done]
        assert replay[0].state == "done" and replay[1].manifest == events[-1].manifest
        c.close()
    finally:
        a.close()
        b.close()


def test_cancel_stops_between_frames_and_leaves_whole_frames(server_factory, clips: dict[str, str],
                                                             tmp_path: Path) -> None:
    server: ServerProcess = server_factory(slow=0.1).start()
    client = server.client()
    try:
        out = tmp_path / "out"
        job = client.submit(key_spec(clips["long"], out))
        queued = client.submit(key_spec(clips["long"], tmp_path / "out2"))
        # The second job waits behind the first (one worker): cancelling it ends it at once.
        reply = client.cancel(queued)
        assert reply["type"] == "cancelling"
        ended = job_events(client, queued)
        assert isinstance(ended[-1], Cancelled) and ended[-1].written == 0
        wait_for_frames(client, job, 2)
        client.cancel(job)
        events = job_events(client, job)
        end = events[-1]
        assert isinstance(end, Cancelled)
        assert 2 <= end.written < LONG_FRAMES
        files = exr_files(out)
        assert len(files) == end.written
        for f in files:
            read_matte(f)  # whole: reads without error
        assert not [p for p in out.iterdir() if p.suffix != ".exr"], list(out.iterdir())
        assert client.status(job)["state"]["state"] == "cancelled"
        assert not (tmp_path / "out2").exists() or not exr_files(tmp_path / "out2")
    finally:
        client.close()


def test_priorities_and_a_vanished_client(server_factory, clips: dict[str, str], tmp_path: Path) -> None:
    server: ServerProcess = server_factory(slow=0.05).start()
    a = server.client(name="a")
    blocker = a.submit(key_spec(clips["long"], tmp_path / "blocker"), subscribe=False)
    low = a.submit(key_spec(clips["short"], tmp_path / "low"), subscribe=False)
    high = a.submit(key_spec(clips["short"], tmp_path / "high"), priority=10, subscribe=False)
    a.close()  # the client disappears; its jobs go on
    b = server.client(name="b")
    try:
        deadline = time.monotonic() + WAIT
        while True:
            states = {j["job"]: j for j in b.jobs()}
            if all(states[j]["state"] == "done" for j in (blocker, low, high)):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.2)
        assert states[high]["started"] < states[low]["started"]
    finally:
        b.close()
