"""``segmatte matte --engine text --text "..."@FRAME`` end to end, offline.

A tiny random SAM 3 checkpoint (real transformers classes) sits where the
catalog's ``sam3`` lives in a Hugging Face cache; the real CLI finds it with no
network. What is checked is the path around the model: the ``--text`` flag →
job spec → layers planned before the first frame (``<label>_1..N`` + union) →
one EXR sequence per instance, empty layers flagged in the manifest; and the
door: a missing model, or text on an engine that cannot take it, fails before
anything is made, with what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "segmatte.server.cli"]


@pytest.fixture(scope="module")
def text_hub(tmp_path_factory):
    from tiny_text import save_to_hub

    return save_to_hub(tmp_path_factory.mktemp("text-hub"))


def run(hub, *args):
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1",
           "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing may be fetched
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_text_flow_from_the_cli(text_hub, green_screen_clip, tmp_path):
    out = tmp_path / "o"
    r = run(text_hub, "matte", green_screen_clip, "--engine", "text", "--range", "0-9",
            "--text", "green disc@5", "--direction", "both", "--set", "detection_threshold=0.68",
            "--set", "max_instances=5", "--set", "nms_iou=1", "--set", "union=true",
            "--out", out, "--name", "t")
    assert r.returncode == 0, r.stderr
    layers = [f"disc_{i}" for i in range(1, 6)] + ["disc"]
    for layer in layers:
        assert sorted(p.name for p in out.glob(f"t_{layer}.*.exr")) == [
            f"t_{layer}.{n:04d}.exr" for n in range(10)]
    manifest = json.loads(next(out.glob("*.manifest.json")).read_text())
    assert manifest["layers"] == layers
    frames = {f["number"]: f for f in manifest["frames"]}
    assert sorted(frames) == list(range(10))
    # the keyframe's instances are there; an instance slot never found is flagged empty
    key = frames[5]
    assert key["scores"]["disc_1"] > 0.5 and "disc_1" not in key.get("flags", {})
    found = [x for x in layers[:5] if "empty" not in key.get("flags", {}).get(x, [])]
    assert 0 < len(found) < 5 and found == layers[:len(found)]
    assert all("empty" in f.get("flags", {}).get(x, []) for f in frames.values()
               for x in layers[len(found):5])


def test_missing_model_fails_at_the_door_with_the_pull_command(green_screen_clip, tmp_path):
    r = run(tmp_path / "empty-hub", "matte", green_screen_clip, "--engine", "text",
            "--text", "person@0", "--out", tmp_path / "o")
    assert r.returncode != 0
    assert "segmatte models pull sam3 --accept-licence" in r.stderr
    assert not (tmp_path / "o").exists()


def test_text_on_the_track_engine_fails_at_the_door(green_screen_clip, tmp_path):
    r = run(tmp_path / "empty-hub", "matte", green_screen_clip, "--engine", "track",
            "--text", "person@0", "--out", tmp_path / "o")
    assert r.returncode == 2, r.stderr
    assert "not text" in r.stderr and "--engine text" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()


def test_text_on_the_track_engine_is_refused_before_queueing(green_screen_clip, tmp_path):
    from segmatte.server.pipeline import check_job
    from segmatte.server.spec import SpecError, parse_spec

    spec = parse_spec({"source": str(green_screen_clip), "engine": "track",
                       "objects": [{"id": "car", "keyframes": [{"frame": 0, "text": "car"}]}],
                       "output": {"folder": str(tmp_path / "o"), "name": "t"}})
    with pytest.raises(SpecError, match="not text"):
        check_job(spec)


def test_bad_text_flag_is_one_sentence(text_hub, green_screen_clip, tmp_path):
    r = run(text_hub, "matte", green_screen_clip, "--engine", "text", "--text", "person",
            "--out", tmp_path / "o")
    assert r.returncode == 2
    assert "expected TEXT@FRAME" in r.stderr and "Traceback" not in r.stderr


def test_the_sam3_licence_is_opt_in_and_printed_before_any_fetch(tmp_path):
    r = run(tmp_path / "hub", "models", "pull", "sam3")
    assert r.returncode != 0
    assert "SAM License" in r.stderr and "--accept-licence" in r.stderr
    assert not (tmp_path / "hub").exists()


def test_the_server_refuses_text_on_the_track_engine_before_queueing(client, clips, tmp_path):
    from segmatte.client.client import ClientError

    spec = {"source": clips["short"], "engine": "track", "output": {"folder": str(tmp_path / "o")},
            "objects": [{"id": "car", "keyframes": [{"frame": 0, "text": "red car"}]}]}
    with pytest.raises(ClientError) as err:
        client.submit(spec)
    assert "not text" in str(err.value) and "--engine text" in str(err.value)
    assert client.jobs() == [] and not (tmp_path / "o").exists()
