"""``segmatte matte vtest.avi --engine person``: real footage, real weights, offline.

Needs the test assets (vtest.avi and the RVM TF.js weights from
install/test_assets.py); skips saying so when they are absent.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from segmatte.models.person.weights import resolve_weights
from segmatte.server.output.exr import read_matte

CLI = [sys.executable, "-m", "segmatte.server.cli"]


def test_person_engine_on_real_footage(vtest_avi, tmp_path):
    try:
        resolve_weights()
    except Exception as exc:  # no weights here: say how to get them
        pytest.skip(f"RVM weights absent ({exc}); run python3 install/test_assets.py")
    r = subprocess.run([*CLI, "matte", str(vtest_avi), "--engine", "person", "--range", "100-104",
                        "--out", str(tmp_path), "--name", "vt", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.glob("*.exr")) == [f"vt.{n:04d}.exr" for n in range(100, 105)]
    alpha, meta = read_matte(tmp_path / "vt.0102.exr")
    assert alpha.shape == (576, 768) and meta["engine"] == "person" and meta["frame"] == 102
    # people are a small part of this wide shot: some clear foreground, mostly clear background
    assert 0.002 < (alpha > 0.5).mean() < 0.15
    assert (alpha < 0.05).mean() > 0.8
    done = json.loads(r.stdout.splitlines()[-1])
    assert done["type"] == "done" and done["written"] == 5
