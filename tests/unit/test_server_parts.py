"""The sidecar's small parts without sockets: queue, journal, token, path guard, config."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from segmatte.client import paths
from segmatte.client.events import Accepted, Done, FrameWritten
from segmatte.client.protocol import Code, ProtocolError
from segmatte.server.auth import PathGuard, ensure_token, token_matches
from segmatte.server.config import ConfigError, ServerConfig, is_loopback, load
from segmatte.server.jobs import Job, JobQueue, JobTable
from segmatte.server.journal import Journal, read_frames, read_jobs


def test_queue_orders_by_priority_then_arrival() -> None:
    q = JobQueue()
    for job, prio in [("a", 0), ("b", 5), ("c", 0), ("d", 5)]:
        q.put(job, prio, job.upper())
    assert q.remove("c") and not q.remove("zzz")
    got = [q.get(0.01) for _ in range(4)]
    assert got == [("b", "B"), ("d", "D"), ("a", "A"), None]
    q.close()
    assert q.get(5) is None  # closed: returns at once, no hang


def test_journal_records_jobs_and_frames(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    table = JobTable(journal)
    journal.add_job("j1", {"source": "/a.mp4", "engine": "key", "output": {"folder": "/o"}}, 2, "k1")
    table.add(Job(id="j1", spec=None, spec_dict={}, priority=2, key="k1"))
    assert table.apply("j1", Accepted(job="j1", total=2)) == 1
    table.apply("j1", FrameWritten(job="j1", frame=0, paths=("/o/m.0000.exr",)))
    table.apply("j1", FrameWritten(job="j1", frame=0, paths=("/o/m.0000.exr",), skipped=True))
    assert table.apply("j1", Done(job="j1", manifest="/o/m.json", written=1, skipped=1)) == 4
    assert table.apply("j1", Done(job="j1")) is None  # nothing after the end
    rows = read_jobs(journal.path)
    assert rows[0].state == "done" and rows[0].seq == 4 and rows[0].manifest == "/o/m.json"
    assert rows[0].summary()["engine"] == "key"
    frames = list(read_frames(journal.path, "j1"))
    assert [(f["frame"], f["writes"], f["skips"]) for f in frames] == [(0, 1, 1)]
    assert table.by_key("k1").id == "j1"
    assert journal.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    journal.close()
    assert read_jobs(tmp_path / "none.sqlite3") == []


def test_token_is_created_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "token"
    token = ensure_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    assert ensure_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_matches(token, token) and not token_matches(token, token + "x")
    assert not token_matches(token, "é")


def test_path_guard(tmp_path: Path) -> None:
    guard = PathGuard([tmp_path])
    assert guard.allows(str(tmp_path / "a" / "b.mp4"))
    assert not guard.allows("/etc/passwd")
    assert not guard.allows(str(tmp_path / ".." / "x"))
    assert not guard.allows("")
    (tmp_path / "link").symlink_to("/etc")
    assert not guard.allows(str(tmp_path / "link" / "passwd"))
    spec = {"source": str(tmp_path / "a.mp4"), "output": {"folder": str(tmp_path / "o")},
            "objects": [{"id": "x", "keyframes": [{"frame": 0, "mask": "/etc/m.png"}]}]}
    with pytest.raises(ProtocolError) as err:
        guard.check_spec(spec, "r")
    assert err.value.code == Code.BAD_PATH and err.value.field == "spec.objects.0.keyframes.0.mask"


def test_config_refuses_remote_without_consent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(tmp_path / "data"))  # no running server's endpoint
    monkeypatch.delenv("SEGMATTE_ADDRESS", raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    with pytest.raises(ConfigError, match="--allow-remote"):
        ServerConfig(host="0.0.0.0").check()
    assert ServerConfig(host="0.0.0.0", allow_remote=True).check().connect_address(5) == \
        "tcp://127.0.0.1:5"
    (tmp_path / "config.json").write_text('{"port": 6001, "workers": 3}')
    cfg = load(workers=None, extra_roots=["/srv/footage"])
    assert (cfg.port, cfg.workers) == (6001, 3) and Path("/srv/footage") in cfg.allowed_roots
    assert paths.server_address(5790) == "tcp://127.0.0.1:6001"


def test_paths_follow_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SEGMATTE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("SEGMATTE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    assert paths.token_path() == tmp_path / "c" / "segmatte" / "token"
    assert paths.data_dir() == tmp_path / "d" / "segmatte"
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(tmp_path / "x"))
    assert paths.config_dir() == tmp_path / "x"
    assert paths.read_token() is None
