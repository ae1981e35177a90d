"""What a newcomer reads at an 80-column terminal: short, true, and names you can type."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import clipgen

from segmatte.server.journal import Journal


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(env or os.environ, COLUMNS="80")
    return subprocess.run([sys.executable, "-m", "segmatte.server.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_probe_summarises_instead_of_printing_every_frame_time(tmp_path: Path) -> None:
    clip = clipgen.write_green_screen_clip(tmp_path / "c.mp4", 60, 64, 48)
    run = cli("probe", clip)
    assert run.returncode == 0, run.stderr
    assert "0-59 (60 frames)" in run.stdout and "60 indexed" in run.stdout
    assert len(run.stdout.splitlines()) < 20
    full = json.loads(cli("probe", clip, "--json").stdout)
    assert len(full["frame_times"]) == 60  # every time is still there for a program


def test_a_gap_shows_in_probe_with_the_option_that_holds_it(tmp_path: Path) -> None:
    frames = [clipgen.green_screen(n, 32, 24)[0] for n in range(4)]
    clipgen.write_sequence(tmp_path, "p", [1, 2, 4, 5], frames)
    run = cli("probe", str(tmp_path / "p.####.exr"))
    assert run.returncode == 0 and "1 frame: 3" in run.stdout and "--hold-gaps" in run.stdout


def test_models_list_never_cuts_a_name_at_80_columns() -> None:
    from segmatte.models.weights import catalog

    run = cli("models", "list")
    assert run.returncode == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= 80
    for entry in catalog.entries():
        assert entry.name in run.stdout, entry.name


def test_models_list_says_where_the_person_weights_come_from(tmp_path: Path) -> None:
    from segmatte.models.person.weights import assets_root

    rows = json.loads(cli("models", "list", "--json").stdout)
    rvm = next(r for r in rows if r["name"] == "rvm-mobilenetv3")
    if (assets_root() / "rvm").is_dir() and not rvm["pulled"]:
        assert rvm["usable"] and rvm["path"] and Path(rvm["path"]).exists()
    else:
        assert rvm["usable"] == rvm["pulled"]


def test_jobs_fit_one_line_each_at_80_columns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    journal = Journal(data / "journal.sqlite3")
    long = "/a/very/long/path/to/the/shots/of/the/show/a010"
    journal.add_job("3f9a0c2b7d11", {"source": f"{long}/plate.####.exr", "engine": "track",
                                     "output": {"folder": f"{long}/mattes/hero"}}, 0, None)
    journal.add_job("4f9a0c2b7d12", {"source": f"{long}/clip.mov", "engine": "key",
                                     "output": {"folder": f"{long}/out"}}, 0, None)
    journal.set_state("4f9a0c2b7d12", "failed", error="frame 42 of clip.mov could not be "
                      "decoded; the file is damaged there")
    journal.close()
    run = cli("jobs", env=dict(os.environ, SEGMATTE_DATA_DIR=str(data)))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    row = [line for line in lines if "3f9a0c2b7d11" in line]
    assert len(row) == 1 and "a010/plate.####.exr" in row[0]  # one line, not a six-line cell
    assert any("4f9a0c2b7d12" in line and "frame 42" in line for line in lines)


def test_doctor_does_not_advise_a_cuda_build_to_a_cuda_build() -> None:
    import torch

    from segmatte.server.commands.doctor import check_torch, check_torch_loaded

    for check in (check_torch(), check_torch_loaded()):  # looked at, and loaded (--torch)
        assert torch.__version__ in check.detail
        if torch.cuda.is_available():
            assert check.status == "ok" and "CUDA" in check.detail
        elif torch.version.cuda:  # a CUDA build without a visible GPU: the driver is the thing
            assert "install a CUDA build" not in check.todo and "nvidia-smi" in check.todo
        else:
            assert "install a CUDA build" in check.todo
