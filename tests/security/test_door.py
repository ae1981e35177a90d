"""Bad input that used to get through the door, each against the real CLI or a real server.

Truncated videos, sequence gaps, a missing token, world-readable journals,
resumed counters, output folders, exit codes and error fields — as
docs/protocol.md and the README state them.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import clipgen
import pytest
from serverkit import CLIP_H, CLIP_W, LONG_FRAMES, ServerProcess, key_spec

from segmatte.client.client import ClientError
from segmatte.client.events import Done, Failed

WAIT = 120.0


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "segmatte.server.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def isolated_env(root: Path) -> dict[str, str]:
    env = dict(os.environ, SEGMATTE_CONFIG_DIR=str(root / "config"),
               SEGMATTE_DATA_DIR=str(root / "data"))
    env.pop("SEGMATTE_ADDRESS", None)
    return env


def frames(n: int) -> list:
    return [clipgen.green_screen(i, CLIP_W, CLIP_H)[0] for i in range(n)]


@pytest.mark.parametrize("ext", ["avi", "mkv"])
def test_a_truncated_video_is_refused_not_half_done(tmp_path: Path, ext: str) -> None:
    whole = clipgen.write_video(tmp_path / f"whole.{ext}", frames(200), codec="h264")
    cut = tmp_path / f"cut.{ext}"
    data = Path(whole).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    run = cli("matte", str(cut), "--out", str(out))
    assert run.returncode == 2, run.stderr
    assert "truncated" in run.stderr
    assert not out.exists() or not list(out.iterdir())  # nothing half-done
    assert cli("matte", whole, "--out", str(tmp_path / "ok")).returncode == 0


def test_a_truncated_avi_that_decodes_cleanly_is_still_refused(tmp_path: Path) -> None:
    """The probe's case: ffmpeg reads the first half without a word; the header says more."""
    from mattegen import vtest_path

    source = vtest_path()
    if not source.exists():
        pytest.skip("the vtest.avi test asset is not installed (install/test_assets.py)")
    data = source.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    run = cli("matte", str(cut), "--out", str(out), "--range", "0-9")
    assert run.returncode == 2, run.stderr
    assert "truncated" in run.stderr and "declares 795 frames" in run.stderr
    assert not out.exists()
    probe = cli("probe", str(cut))
    assert probe.returncode != 0 and "truncated" in probe.stderr


def test_a_sequence_gap_is_a_door_error_naming_hold_gaps(tmp_path: Path) -> None:
    seq = tmp_path / "seq"
    numbers = [n for n in range(1, 9) if n != 5]
    clipgen.write_sequence(seq, "plate", numbers, frames(len(numbers)))
    out = tmp_path / "out"
    run = cli("matte", str(seq / "plate.####.exr"), "--out", str(out))
    assert run.returncode == 2, run.stderr
    assert "frame 5" in run.stderr and "--hold-gaps" in run.stderr
    assert not out.exists()
    run = cli("matte", str(seq / "plate.####.exr"), "--out", str(out), "--hold-gaps")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.glob("*.exr")) == [f"plate_matte.{n:04d}.exr"
                                                         for n in range(1, 9)]


def test_a_gap_through_the_server_names_the_option_and_failed_names_its_frame(
        server: ServerProcess, tmp_path: Path) -> None:
    seq = tmp_path / "seq"
    numbers = [n for n in range(1, 9) if n != 5]
    paths = clipgen.write_sequence(seq, "plate", numbers, frames(len(numbers)))
    client = server.client()
    try:
        with pytest.raises(ClientError) as err:
            client.submit(key_spec(str(seq / "plate.####.exr"), tmp_path / "o"))
        assert err.value.code == "bad_media" and "--hold-gaps" in err.value.message
        assert err.value.field == "spec.hold_gaps"
        job = client.submit(key_spec(str(seq / "plate.####.exr"), tmp_path / "o", hold_gaps=True))
        assert isinstance(client.wait(job, WAIT), Done)
        # a frame that is there but does not decode: the job fails, naming the frame
        damaged = Path(paths[2])  # frame 3
        damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size * 6 // 10])
        job = client.submit(key_spec(str(seq / "plate.####.exr"), tmp_path / "o2",
                                     hold_gaps=True))
        end = client.wait(job, WAIT)
        assert isinstance(end, Failed) and end.frame == 3, end
    finally:
        client.close()


