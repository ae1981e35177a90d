"""The foreground layer: real jobs on real footage write the subject's colour as
an RGBA premultiplied EXR beside the matte, with the matte's own alpha.

Person engine: ``segmatte matte vtest.avi --engine person --foreground`` (the
RVM TF.js weights of the test assets). Key engine: real Megamind.avi frames
with exact alpha composited over an unevenly lit, grainy green screen with
spill (tests/mattegen.py), written as H.264 and keyed by ``run_job``. Both
skip, saying how to get the assets, when these are absent.
"""

from __future__ import annotations

import json
import subprocess
import sys

import clipgen
import mattegen
import numpy as np
import pytest

from segmatte.server.media import probe, read_frame
from segmatte.server.media.colour import display_to_linear
from segmatte.server.output.exr import file_sha256, matte_header, read_matte
from segmatte.server.output.foreground import read_foreground
from segmatte.server.output.manifest import load_manifest
from segmatte.server.pipeline import run_job
from segmatte.server.spec import parse_spec

CLI = [sys.executable, "-m", "segmatte.server.cli"]


def _needs_rvm() -> None:
    if mattegen.rvm_weights() is None:
        pytest.skip("RVM test weights absent; run python3 install/test_assets.py")


def _check_pair(folder, name: str, number: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame's foreground and matte: premultiplied, the same alpha, headers alike."""
    matte_path = folder / f"{name}.{number:04d}.exr"
    fg_path = folder / f"{name}_foreground.{number:04d}.exr"
    rgba = read_foreground(fg_path)
    alpha, meta = read_matte(matte_path)
    assert rgba.shape == (*alpha.shape, 4)
    np.testing.assert_array_equal(rgba[..., 3], alpha)  # the matte's alpha, bit for bit (half)
    assert np.all(rgba[..., :3] <= rgba[..., 3:4])  # premultiplied (video: colour ≤ 1)
    assert np.all(rgba[..., :3] >= 0)
    assert np.all(rgba[..., :3][alpha == 0] == 0)
    fg_meta = matte_header(fg_path)
    assert fg_meta is not None and fg_meta["layer"] == "foreground"
    assert fg_meta["premultiplied"] == 1
    for key in ("engine", "frame", "job", "settings", "source", "version"):
        assert fg_meta[key] == meta[key], key
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir())
    return rgba, alpha


def _check_manifest(folder, name: str, numbers: range) -> None:
    manifest = load_manifest(folder / f"{name}.manifest.json")
    assert manifest.layers == ["matte"]  # hosts attach mattes; the foreground rides along
    for n in numbers:
        record = manifest.frame(n)
        assert record is not None and set(record.files) == {"matte", "foreground"}
        f = record.files["foreground"]
        assert f.path == f"{name}_foreground.{n:04d}.exr"
        assert f.sha256 == file_sha256(folder / f.path)


def test_person_job_writes_the_premultiplied_foreground(vtest_avi, tmp_path):
    _needs_rvm()
    out = tmp_path / "out"
    r = subprocess.run([*CLI, "matte", str(vtest_avi), "--engine", "person", "--range", "100-102",
                        "--out", str(out), "--name", "vt", "--foreground", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.splitlines()[-1])
    assert done["type"] == "done" and done["written"] == 3
    _check_manifest(out, "vt", range(100, 103))
    media = probe(str(vtest_avi))
    for n in range(100, 103):
        rgba, alpha = _check_pair(out, "vt", n)
        assert 0.002 < (alpha > 0.5).mean() < 0.15  # the walkers, not everything or nothing
        # Where the matte is solid, RVM's foreground is the picture itself (in linear light).
        solid = alpha == 1
        picture = display_to_linear(read_frame(media, n).image, linear_source=False)
        assert solid.sum() > 500
        assert np.abs(rgba[..., :3][solid] - picture[solid]).mean() < 0.05

    # Resume: a lost foreground file is made again, and only that frame is written.
    (out / "vt_foreground.0101.exr").unlink()
    r = subprocess.run([*CLI, "matte", str(vtest_avi), "--engine", "person", "--range", "100-102",
                        "--out", str(out), "--name", "vt", "--foreground", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.splitlines()[-1])
    assert done["written"] == 1 and done["skipped"] == 2
    _check_pair(out, "vt", 101)
    _check_manifest(out, "vt", range(100, 103))


def test_key_job_writes_the_despilled_premultiplied_foreground(tmp_path, test_asset):
    test_asset("Megamind.avi")
    _needs_rvm()
    plates = mattegen.subject_plates("Megamind.avi", 100, 3, (272, 352), strands=8,
                                     crop=mattegen.MEGAMIND_HERO)
    assert plates is not None
    comps = mattegen.green_screen_composites(plates)
    clip = clipgen.write_video(tmp_path / "gs.mp4",
                               (np.round(c.image * 255).astype(np.uint8) for c in comps),
                               pix_fmt="yuv444p", crf=8)
    out = tmp_path / "out"
    spec = parse_spec({"source": clip, "engine": "key", "options": {"foreground": True},
                       "finish": {"choke": 0.5},
                       "output": {"folder": str(out), "name": "gs"}})
    result = run_job(spec, job_id="fg", device="cpu")
    assert result.type == "done", result
    _check_manifest(out, "gs", range(0, 3))
    for n, comp in enumerate(comps):
        rgba, alpha = _check_pair(out, "gs", n)  # alpha after finishing (the choke), as written
        core = (alpha == 1) & (comp.alpha > 0.999)
        assert core.sum() > 0.2 * core.size
        # the subject's own colour in its core, despilled at its soft edge
        assert np.abs(rgba[..., :3][core] - comp.fg[core]).mean() < 0.06
        edge = (alpha > 0.1) & (alpha < 0.9)
        assert edge.sum() > 100
        rgb = rgba[..., :3][edge]
        assert np.mean(rgb[:, 1] > np.maximum(rgb[:, 0], rgb[:, 2]) + 0.02) < 0.1


def test_foreground_needs_a_single_matte_and_an_engine_that_makes_one(tmp_path, h264_clip):
    from segmatte.server.pipeline import check_job
    from segmatte.server.spec import SpecError

    with pytest.raises(Exception, match="screen keyer"):
        check_job(parse_spec({"source": str(h264_clip), "engine": "key",
                              "options": {"foreground": True, "keyer": "simple"},
                              "output": {"folder": str(tmp_path), "name": "x"}}))
    with pytest.raises(SpecError, match="foreground"):
        check_job(parse_spec({"source": str(h264_clip), "engine": "key",
                              "options": {"foreground": "yes please"},
                              "output": {"folder": str(tmp_path), "name": "x"}}))
