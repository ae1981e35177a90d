"""The scripts in a host Python that has neither pyzmq nor segmatte (``python -S``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
                    "folder": str(tmp_path / "m")}, env)
    assert "on a new track" in got["status"], got
    assert got["client"].startswith(str(scripts / installer.SUPPORT / "vendor")), got
    notes = json.loads((scripts / installer.SUPPORT / installer.PATHS_FILE).read_text())
    assert any(got["zmq"].startswith(p) for p in notes["site_packages"]), got
    assert got["import"] == [[[{"FilePath": str(tmp_path / "m" / "green_key.%04d.exr"),
                                "StartIndex": 0, "EndIndex": 3}]]]
    assert got["append"] == [[{"startFrame": 0, "endFrame": 3, "mediaType": 1,
                               "trackIndex": 2, "recordFrame": 86400}]]


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
