"""``segmatte matte --engine track`` end to end, offline, from the local model cache.

A tiny randomly initialised SAM 2 video model of the real transformers class is
saved where the catalog's ``sam2.1-tiny`` lives in the Hugging Face cache
layout; the real CLI then finds it with no network. The point of the test is
the path around the model: prompt flags → job spec → frame order for each
direction → EXRs and per-frame scores in the manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "segmatte.server.cli"]




def run(hub, *args):
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)


def scores(folder):
    manifest = json.loads(next(folder.glob("*.manifest.json")).read_text())
    return {f["number"]: f["scores"] for f in manifest["frames"]}


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_track_directions_from_a_keyframe(hub, green_screen_clip, tmp_path, direction):
    out = tmp_path / direction
    r = run(hub, "matte", green_screen_clip, "--engine", "track", "--range", "0-9",
            "--point", "80,60@5:disc", "--box", "50,30,110,90@5:disc", "--direction", direction,
            "--out", out, "--name", "t")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.exr")) == [f"t.{n:04d}.exr" for n in range(10)]
    got = scores(out)
    tracked = {"forward": range(5, 10), "backward": range(0, 6), "both": range(0, 10)}[direction]
    for n in range(10):
        # frames the tracker reached carry the model's object score; the others
        # were never reached from the keyframe and are empty with score 0
        reached = got[n]["disc"] > 0
        assert reached == (n in tracked), (direction, n, got[n])


def test_missing_model_fails_at_the_door_with_the_pull_command(green_screen_clip, tmp_path):
    r = run(tmp_path / "empty-hub", "matte", green_screen_clip, "--engine", "track",
            "--model", "sam2.1-small", "--point", "10,10@0", "--out", tmp_path / "o")
    assert r.returncode != 0
    assert "segmatte models pull sam2.1-small" in r.stderr
    assert not (tmp_path / "o").exists()


def test_bad_prompt_syntax_is_one_sentence(green_screen_clip, tmp_path, hub):
    r = run(hub, "matte", green_screen_clip, "--engine", "track", "--point", "80;60",
            "--out", tmp_path / "o")
    assert r.returncode == 2
    assert "X,Y@FRAME" in r.stderr and "Traceback" not in r.stderr
