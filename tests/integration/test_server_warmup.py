"""``segmatte serve`` warms torch and the default engine in the background at start.

Not timed: the warm-up must run on a daemon thread (so it can never hold up
the loop's exit or a reply's thread), and a job submitted at once, while it
may still be warming, must complete with the same mattes as on a cold server.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

from serverkit import SHORT_FRAMES, ServerProcess, key_spec

from segmatte.client.events import Done


def test_warm_up_runs_on_a_daemon_thread_and_imports_torch() -> None:
    code = """
import sys
from segmatte.server import warmup
w = warmup.start("key")
print(w.thread.daemon, w.thread.name, w.state in ("warming", "warm"))
w.done.wait(300)
print(w.state, w.error, "torch" in sys.modules, "segmatte.models.key.engine_key" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=320)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "segmatte-warmup", "True", "warm", "None", "True", "True"]


def test_a_failed_warm_up_is_reported_not_raised() -> None:
    from segmatte.server import warmup

    w = warmup.start("no-such-engine")
    assert w.done.wait(300)
    assert w.state == "failed" and "no-such-engine" in (w.error or "")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.exr"))}


def _run_job(srv, clip: str, out: Path) -> None:
    client = srv.client(name="warm-test")
    try:
        client.ping()  # hello answered (whatever the warm-up's state)
        job = client.submit(key_spec(clip, out))
        event = client.wait(job, timeout=300)
        assert isinstance(event, Done), event
    finally:
        client.close()


def test_a_job_submitted_during_warm_up_completes_like_on_a_cold_server(
        server_factory, clips: dict[str, str], tmp_path: Path) -> None:
    warm = server_factory().start()
    _run_job(warm, clips["short"], tmp_path / "warm")  # submitted right after the start
    cold = ServerProcess(tmp_path / "cold-server", extra=["--no-warm-up"]).start()
    try:
        _run_job(cold, clips["short"], tmp_path / "cold")
        with cold.client() as c:
            assert c.ping()["warm"] == "off"
    finally:
        cold.stop(10)
    assert len(_digests(tmp_path / "warm")) == SHORT_FRAMES
    assert _digests(tmp_path / "warm") == _digests(tmp_path / "cold")
    with warm.client() as c:
        deadline = time.monotonic() + 300  # bounds a hang: the warm-up ends, and says so
        while c.ping()["warm"] == "warming" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert c.ping()["warm"] == "warm"
