"""Interactive sessions through a real server: open, prompt, propagate, correct, close.

A tiny randomly initialised SAM 2 video model of the real transformers class is
saved where the catalog's ``sam2.1-tiny`` lives in a temporary Hugging Face
cache (as in test_cli_track.py); the server subprocess finds it through
``HF_HUB_CACHE``. One server serves the module (starting one and loading the
model is most of the cost); tests that need their own (shutdown) make one.
"""

from __future__ import annotations

import json
import os
import queue
import time
from pathlib import Path

import numpy as np
import pytest
from serverkit import ServerProcess

from segmatte.client.client import Client, ClientError
from segmatte.client.events import Accepted, Cancelled, Done, Event, FrameWritten, Progress
from segmatte.server.output.exr import read_matte

WAIT = 120.0
"""Bounds a hang only (2 shared cores); nothing here asserts on time."""
FIRST, LAST = 0, 23  # green_screen_clip: 24 frames, 160x120
W, H = 160, 120




def start_server(root: Path, hub: Path, **kwargs) -> ServerProcess:
    """A server that sees the temp model cache (ServerProcess copies os.environ at start)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(hub))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("SEGMATTE_SESSION_TIMEOUT", "1")
        mp.setenv("SEGMATTE_TORCH_THREADS", "1")
        return ServerProcess(root, **kwargs).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hub: Path):
    srv = start_server(tmp_path_factory.mktemp("srv"), hub)
    yield srv
    srv.stop(30)


@pytest.fixture
def client(server: ServerProcess):
    c = server.client(name="sessions")
    yield c
    c.close()


def job_events(client: Client, job: str, timeout: float = WAIT) -> list[Event]:
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


def stats(folder: Path) -> dict[int, tuple[int, int, bytes]]:
    """Frame → (inode, mtime_ns, bytes) of each EXR: a rewrite (temp + rename) changes the inode."""
    out = {}
    for p in folder.glob("hero.*.exr"):
        st = p.stat()
        out[int(p.name.split(".")[1])] = (st.st_ino, st.st_mtime_ns, p.read_bytes())
    return out


def written(events: list[Event]) -> list[int]:
    return [e.frame for e in events if isinstance(e, FrameWritten) and not e.skipped]


def test_open_prompt_propagate_correct_close(client: Client, server: ServerProcess,
                                             green_screen_clip, tmp_path: Path) -> None:
    opened = client.session_open(os.fspath(green_screen_clip))
    sid = opened["session"]
    assert (opened["width"], opened["height"], opened["first"], opened["last"]) == (W, H, FIRST, LAST)
    assert opened["fps"] == pytest.approx(24.0)

    # prompt → a preview EXR of the source size, and the object's score
    preview = client.session_prompt(sid, 5, "hero", points=[{"x": 80, "y": 60, "label": 1}],
                                    boxes=[{"x0": 50, "y0": 30, "x1": 110, "y1": 90}])
    path = Path(preview["path"])
    assert path.name == "preview_hero.0005.exr"
    assert path.parent == server.data_dir / "sessions" / sid
    alpha, meta = read_matte(path)
    assert alpha.shape[:2] == (H, W) and meta["frame"] == 5 and meta["layer"] == "hero"
    assert 0.0 < preview["score"] <= 1.0 and preview["scores"] == {"hero": preview["score"]}

    # propagate: a job whose events arrive in order, EXRs for the whole range, a manifest
    out = tmp_path / "mattes"
    job = client.session_propagate(sid, {"folder": str(out), "name": "hero"})
    events = job_events(client, job)
    assert isinstance(events[0], Accepted) and events[0].total == LAST - FIRST + 1
    assert isinstance(events[-1], Done), events[-1]
    # the keyframe first (its preview), then back to the first frame, then on to the last
    assert written(events) == [5, *range(4, FIRST - 1, -1), *range(6, LAST + 1)]
    done = [e.done for e in events if isinstance(e, Progress)]
    assert done == sorted(done) and done[-1] == LAST - FIRST + 1
    assert sorted(stats(out)) == list(range(FIRST, LAST + 1))
    manifest = json.loads(Path(events[-1].manifest).read_text())
    assert [f["number"] for f in manifest["frames"]] == list(range(FIRST, LAST + 1))
    assert manifest["spec"]["objects"][0]["id"] == "hero"
    # `jobs` lists the propagation like a job, with the session it came from
    listed = {row["job"]: row for row in client.jobs()}
    assert listed[job]["session"] == sid and listed[job]["engine"] == "track"
    assert client.status(job)["state"]["state"] == "done"
    before = stats(out)

    # a correction on a later frame, then propagate again: from there on, forward only
    fix = client.session_prompt(sid, 12, "hero", points=[{"x": 80, "y": 60, "label": 0}])
    assert Path(fix["path"]).name == "preview_hero.0012.exr"
    job2 = client.session_propagate(sid, {"folder": str(out), "name": "hero"})
    events2 = job_events(client, job2)
    assert isinstance(events2[-1], Done), events2[-1]
    assert written(events2) == list(range(12, LAST + 1))
    after = stats(out)
    for n in range(FIRST, 12):  # frames before the correction: untouched
        assert after[n] == before[n], n
    for n in range(12, LAST + 1):  # from the correction on: rewritten
        assert after[n][0] != before[n][0], n
    assert any(after[n][2] != before[n][2] for n in range(12, LAST + 1))
    manifest2 = json.loads(Path(events2[-1].manifest).read_text())
    assert [f["number"] for f in manifest2["frames"]] == list(range(FIRST, LAST + 1))
    on_disk = {f["number"]: f["files"]["hero"]["sha256"] for f in manifest2["frames"]}
    import hashlib
    assert all(hashlib.sha256(after[n][2]).hexdigest() == on_disk[n] for n in after)

    assert client.session_close(sid)["session"] == sid
    assert not (server.data_dir / "sessions" / sid).exists()
    with pytest.raises(ClientError) as err:
        client.session_prompt(sid, 5, "hero", points=[{"x": 1, "y": 1}])
    assert (err.value.code, err.value.field) == ("not_found", "session")


def test_bad_requests_name_the_field(client: Client, server: ServerProcess, green_screen_clip,
                                     tmp_path: Path, hub: Path) -> None:
    src = os.fspath(green_screen_clip)

    def refused(call, code: str, field: str | None) -> str:
        with pytest.raises(ClientError) as err:
            call()
        assert (err.value.code, err.value.field) == (code, field), err.value
        return err.value.message

    refused(lambda: client.session_open("/etc/passwd"), "bad_path", "source")
    refused(lambda: client.session_open(str(tmp_path / "none.mp4")), "bad_media", "source")
    refused(lambda: client.session_open(src, range={"first": 0, "last": 99}), "bad_media", "range")
    refused(lambda: client.session_open(src, engine="key"), "bad_engine", "engine")
    message = refused(lambda: client.session_open(src, model="sam2.1-small"), "bad_engine", "model")
    assert "segmatte models pull sam2.1-small" in message
    refused(lambda: client.session_prompt("nope", 1, "o", points=[{"x": 1, "y": 1}]),
            "not_found", "session")

    sid = client.session_open(src, range={"first": 2, "last": 9})["session"]
    try:
        pt = [{"x": 10, "y": 10}]
        refused(lambda: client.session_prompt(sid, 1, "o", points=pt), "bad_field", "frame")
        refused(lambda: client.session_prompt(sid, 10, "o", points=pt), "bad_field", "frame")
        refused(lambda: client.session_prompt(sid, 3, "a b", points=pt), "bad_field", "object")
        refused(lambda: client.session_prompt(sid, 3, "o", points=[{"x": 10, "y": 10},
                                                                  {"x": 500, "y": 10}]),
                "bad_field", "points.1")
        refused(lambda: client.session_prompt(sid, 3, "o", points=[{"x": 1}]),
                "bad_field", "points.0")
        refused(lambda: client.session_prompt(sid, 3, "o", boxes=[{"x0": 0, "y0": 0, "x1": 9,
                                                                   "y1": 300}]),
                "bad_field", "boxes.0")
        refused(lambda: client.session_prompt(sid, 3, "o"), "bad_field", "points")
        out = {"folder": str(tmp_path / "o")}
        refused(lambda: client.session_propagate(sid, out), "bad_field", "session")  # no prompt yet
        client.session_prompt(sid, 3, "o", points=pt)
        refused(lambda: client.session_propagate(sid, {"folder": "/etc/mattes"}),
                "bad_path", "output.folder")
        refused(lambda: client.session_propagate(sid, {"folder": "rel"}), "bad_spec", "output.folder")
        refused(lambda: client.session_propagate(sid, {"folder": str(tmp_path), "name": ".x"}),
                "bad_spec", "output.name")
        refused(lambda: client.session_propagate(sid, out, range={"first": 0, "last": 5}),
                "bad_field", "range")
        (tmp_path / "theirs").mkdir()
        (tmp_path / "theirs" / "matte.0004.exr").write_bytes(b"not ours")
        refused(lambda: client.session_propagate(sid, {"folder": str(tmp_path / "theirs")}),
                "bad_spec", "output.folder")
        # a range narrower than the session: only its frames are written
        job = client.session_propagate(sid, out, range={"first": 3, "last": 6}, direction="forward")
        events = job_events(client, job)
        assert isinstance(events[-1], Done) and written(events) == [3, 4, 5, 6]
    finally:
        client.session_close(sid)


def test_cancel_mid_propagation_and_an_abandoned_session(server: ServerProcess, client: Client,
                                                         tmp_path: Path) -> None:
    import clipgen

    src = clipgen.write_green_screen_clip(tmp_path / "long.mp4", 240, W, H)
    sid = client.session_open(src)["session"]
    client.session_prompt(sid, 0, "hero", points=[{"x": 80, "y": 60}])
    out = tmp_path / "out"
    job = client.session_propagate(sid, {"folder": str(out)})
    wait_frames(client, job, 3)
    assert client.cancel(job)["type"] == "cancelling"
    end = job_events(client, job)[-1]
    assert isinstance(end, Cancelled) and 3 <= end.written < 240
    files = sorted(out.glob("*.exr"))
    assert len(files) == end.written  # whole frames only
    for f in files:
        assert np.isfinite(read_matte(f)[0]).all()
    assert client.status(job)["state"]["state"] == "cancelled"
    # the session is usable again after the cancel
    assert client.session_prompt(sid, 2, "hero", points=[{"x": 80, "y": 60}])["frame"] == 2

    # a client that vanishes: its session is closed after the (test-short) timeout
    other = server.client(name="vanishing")
    gone = other.session_open(src, range={"first": 0, "last": 4})["session"]
    other.close()
    deadline = time.monotonic() + WAIT
    while (server.data_dir / "sessions" / gone).exists():
        assert time.monotonic() < deadline, "abandoned session was never closed"
        time.sleep(0.2)
    with pytest.raises(ClientError) as err:
        client.session_prompt(gone, 1, "x", points=[{"x": 1, "y": 1}])
    assert err.value.code == "not_found"
    client.session_close(sid)


def wait_frames(client: Client, job: str, count: int) -> None:
    seen: list[Event] = []
    while len(written(seen)) < count:
        event = client.events.get(timeout=WAIT)
        if event.job == job:
            assert event.type not in ("done", "failed", "cancelled"), seen
            seen.append(event)


def test_shutdown_and_crash_end_sessions_and_their_jobs(tmp_path: Path, hub: Path,
                                                        green_screen_clip) -> None:
    import clipgen

    src = clipgen.write_green_screen_clip(tmp_path / "long.mp4", 240, W, H)
    root = tmp_path / "srv"
    srv = start_server(root, hub)
    try:
        c = srv.client()
        sid = c.session_open(src)["session"]
        c.session_prompt(sid, 0, "a", points=[{"x": 80, "y": 60}])
        assert (srv.data_dir / "sessions" / sid).is_dir()
        job = c.session_propagate(sid, {"folder": str(tmp_path / "o1")})
        wait_frames(c, job, 2)
        c.shutdown()  # stops the propagation between frames and closes the session
        c.close()
        assert srv.proc is not None and srv.proc.wait(WAIT) == 0
        assert not (srv.data_dir / "sessions" / sid).exists()

        srv = start_server(root, hub)  # same folders: the journal remembers the job
        c = srv.client()
        state = c.status(job)["state"]
        assert state["state"] == "cancelled" and state["written"] >= 2, state  # not resumed
        sid = c.session_open(src)["session"]
        c.session_prompt(sid, 0, "a", points=[{"x": 80, "y": 60}])
        job = c.session_propagate(sid, {"folder": str(tmp_path / "o2")})
        wait_frames(c, job, 2)
        c.close()
        srv.kill()  # a crash mid-propagation

        srv = start_server(root, hub)
        c = srv.client()
        state = c.status(job)["state"]
        assert state["state"] == "failed" and "session" in state["reason"], state
        c.close()
    finally:
        srv.stop(10)


def test_propagate_finishes_like_the_job_path(client: Client, green_screen_clip,
                                              tmp_path: Path) -> None:
    """A session's propagation is a job: choke and reduce chatter applied, and the files
    hold exactly what a submitted job with the same prompts writes."""
    from segmatte.client import jobspec as J

    src = os.fspath(green_screen_clip)
    sid = client.session_open(src, engine="track")["session"]
    try:
        client.session_prompt(sid, 5, "hero", points=[{"x": 80, "y": 60, "label": 1}])
        client.session_prompt(sid, 5, "hero", points=[{"x": 20, "y": 20, "label": 0}])
        client.session_prompt(sid, 14, "hero", points=[{"x": 90, "y": 64, "label": 1}])
        finish = {"choke": 2.0, "chatter": 0.5}
        out_s, out_j, out_raw = tmp_path / "session", tmp_path / "job", tmp_path / "raw"
        job = client.session_propagate(sid, {"folder": str(out_s), "name": "hero"},
                                       direction="both", finish=finish)
        done = job_events(client, job)[-1]
        assert isinstance(done, Done), done
        spec = J.JobSpec(source=src, first=FIRST, last=LAST, engine="track", direction="both",
                         output=J.Output(folder=str(out_j), name="hero"), finish=finish)
        hero = spec.object("hero")
        hero.add(5, [J.Point(80, 60), J.Point(20, 20, 0)])
        hero.add(14, [J.Point(90, 64)])
        assert isinstance(job_events(client, client.submit(spec.to_dict()))[-1], Done)
        spec.output, spec.finish = J.Output(folder=str(out_raw), name="hero"), {}
        assert isinstance(job_events(client, client.submit(spec.to_dict()))[-1], Done)
    finally:
        client.session_close(sid)
    differs = 0
    for n in range(FIRST, LAST + 1):
        a, meta = read_matte(out_s / f"hero.{n:04d}.exr")
        b, _ = read_matte(out_j / f"hero.{n:04d}.exr")
        raw, _ = read_matte(out_raw / f"hero.{n:04d}.exr")
        np.testing.assert_array_equal(a, b, err_msg=f"frame {n}")
        differs += not np.array_equal(a, raw)
    assert differs > LAST // 2  # finishing really ran on the session's frames
    manifest = json.loads((out_s / "hero.manifest.json").read_text())
    assert manifest["spec"]["finish"]["choke"] == 2.0
    assert [f["number"] for f in manifest["frames"]] == list(range(FIRST, LAST + 1))


def test_open_embeds_the_current_frame_and_the_preview_is_the_same(
        client: Client, green_screen_clip) -> None:
    """A session opened on frame 5 has it embedded; its preview there equals a cold one."""
    src = os.fspath(green_screen_clip)
    click = {"points": [{"x": 80, "y": 60, "label": 1}]}
    previews = {}
    for name, frame in (("prepared", 5), ("cold", None)):  # cold: frame 0 embedded, not 5
        sid = client.session_open(src, frame=frame)["session"]
        try:
            reply = client.session_prompt(sid, 5, "hero", **click)
            previews[name] = (read_matte(Path(reply["path"]))[0], reply["score"])
            small = client.session_prompt(sid, 5, "hero", **click, replace=True, preview_size=80)
            assert read_matte(Path(small["path"]))[0].shape[:2] == (60, 80)  # display size
            assert small["score"] == reply["score"]
        finally:
            client.session_close(sid)
    np.testing.assert_array_equal(previews["prepared"][0], previews["cold"][0])
    assert previews["prepared"][1] == previews["cold"][1]
    with pytest.raises(ClientError) as err:
        client.session_open(src, range={"first": 2, "last": 9}, frame=12)
    assert (err.value.code, err.value.field) == ("bad_field", "frame")
