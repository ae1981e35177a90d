"""Corrections re-track only from the corrected frame (``segmatte matte``, real footage).

The tracker runs on OpenCV's ``vtest.avi`` (real pedestrians, 768×576) with a
tiny random SAM 2 video model of the real transformers class (see the ``hub``
fixture). A job keyed on frame 5 over 5-29, then the same command with one
more click on frame 20: the frames the new keyframe cannot reach keep their
bytes and modification times, the others are rewritten — and the result is
exactly what a fresh run with both clicks gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from segmatte.server.output.exr import matte_header, read_matte

CLI = [sys.executable, "-m", "segmatte.server.cli"]
KEY = ["--point", "380,300@5:walker", "--box", "330,200,440,420@5:walker"]
FIX = ["--point", "400,310@20:walker:neg"]
RANGE = ["--range", "5-29"]

# The real CLI with the pipeline's writer slowed (so a kill lands mid-run).
SLOW = ("import sys, time; from segmatte.server import pipeline as p; w = p._write_frame; "
        "p._write_frame = lambda *a, **k: (time.sleep(0.4), w(*a, **k))[1]; "
        "from segmatte.server.cli import main; sys.exit(main(sys.argv[1:]))")


def env(hub: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}


def matte(hub: Path, source: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([*CLI, "matte", str(source), "--engine", "track", *RANGE, "--out", str(out),
                        "--name", "w", *args], capture_output=True, text=True, env=env(hub),
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return r


def files(out: Path) -> dict[int, tuple[int, bytes]]:
    """Frame → (mtime_ns, bytes) of every matte in ``out``."""
    got = {}
    for p in sorted(out.glob("w.*.exr")):
        got[int(p.name.split(".")[1])] = (p.stat().st_mtime_ns, p.read_bytes())
    return got


def pixels(out: Path) -> dict[int, np.ndarray]:
    return {int(p.name.split(".")[1]): read_matte(p)[0] for p in sorted(out.glob("w.*.exr"))}


@pytest.mark.parametrize("direction, key, rewritten", [
    ("forward", 5, range(20, 30)),   # on from the click
    ("backward", 29, range(5, 21)),  # travelling back from 29: from the click back to 5
    ("both", 5, range(20, 30)),      # back from 5 and on to 19 come from keyframe 5 alone
])
def test_a_correction_rewrites_only_what_it_changes(hub, vtest_avi, tmp_path, direction, key,
                                                    rewritten):
    out = tmp_path / "out"
    keyed = [a.replace("@5", f"@{key}") for a in KEY]
    matte(hub, vtest_avi, out, "--direction", direction, *keyed)
    before, before_pixels = files(out), pixels(out)
    assert sorted(before) == list(range(5, 30))
    time.sleep(0.05)  # mtimes would show any rewrite
    r = matte(hub, vtest_avi, out, "--direction", direction, *keyed, *FIX)  # no --overwrite
    after = files(out)
    assert [n for n in range(5, 30) if after[n] != before[n]] == list(rewritten), r.stdout
    for n in range(5, 30):
        if n not in rewritten:
            assert after[n] == before[n], n  # same bytes and same mtime: never rewritten
    # the result is exactly what a fresh run with both clicks gives
    fresh = tmp_path / "fresh"
    matte(hub, vtest_avi, fresh, "--direction", direction, *keyed, *FIX)
    got, want = pixels(out), pixels(fresh)
    for n in range(5, 30):
        np.testing.assert_array_equal(got[n], want[n], err_msg=f"frame {n}")
    # and the click changed the mattes it re-tracked
    assert any(not np.array_equal(got[n], before_pixels[n]) for n in rewritten)


def test_retrack_rewrites_exactly_that_range(hub, vtest_avi, tmp_path):
    out = tmp_path / "out"
    matte(hub, vtest_avi, out, *KEY)
    before = files(out)
    time.sleep(0.05)
    matte(hub, vtest_avi, out, *KEY, "--retrack", "12-18")
    after = files(out)
    assert [n for n in range(5, 30) if after[n][0] != before[n][0]] == list(range(12, 19))
    assert all(after[n] == before[n] for n in range(5, 30) if not 12 <= n <= 18)
    # same prompts, deterministic model: the re-tracked frames come out the same
    assert all(after[n][1] == before[n][1] for n in range(12, 19))


def test_retrack_outside_the_range_is_refused_at_the_door(hub, vtest_avi, tmp_path):
    r = subprocess.run([*CLI, "matte", str(vtest_avi), "--engine", "track", *RANGE, *KEY,
                        "--retrack", "2-8", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=env(hub), timeout=300)
    assert r.returncode == 2
    assert "retrack: 2-8 is outside the job's range 5-29" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_killed_correction_resumes_to_the_same_files(hub, vtest_avi, tmp_path):
    out, whole = tmp_path / "out", tmp_path / "whole"
    for folder in (out, whole):
        matte(hub, vtest_avi, folder, *KEY)
    matte(hub, vtest_avi, whole, *KEY, *FIX)  # the uninterrupted correction
    proc = subprocess.Popen([sys.executable, "-c", SLOW, "matte", str(vtest_avi), "--engine",
                             "track", *RANGE, "--out", str(out), "--name", "w", *KEY, *FIX],
                            env=env(hub), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    new = {}
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            new = {n for n in range(20, 30)
                   if (matte_header(out / f"w.{n:04d}.exr") or {}).get("job")
                   == (matte_header(whole / f"w.{n:04d}.exr") or {}).get("job")}
            if len(new) >= 3:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert 3 <= len(new) < 10, f"the kill did not land mid-correction ({sorted(new)})"
    matte(hub, vtest_avi, out, *KEY, *FIX)  # resume
    a, b = pixels(out), pixels(whole)
    assert sorted(a) == sorted(b) == list(range(5, 30))
    for n in range(5, 30):
        np.testing.assert_array_equal(a[n], b[n], err_msg=f"frame {n}")
    assert not list(out.glob("*.tmp"))


def test_text_on_the_tracker_fails_before_anything_runs(tmp_path, vtest_avi):
    """Refused at the door, before the model, the media or the output folder is looked at."""
    from segmatte.server.pipeline import check_job
    from segmatte.server.spec import SpecError, parse_spec

    spec = parse_spec({"source": str(vtest_avi), "engine": "track",
                       "range": {"first": 5, "last": 9}, "output": {"folder": str(tmp_path / "o")},
                       "objects": [{"id": "car", "keyframes": [{"frame": 5, "text": "a car"}]}]})
    with pytest.raises(SpecError, match="the track engine takes boxes, a mask or points, not text"):
        check_job(spec)  # no model in this test's cache: the prompt is refused before that
    assert not (tmp_path / "o").exists()
