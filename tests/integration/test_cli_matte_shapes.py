"""Shapes as a job option: ``segmatte matte … --shapes fusion,json`` (real CLI, real EXRs).

The shapes are written after the job's mattes, beside them under the job's
name, from the mattes on disk; they do not change the job's identity, so
asking for them on a finished job skips every matte and writes only shapes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

CLI = [sys.executable, "-m", "segmatte.server.cli"]


def segmatte(*args, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_shapes_option_writes_fusion_and_json_beside_the_mattes(green_screen_clip, tmp_path):
    import clipgen

    out = tmp_path / "m"
    r = segmatte("matte", green_screen_clip, "--engine", "key", "--range", "3-7", "--out", out,
                 "--name", "gs", "--shapes", "fusion,json", "--json")
    assert r.returncode == 0, r.stderr
    names = {p.name for p in out.iterdir()}
    assert {"gs.setting", "gs.shapes.json", "gs.shapes-manifest.json", "gs.manifest.json"} <= names
    shapes = json.loads((out / "gs.shapes.json").read_text())
    assert (shapes["first"], shapes["last"]) == (3, 7)
    (obj,) = shapes["objects"]
    # the disc's outline: points at its true radius around its true centre on frame 5
    _, alpha = clipgen.green_screen(5)
    ys, xs = np.nonzero(alpha > 0.5)
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    radius = np.sqrt((alpha > 0.5).sum() / np.pi)
    pts = np.array([p["co"] for s in obj["frames"]["5"] for p in s["points"]])
    dist = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy)
    assert np.abs(dist - radius).max() < 1.5
    manifest = json.loads((out / "gs.shapes-manifest.json").read_text())
    assert manifest["quality"][obj["name"]]["iou_min"] >= 0.95
    setting = (out / "gs.setting").read_text()
    assert "PolylineMask" in setting or "BSplineMask" in setting


def test_shapes_on_a_finished_job_skip_the_mattes(green_screen_clip, tmp_path):
    out = tmp_path / "m"
    r = segmatte("matte", green_screen_clip, "--engine", "key", "--range", "3-5", "--out", out,
                 "--name", "gs", "--json")
    assert r.returncode == 0, r.stderr
    assert not (out / "gs.shapes.json").exists()
    r = segmatte("matte", green_screen_clip, "--engine", "key", "--range", "3-5", "--out", out,
                 "--name", "gs", "--shapes", "blender", "--json")
    assert r.returncode == 0, r.stderr
    done = [json.loads(line) for line in r.stdout.splitlines() if '"done"' in line][-1]
    assert (done["written"], done["skipped"]) == (0, 3)
    assert (out / "gs.shapes.json").is_file()


def test_unknown_shapes_format_is_refused_at_the_door(green_screen_clip, tmp_path):
    r = segmatte("matte", green_screen_clip, "--engine", "key", "--out", tmp_path / "m",
                 "--shapes", "fusion,maya")
    assert r.returncode == 2
    assert "shapes" in r.stderr and "maya" in r.stderr
    assert not (tmp_path / "m").exists()
