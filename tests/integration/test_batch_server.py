"""``segmatte batch`` through a real ``segmatte serve`` subprocess (the default runner)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("opentimelineio")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_batch_local import EXPECTED, frame_numbers, make_media, sha256s, write_cut  # noqa: E402

from segmatte.server.batch import manifest as mf  # noqa: E402
from segmatte.server.batch.driver import run_batch  # noqa: E402
from segmatte.server.batch.plan import BatchSettings  # noqa: E402
from segmatte.server.batch.runner_local import InProcessRunner, ServerRunner  # noqa: E402
from segmatte.server.batch.shots import read_shots  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("batch-server-media"))


def test_server_batch_matches_the_local_batch(server_factory, media: Path, tmp_path: Path) -> None:
    srv = server_factory(workers=1).start()
    cut = write_cut(tmp_path, media)
    shots = read_shots(cut)
    local_out, server_out = tmp_path / "local", tmp_path / "server"
    run_batch(shots, BatchSettings(output=local_out), InProcessRunner(), input_path=str(cut))
    client = srv.client(name="batch-test")
    try:
        result = run_batch(shots, BatchSettings(output=server_out), ServerRunner(client, window=2),
                           input_path=str(cut))
    finally:
        client.close()
    assert result.manifest.runner == "server"
    assert result.manifest.counts() == {"done": 3, "failed": 2}
    for name, (first, last) in EXPECTED.items():
        assert frame_numbers(server_out / name, name) == list(range(first, last + 1))
    assert sha256s(local_out) == sha256s(server_out)


def test_server_batch_cli_interrupt_then_resume(server_factory, media: Path, tmp_path: Path) -> None:
    srv = server_factory(workers=1, slow=0.15).start()
    cut = write_cut(tmp_path, media, bad=False)
    out = tmp_path / "out"
    env = {**srv.env, "SEGMATTE_ADDRESS": srv.address}
    cmd = [sys.executable, "-m", "segmatte.server.commands.batch", str(cut), "--out", str(out),
           "--json", "--window", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    timer = threading.Timer(120, proc.kill)
    timer.start()
    ended: list[str] = []
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("type") == "shot" and event["state"] == "running" and ended:
                proc.send_signal(signal.SIGTERM)
                break
            if event.get("type") == "shot" and event["state"] == "done":
                ended.append(event["id"])
        _, err = proc.communicate(timeout=120)
    finally:
        timer.cancel()
    assert proc.returncode == 130, err
    states = {r.id: r.state for r in mf.load(out).shots.values()}
    assert states[ended[0]] == "done" and set(states.values()) - {"done"} <= {"cancelled", "pending"}
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.exr")}

    again = subprocess.run([c for c in cmd if c not in ("--window", "1")], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert mf.load(out).counts() == {"done": 3}
    for path, mtime in before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.name} was rewritten"