def test_range_errors_name_spec_range(server: ServerProcess, clips: dict[str, str],
                                      tmp_path: Path) -> None:
    client = server.client()
    try:
        for rng in ({"first": 0, "last": 999}, {"first": 3, "last": 1}):
            with pytest.raises(ClientError) as err:
                client.submit(key_spec(clips["short"], tmp_path / "o", range=rng))
            assert err.value.field == "spec.range", err.value
    finally:
        client.close()


def test_a_missing_token_says_how_to_make_one(server: ServerProcess, tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "newcomer")  # no token file, but the server's endpoint
    env["SEGMATTE_DATA_DIR"] = str(server.data_dir)
    run = cli("serve", "--stop", env=env, timeout=60)
    assert run.returncode == 1
    assert "segmatte serve" in run.stderr and "token" in run.stderr
    assert "length must be at least" not in run.stderr
    assert server.proc.poll() is None  # and the server was not stopped


def test_serve_refusals_exit_2_and_serve_stop_stops(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    run = cli("serve", "--host", "0.0.0.0", "--port", "0", env=env, timeout=60)
    assert run.returncode == 2 and "--allow-remote" in run.stderr
    srv = ServerProcess(tmp_path / "s").start()
    try:
        first = srv.stderr()
        assert srv.address in first and "segmatte serve --stop" in first
        run = cli("serve", "--stop", env=srv.env, timeout=60)
        assert run.returncode == 0, run.stderr
        srv.proc.wait(30)
        assert srv.proc.returncode == 0
    finally:
        srv.stop(10)


def test_journal_and_data_folder_are_private(server: ServerProcess, clips: dict[str, str],
                                             tmp_path: Path) -> None:
    client = server.client()
    try:
        assert isinstance(client.wait(client.submit(key_spec(clips["short"], tmp_path / "o")),
                                      WAIT), Done)
    finally:
        client.close()
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    for name in ("journal.sqlite3", "journal.sqlite3-wal"):
        path = server.data_dir / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_output_folder_rule(server: ServerProcess, clips: dict[str, str], tmp_path: Path) -> None:
    """Files that are not segmatte's stay; only one with a name the job writes stops it."""
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    lookalike = out / ".matte.0001.exr.deadbeef.tmp"  # looks like an old temp name
    lookalike.write_text("also mine")
    client = server.client()
    try:
        assert isinstance(client.wait(client.submit(key_spec(clips["short"], out)), WAIT), Done)
        assert (out / "notes.txt").read_text() == "mine"
        assert lookalike.read_text() == "also mine"
        theirs = tmp_path / "theirs"
        theirs.mkdir()
        (theirs / "matte.0002.exr").write_bytes(b"not ours")
        with pytest.raises(ClientError) as err:
            client.submit(key_spec(clips["short"], theirs))
        assert err.value.code == "bad_spec" and "did not write" in err.value.message
        assert (theirs / "matte.0002.exr").read_bytes() == b"not ours"
    finally:
        client.close()


def test_counters_after_kill_9_count_each_frame_once(server_factory, clips: dict[str, str],
                                                     tmp_path: Path) -> None:
    first: ServerProcess = server_factory(slow=0.1).start()
    client = first.client()
    out = tmp_path / "out"
    job = client.submit(key_spec(clips["long"], out))
    deadline = time.monotonic() + WAIT
    while len(list(out.glob("*.exr"))) < 8:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.kill()
    client.close()
    second = server_factory(slow=0.0)
    second.root = first.root  # same folders: resumes from the journal
    second.config_dir, second.data_dir = first.config_dir, first.data_dir
    second.log = first.root / "server-stderr-2.log"
    second.start()
    watcher = second.client()
    try:
        deadline = time.monotonic() + WAIT
        while (state := watcher.status(job)["state"])["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
    finally:
        watcher.close()
    assert state["state"] == "done", state
    assert state["total"] == LONG_FRAMES and state["done"] == LONG_FRAMES, state
    assert state["written"] + state["skipped"] == LONG_FRAMES, state
    with sqlite3.connect(second.journal) as db:
        rows = db.execute("SELECT frame, writes FROM frames WHERE job=? ORDER BY frame",
                          (job,)).fetchall()
    assert [r[0] for r in rows] == list(range(LONG_FRAMES))
    # every frame was written by this job, once: none is recorded as never written
    assert all(writes == 1 for _, writes in rows), rows
    assert state["written"] == LONG_FRAMES and state["skipped"] == 0, state
