"""Multi-channel EXR (one ``<class>.A`` channel per layer): written, read back by OpenImageIO."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from segmatte.server.output.exr import SNAP, is_complete, is_ours
from segmatte.server.output.layers_exr import channel_name, read_layers, write_layers

HALF_STEP = 1e-3


def layers(h: int = 48, w: int = 64) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.clip(1.5 - yy / (h / 2), 0, 1)
    person = np.clip((10 - np.hypot(xx - w / 2, yy - h / 2)) / 4 + 0.5, 0, 1)
    vehicle = np.zeros((h, w), np.float32)
    return {"sky": sky, "person": person, "vehicle": vehicle}


def test_round_trip_through_openimageio(tmp_path: Path) -> None:
    path = tmp_path / "shot.1001.exr"
    src = layers()
    digest = write_layers(path, src, metadata={"engine": "semantic", "frame": 1001})
    assert len(digest) == 64
    inp = oiio.ImageInput.open(str(path))
    try:
        spec = inp.spec()
        assert sorted(spec.channelnames) == ["person.A", "sky.A", "vehicle.A"]
        assert spec.format == oiio.HALF
        assert spec.get_string_attribute("compression") == "zip"
        assert spec.get_string_attribute("segmatte/engine") == "semantic"
        assert spec.get_int_attribute("segmatte/frame") == 1001
    finally:
        inp.close()
    back, meta = read_layers(path)
    assert list(back) == ["sky", "person", "vehicle"]  # the writer's order, not EXR's sorted one
    assert meta["engine"] == "semantic" and meta["layers"] == "sky,person,vehicle"
    for name, a in src.items():
        assert back[name].shape == a.shape and back[name].dtype == np.float32
        assert np.abs(back[name] - a).max() <= HALF_STEP + SNAP


def test_float_is_exact_after_clamp_and_snap(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(-0.2, 1.2, (16, 24)).astype(np.float32)
    a[0, 0] = np.nan
    write_layers(tmp_path / "f.exr", {"sky": a}, datatype="float", compression="piz")
    back, _ = read_layers(tmp_path / "f.exr")
    expect = np.clip(np.nan_to_num(a, nan=0.0), 0, 1)
    expect[expect < SNAP] = 0
    expect[expect > 1 - SNAP] = 1
    np.testing.assert_array_equal(back["sky"], expect)


def test_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "shot.0001.exr"
    write_layers(path, layers())
    write_layers(path, {"sky": np.ones((48, 64), np.float32)})
    back, _ = read_layers(path)
    assert list(back) == ["sky"] and back["sky"].min() == 1.0
    assert os.listdir(tmp_path) == ["shot.0001.exr"]


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.exr"
    with pytest.raises(ValueError, match="not"):
        write_layers(path, {"sky": np.zeros((4, 4)), "person": np.zeros((4, 5))})
    with pytest.raises(ValueError, match="no dots"):
        write_layers(path, {"traffic light": np.zeros((4, 4))})
    with pytest.raises(ValueError, match="no layers"):
        write_layers(path, {})
    assert os.listdir(tmp_path) == []


def test_channel_names() -> None:
    assert channel_name("traffic_light") == "traffic_light.A"
    with pytest.raises(ValueError):
        channel_name("a.b")


def test_resume_checks_recognise_a_layers_file(tmp_path: Path) -> None:
    """The pipeline's resume checks (ours? complete for this job?) work on layer files too."""
    path = tmp_path / "shot.0001.exr"
    write_layers(path, layers(), metadata={"job": "0123abcd"})
    assert is_ours(path) and is_complete(path, "0123abcd") and not is_complete(path, "other")
    path.write_bytes(path.read_bytes()[:-200])  # truncated: rewritten on resume
    assert not is_complete(path, "0123abcd")
