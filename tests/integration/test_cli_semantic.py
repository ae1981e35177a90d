"""``segmatte matte --engine semantic --classes …``: one sequence per class, offline.

A tiny randomly initialised SegFormer of the real transformers class is saved
as a checkpoint folder (the engine takes a folder as its model); the real CLI
runs it over a generated clip. What is under test is the path around the
model: classes → layers known at the door → one EXR sequence per class →
the manifest listing them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tiny_semantic import save_checkpoint, segformer

from segmatte.server.output.exr import read_matte
from segmatte.server.output.layers_exr import read_layers

CLI = [sys.executable, "-m", "segmatte.server.cli"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model, processor = segformer(contrast=6.0)
    return save_checkpoint(model, processor, tmp_path_factory.mktemp("segformer"))


def run(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_one_sequence_per_class(checkpoint, green_screen_clip, tmp_path):
    r = run("matte", green_screen_clip, "--engine", "semantic", "--model", checkpoint,
            "--classes", "sky,person,vehicle", "--range", "0-2", "--out", tmp_path, "--name", "s")
    assert r.returncode == 0, r.stderr
    for layer in ("sky", "person", "vehicle"):
        files = sorted(p.name for p in tmp_path.glob(f"s_{layer}.*.exr"))
        assert files == [f"s_{layer}.{n:04d}.exr" for n in range(3)]
    sky, meta = read_matte(tmp_path / "s_sky.0001.exr")
    assert sky.shape == (120, 160) and meta["layer"] == "sky"
    total = sum(read_matte(tmp_path / f"s_{c}.0001.exr")[0] for c in ("sky", "person", "vehicle"))
    assert float(total.max()) <= 1.0 + 1e-3  # probabilities of disjoint classes, not argmax masks
    manifest = json.loads((tmp_path / "s.manifest.json").read_text())
    assert manifest["layers"] == ["sky", "person", "vehicle"]


def test_classes_as_channels_of_one_exr_per_frame(checkpoint, green_screen_clip, tmp_path):
    r = run("matte", green_screen_clip, "--engine", "semantic", "--model", checkpoint,
            "--classes", "sky,person", "--range", "0-1", "--layers", "channels",
            "--out", tmp_path, "--name", "c")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.glob("*.exr")) == ["c.0000.exr", "c.0001.exr"]
    layers, meta = read_layers(tmp_path / "c.0001.exr")
    assert list(layers) == ["sky", "person"] and layers["sky"].shape == (120, 160)
    assert meta["frame"] == 1
    manifest = json.loads((tmp_path / "c.manifest.json").read_text())
    files = manifest["frames"][1]["files"]
    assert files["sky"]["path"] == files["person"]["path"] == "c.0001.exr"
    # resume: the shared file is complete, nothing is rewritten
    again = run("matte", green_screen_clip, "--engine", "semantic", "--model", checkpoint,
                "--classes", "sky,person", "--range", "0-1", "--layers", "channels",
                "--out", tmp_path, "--name", "c", "--json")
    assert json.loads(again.stdout.splitlines()[-1])["skipped"] == 2


def test_unknown_class_fails_at_the_door(checkpoint, green_screen_clip, tmp_path):
    r = run("matte", green_screen_clip, "--engine", "semantic", "--model", checkpoint,
            "--classes", "skye", "--out", tmp_path / "o")
    assert r.returncode == 2 and "sky" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()
