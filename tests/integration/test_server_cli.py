"""The command line through the server: ``run_remote``, ``segmatte jobs``, ``segmatte doctor``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from serverkit import SHORT_FRAMES, ServerProcess, free_port, key_spec

from segmatte.client import paths
from segmatte.client.client import Client
from segmatte.server.commands.remote import absolute_spec, run_remote
from segmatte.server.spec import parse_spec


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


def test_run_remote_on_a_running_server(server: ServerProcess, clips: dict[str, str],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(server.config_dir))  # the token
    spec = parse_spec(key_spec(clips["short"], tmp_path / "out"))
    console = quiet()
    assert run_remote(spec, address=server.address, console=console) == 0, console.file.getvalue()
    assert len(list((tmp_path / "out").glob("*.exr"))) == SHORT_FRAMES
    assert "manifest" in console.file.getvalue()
    bad = parse_spec(key_spec(str(tmp_path / "missing.mp4"), tmp_path / "out2"))
    assert run_remote(bad, address=server.address, console=quiet()) == 2


def test_relative_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = absolute_spec(parse_spec(key_spec("clip.mp4", "out")))
    assert data["source"] == str(tmp_path / "clip.mp4")
    assert data["output"]["folder"] == str(tmp_path / "out")
    plate = absolute_spec(parse_spec(key_spec("clip.mp4", "out", options={
        "mode": "difference", "clean_plate": "plate.png"})))
    assert plate["options"]["clean_plate"] == str(tmp_path / "plate.png")  # a path option too
    frame = absolute_spec(parse_spec(key_spec("clip.mp4", "out", options={
        "mode": "difference", "clean_plate": 7})))
    assert frame["options"]["clean_plate"] == 7  # a frame number is not a path


def test_run_remote_starts_a_server_when_none_answers(clips: dict[str, str], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(tmp_path / "data"))
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("SEGMATTE_ADDRESS", address)
    spec = parse_spec(key_spec(clips["short"], tmp_path / "out"))
    try:
        assert run_remote(spec, console=quiet()) == 0
        assert len(list((tmp_path / "out").glob("*.exr"))) == SHORT_FRAMES
        pid = paths.read_json(paths.endpoint_path())["pid"]
        env = dict(os.environ)
        out = subprocess.run([sys.executable, "-m", "segmatte.server.cli", "jobs", "--json"],
                             env=env, capture_output=True, text=True, timeout=60)
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        assert [r["state"] for r in rows] == ["done"]
    finally:
        with Client(address) as c:
            c.shutdown()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:  # our child (run_remote started it here): reap it, or it lingers as a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the started server did not stop on shutdown")
    assert not paths.endpoint_path().exists()


def test_doctor_prints_one_screen(server: ServerProcess) -> None:
    env = dict(server.env, COLUMNS="200")
    out = subprocess.run([sys.executable, "-m", "segmatte.server.cli", "doctor"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    text = out.stdout
    for word in ("ffmpeg", "OpenImageIO", "auth token", "server", "Blender", "Resolve"):
        assert word in text
    assert f"answers at {server.address}" in text


def test_doctor_without_a_server_says_so_without_waiting_it_out(monkeypatch) -> None:
    """Nothing listens at the address: a plain TCP connect is refused at once, so the
    doctor says so instead of waiting out the ZeroMQ connect's timeout."""
    from segmatte.server.commands.doctor import check_server, listening

    address = f"tcp://127.0.0.1:{free_port()}"
    assert not listening(address)
    monkeypatch.setenv("SEGMATTE_ADDRESS", address)
    check = check_server()
    assert check.status == "warn" and check.detail == f"nothing listens at {address}"
    assert "segmatte serve" in check.todo
