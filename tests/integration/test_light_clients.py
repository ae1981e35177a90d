"""The client commands never import torch (issue #18: light clients).

Each command runs through the CLI's real ``main`` in a fresh interpreter
(tests/integration/clientprobe.py), against a real ``segmatte serve`` where it
needs one, and must succeed with ``torch`` absent from ``sys.modules``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clientprobe import run_client
from serverkit import SHORT_FRAMES, ServerProcess


@pytest.fixture
def env(server: ServerProcess) -> dict[str, str]:
    return {**server.env, "SEGMATTE_ADDRESS": server.address}


def light(args: list[str], env: dict[str, str]) -> None:
    probe = run_client(args, env)
    assert probe.rc == 0, f"segmatte {' '.join(args)} failed:\n{probe.stderr[-2000:]}"
    assert probe.heavy == (), f"segmatte {args[0]} imported {', '.join(probe.heavy)}"


def test_matte_through_the_server_does_not_import_torch(env: dict[str, str], clips: dict[str, str],
                                                        tmp_path: Path) -> None:
    light(["matte", clips["short"], "--out", str(tmp_path / "out"), "--server"], env)
    assert len(list((tmp_path / "out").glob("*.exr"))) == SHORT_FRAMES  # the server did the work


def test_batch_through_the_server_does_not_import_torch(env: dict[str, str], clips: dict[str, str],
                                                        tmp_path: Path) -> None:
    shots = tmp_path / "shots.csv"
    shots.write_text(f"source,name,in,out\n{clips['short']},a,,\n{clips['long']},b,2,6\n")
    light(["batch", str(shots), "--out", str(tmp_path / "out"), "--json"], env)
    assert len(list((tmp_path / "out").rglob("*.exr"))) == SHORT_FRAMES + 5


def test_probe_models_doctor_jobs_do_not_import_torch(env: dict[str, str],
                                                      clips: dict[str, str]) -> None:
    light(["probe", clips["short"]], env)
    light(["models", "list"], env)
    light(["jobs"], env)
    doctor = run_client(["doctor"], env)
    assert doctor.rc in (0, 1) and doctor.heavy == (), doctor.stderr[-2000:]
    assert "compute device" in doctor.stdout or "torch" in doctor.stdout


def test_doctor_torch_loads_torch_when_asked(env: dict[str, str]) -> None:
    """The control: the probe does see torch when a command imports it."""
    doctor = run_client(["doctor", "--torch"], env)
    assert "torch" in doctor.heavy
