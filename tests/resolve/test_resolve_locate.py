"""The scripts in a host Python that has neither pyzmq nor segmatte (``python -S``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from resolvekit import HERE, LAUNCHER

from segmatte.server.installers import resolve as installer

RUN_TIMEOUT = 180
"""Bounds a hang only."""


def run_host(script: Path, args: dict, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-S", str(HERE / "host_run.py"),
                          json.dumps({**args, "script": str(script)})],
                         capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bare_python_finds_pyzmq_and_the_vendored_client(green_clip: str, resolve_server,
                                                         scripts: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": ""}
    got = run_host(scripts / "Utility" / LAUNCHER,
                   {"clip": green_clip, "w": 64, "h": 48, "frames": 12, "duration": 4,
                    "folder": str(tmp_path / "m"),
                    "reading": {"append_start": "file", "append_end": "exclusive"}}, env)
    assert "on a new track" in got["status"], got
    assert got["client"].startswith(str(scripts / installer.SUPPORT / "vendor")), got
    notes = json.loads((scripts / installer.SUPPORT / installer.PATHS_FILE).read_text())
    assert any(got["zmq"].startswith(p) for p in notes["site_packages"]), got
    assert got["import"] == [[[{"FilePath": str(tmp_path / "m" / "green_key.%04d.exr"),
                                "StartIndex": 0, "EndIndex": 3}]]]
    # the first reading tried (0-3, inclusive) placed 3 frames; read back, undone, corrected
    assert got["append"][-1] == [{"startFrame": 0, "endFrame": 4, "mediaType": 1,
                                  "trackIndex": 2, "recordFrame": 86400}]


def test_without_pyzmq_anywhere_the_artist_is_told_what_to_do(green_clip: str, resolve_server,
                                                              tmp_path: Path) -> None:
    scripts = installer.scripts_dir("linux", tmp_path / "home")
    installer.install(scripts)
    (scripts / installer.SUPPORT / installer.PATHS_FILE).unlink()
    env = {**os.environ, "PYTHONPATH": "", "PATH": "/nonexistent"}
    got = run_host(scripts / "Utility" / LAUNCHER,
                   {"clip": green_clip, "w": 64, "h": 48, "frames": 12, "duration": 4,
                    "folder": str(tmp_path / "m")}, env)
    assert got["message"].startswith("pyzmq does not load in this Python"), got
    assert f"{sys.executable} -m pip install --user pyzmq" in got["message"]
    assert got["import"] == [] and got["zmq"] is None


def _other_pythons() -> list[tuple[str, str]]:
    """``SEGMATTE_RESOLVE_PYTHONS="/py3.13:/zmq313,/py3.8:/zmq38"``: interpreters standing in
    for Resolve's, each with a folder holding pyzmq built for it (``pip install --target``)."""
    pairs = []
    for entry in filter(None, os.environ.get("SEGMATTE_RESOLVE_PYTHONS", "").split(",")):
        python, _, zmq_dir = entry.partition(":")
        pairs.append((python, zmq_dir))
    return pairs


@pytest.mark.parametrize("python, zmq_dir", _other_pythons() or [
    pytest.param("", "", marks=pytest.mark.skip(reason="set SEGMATTE_RESOLVE_PYTHONS to run"))])
def test_the_scripts_under_another_host_python(python: str, zmq_dir: str, green_clip: str,
                                               resolve_server, scripts: Path,
                                               tmp_path: Path) -> None:
    """Resolve may run 3.8 ... 3.13: the whole flow in that Python, with its own pyzmq."""
    env = {**os.environ, "PYTHONPATH": zmq_dir}
    out = subprocess.run([python, str(HERE / "host_run.py"), json.dumps({
        "clip": green_clip, "w": 64, "h": 48, "frames": 12, "duration": 4,
        "folder": str(tmp_path / "m"), "script": str(scripts / "Utility" / LAUNCHER)})],
        capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "on a new track" in got["status"], got
    assert got["zmq"].startswith(zmq_dir) and "vendor" in got["client"], got
