"""``segmatte matte`` end to end: the real CLI in a subprocess, real ffmpeg, real EXRs.

A generated green-screen clip with exact ground-truth alpha is keyed; the EXR
sequence must carry the source frame numbers, the documented channels, a
manifest with true checksums, and survive interruption and resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import clipgen
import numpy as np
import OpenImageIO as oiio
import pytest

CLI = [sys.executable, "-m", "segmatte.server.cli"]


def segmatte(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def read_exr(path: Path) -> tuple[np.ndarray, list[str], oiio.ImageSpec]:
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    spec = inp.spec()
    pixels = inp.read_image(0, 0, 0, spec.nchannels, "float")
    inp.close()
    return pixels, list(spec.channelnames), spec


def exr_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".exr")


def test_keys_green_screen_with_source_numbers_and_manifest(green_screen_clip, tmp_path):
    out = tmp_path / "mattes"
    r = segmatte("matte", green_screen_clip, "--engine", "key", "--range", "5-14",
                 "--out", out, "--name", "gs")
    assert r.returncode == 0, r.stderr
    assert exr_files(out) == [f"gs.{n:04d}.exr" for n in range(5, 15)]
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"

    for n in (5, 9, 14):
        pixels, channels, spec = read_exr(out / f"gs.{n:04d}.exr")
        assert channels == ["R", "G", "B", "A"]
        assert spec.format == oiio.TypeDesc("half")
        assert spec.get_string_attribute("compression").startswith("zip")
        assert spec.get_int_attribute("segmatte/frame") == n
        assert spec.get_string_attribute("segmatte/engine") == "key"
        alpha = pixels[..., 3]
        for c in range(3):
            np.testing.assert_array_equal(pixels[..., c], alpha)
        truth = clipgen.green_screen(n, green_screen_clip.width, green_screen_clip.height)[1]
        assert np.abs(alpha - truth).mean() < 0.03
        assert alpha[truth == 1].min() > 0.9 and alpha[truth == 0].max() < 0.1

    manifest = json.loads((out / "gs.manifest.json").read_text())
    frames = manifest["frames"]
    assert [f["number"] for f in frames] == list(range(5, 15))
    for record in frames:
        for entry in record["files"].values():
            data = (out / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]


@pytest.mark.parametrize("layout, channels", [("y", ["Y"]), ("a", ["A"])])
def test_single_channel_layouts(green_screen_clip, tmp_path, layout, channels):
    r = segmatte("matte", green_screen_clip, "--range", "3-4", "--out", tmp_path, "--name", "m",
                 "--channels", layout)
    assert r.returncode == 0, r.stderr
    pixels, names, _ = read_exr(tmp_path / "m.0003.exr")
    assert names == channels
    truth = clipgen.green_screen(3, green_screen_clip.width, green_screen_clip.height)[1]
    assert np.abs(pixels[..., 0] - truth).mean() < 0.03


def test_finishing_flags_change_the_matte(green_screen_clip, tmp_path):
    r = segmatte("matte", green_screen_clip, "--range", "2-2", "--out", tmp_path, "--name", "inv",
                 "--invert")
    assert r.returncode == 0, r.stderr
    pixels, _, _ = read_exr(tmp_path / "inv.0002.exr")
    truth = clipgen.green_screen(2, green_screen_clip.width, green_screen_clip.height)[1]
    assert np.abs(pixels[..., 3] - (1 - truth)).mean() < 0.03


def test_resume_skips_whole_frames_and_rewrites_missing(green_screen_clip, tmp_path):
    args = ("matte", green_screen_clip, "--range", "0-11", "--out", tmp_path, "--name", "r", "--json")
    assert segmatte(*args).returncode == 0
    kept = tmp_path / "r.0004.exr"
    stamp = kept.stat().st_mtime_ns
    (tmp_path / "r.0007.exr").unlink()
    broken = tmp_path / "r.0008.exr"  # ours, but its pixels cut short: not 'complete'
    broken.write_bytes(broken.read_bytes()[:-200])
    r = segmatte(*args)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    written = sorted(e["frame"] for e in events if e["type"] == "frame" and not e["skipped"])
    skipped = [e["frame"] for e in events if e["type"] == "frame" and e["skipped"]]
    assert written == [7, 8]
    assert len(skipped) == 10
    assert events[-1]["type"] == "done" and events[-1]["written"] == 2 and events[-1]["skipped"] == 10
    assert kept.stat().st_mtime_ns == stamp
    assert exr_files(tmp_path) == [f"r.{n:04d}.exr" for n in range(12)]


def test_ctrl_c_leaves_only_whole_frames_and_resumes(tmp_path):
    clip = clipgen.write_green_screen_clip(tmp_path / "long.mp4", 1500, 160, 120)
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "matte", clip, "--out", out, "--name", "c", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = 0
    for line in proc.stdout:
        if json.loads(line)["type"] == "frame":
            seen += 1
            if seen == 3:
                proc.send_signal(signal.SIGINT)
                break
    rest, err = proc.communicate(timeout=120)
    events = [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 130, err
    assert events[-1]["type"] == "cancelled"
    files = exr_files(out)
    assert 3 <= len(files) < 1500
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"
    for name in files:  # every file on disk is a whole, readable frame
        pixels, _, _ = read_exr(out / name)
        assert pixels.shape == (120, 160, 4)
    r = segmatte("matte", clip, "--out", out, "--name", "c", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.splitlines()[-1])
    assert done["skipped"] == len(files) and done["written"] == 1500 - len(files)


# ---------------------------------------------------------------- bad input


def _bad(args, tmp_path, *, match: str) -> None:
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = segmatte("matte", *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    message = r.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("segmatte: "), r.stderr
    assert "Traceback" not in r.stderr
    assert match.lower() in message[0].lower(), message[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "bad input left files behind"


def test_missing_source(tmp_path):
    _bad([tmp_path / "nope.mp4", "--out", tmp_path / "o"], tmp_path, match="nope.mp4")


def test_garbage_video(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(os.urandom(4096))
    _bad([bad, "--out", tmp_path / "o"], tmp_path, match="garbage.mp4")


def test_truncated_video(green_screen_clip, tmp_path):
    data = Path(green_screen_clip.path).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    _bad([cut, "--out", tmp_path / "o"], tmp_path, match="cut.mp4")


def test_pattern_with_no_frames(tmp_path):
    _bad([tmp_path / "shot.####.exr", "--out", tmp_path / "o"], tmp_path, match="shot")


def test_range_outside_clip(green_screen_clip, tmp_path):
    _bad([green_screen_clip, "--range", "10-500", "--out", tmp_path / "o"], tmp_path, match="range")


def test_backwards_range(green_screen_clip, tmp_path):
    _bad([green_screen_clip, "--range", "9-3", "--out", tmp_path / "o"], tmp_path, match="range")


def test_unknown_engine_and_bad_option(green_screen_clip, tmp_path):
    _bad([green_screen_clip, "--engine", "magic", "--out", tmp_path / "o"], tmp_path, match="magic")
    _bad([green_screen_clip, "--set", "nonsense=1", "--out", tmp_path / "o"], tmp_path,
         match="nonsense")


def test_output_is_a_file(green_screen_clip, tmp_path):
    target = tmp_path / "taken"
    target.write_text("mine")
    _bad([green_screen_clip, "--out", target], tmp_path, match="not a folder")
    assert target.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere; permissions cannot refuse it")
def test_output_not_writable(green_screen_clip, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _bad([green_screen_clip, "--out", locked / "o"], tmp_path, match="not writable")


def test_foreign_files_are_never_overwritten(green_screen_clip, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    theirs = out / "m.0002.exr"
    spec = oiio.ImageSpec(8, 8, 1, "half")
    img = oiio.ImageBuf(spec)
    assert img.write(str(theirs))
    before = theirs.read_bytes()
    _bad([green_screen_clip, "--range", "0-4", "--out", out, "--name", "m"], tmp_path,
         match="did not write")
    _bad([green_screen_clip, "--range", "0-4", "--out", out, "--name", "m", "--overwrite"],
         tmp_path, match="did not write")
    assert theirs.read_bytes() == before


def test_other_job_needs_overwrite(green_screen_clip, tmp_path):
    out = tmp_path / "o"
    assert segmatte("matte", green_screen_clip, "--range", "0-2", "--out", out, "--name", "m").returncode == 0
    first = (out / "m.0001.exr").read_bytes()
    _bad([green_screen_clip, "--range", "0-2", "--out", out, "--name", "m", "--invert"], tmp_path,
         match="--overwrite")
    assert (out / "m.0001.exr").read_bytes() == first
    time.sleep(0.01)
    r = segmatte("matte", green_screen_clip, "--range", "0-2", "--out", out, "--name", "m",
                 "--invert", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert (out / "m.0001.exr").read_bytes() != first


def test_probe_prints_what_the_reader_sees(green_screen_clip):
    r = segmatte("probe", green_screen_clip, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["width"], info["height"]) == (160, 120)
    assert (info["first"], info["last"]) == (0, green_screen_clip.last)
    r = segmatte("probe", "/no/such/file.mov")
    assert r.returncode == 2 and "file.mov" in r.stderr


def test_refine_and_reduce_chatter_through_the_cli(green_screen_clip, tmp_path):
    plain = segmatte("matte", green_screen_clip, "--range", "0-7", "--out", tmp_path / "p",
                     "--name", "m", "--threshold", "0.5")
    assert plain.returncode == 0, plain.stderr
    # No threshold here: it would run after refine (the finishing order) and cut it hard again.
    args = ("matte", green_screen_clip, "--range", "0-7", "--out", tmp_path / "f", "--name", "m",
            "--refine", "guided", "--chatter", "0.6", "--json")
    r = segmatte(*args)
    assert r.returncode == 0, r.stderr
    assert exr_files(tmp_path / "f") == [f"m.{n:04d}.exr" for n in range(8)]
    truth = clipgen.green_screen(4, green_screen_clip.width, green_screen_clip.height)[1]
    hard, _, _ = read_exr(tmp_path / "p" / "m.0004.exr")
    soft, _, _ = read_exr(tmp_path / "f" / "m.0004.exr")
    assert not np.array_equal(hard, soft)
    # refined soft edges are closer to the true coverage than the hard threshold's
    edge = (truth > 0) & (truth < 1)
    assert np.abs(soft[..., 3] - truth)[edge].mean() < np.abs(hard[..., 3] - truth)[edge].mean()
    # reduce chatter looks at neighbours: a resume feeds every frame again
    before = (tmp_path / "f" / "m.0005.exr").read_bytes()
    (tmp_path / "f" / "m.0005.exr").unlink()
    again = [json.loads(line) for line in segmatte(*args).stdout.splitlines()]
    assert again[-1]["type"] == "done" and (again[-1]["written"], again[-1]["skipped"]) == (1, 7)
    assert (tmp_path / "f" / "m.0005.exr").read_bytes() == before  # same neighbours, same matte
