"""``segmatte batch`` in this process: an EDL and an OTIO cut of generated green-screen
clips (distinct lengths and start timecodes, key engine), real footage when present,
failing shots, interruption and resume, and the matte timeline written back.

The helpers at the top (:func:`make_media`, :func:`write_cut`, :func:`exr_files`)
are shared with test_batch_ray.py and test_batch_server.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("opentimelineio")
import opentimelineio as otio  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import clipgen  # noqa: E402

from segmatte.server.batch import manifest as mf  # noqa: E402
from segmatte.server.batch.driver import run_batch  # noqa: E402
from segmatte.server.batch.otio_out import write_matte_timeline  # noqa: E402
from segmatte.server.batch.plan import BatchSettings  # noqa: E402
from segmatte.server.batch.runner_local import InProcessRunner  # noqa: E402
from segmatte.server.batch.shots import read_shots  # noqa: E402
from segmatte.server.output.exr import matte_header  # noqa: E402

W, H = 64, 48
CLIPS = {  # name: (frames, start timecode)
    "A": (12, "01:00:00:00"),
    "B": (9, "02:10:00:05"),
    "C": (15, None),
}
EXPECTED = {"A": (2, 5), "B": (2, 4), "C": (10, 13)}
"""Source frames each good event of the EDL uses (see write_cut)."""

EDL_GOOD = """\
001  A        V     C        01:00:00:02 01:00:00:06 00:00:00:00 00:00:00:04
* FROM CLIP NAME: A.mp4
* SOURCE FILE: {media}/A.mp4
002  B        V     C        02:10:00:07 02:10:00:10 00:00:00:04 00:00:00:07
* FROM CLIP NAME: B.mp4
* SOURCE FILE: {media}/B.mp4
003  C        V     C        00:00:00:10 00:00:00:14 00:00:00:07 00:00:00:11
* FROM CLIP NAME: C.mp4
* SOURCE FILE: {media}/C.mp4
"""
EDL_BAD = """\
004  X        V     C        00:00:00:10 00:00:00:14 00:00:00:11 00:00:00:15
* FROM CLIP NAME: lost.mov
* SOURCE FILE: {media}/lost.mov
005  A        V     C        01:00:00:10 01:00:00:20 00:00:00:15 00:00:01:01
* FROM CLIP NAME: A_late.mp4
* SOURCE FILE: {media}/A.mp4
"""


def make_media(folder: Path, clips: dict[str, tuple[int, str | None]] = CLIPS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (frames, tc) in clips.items():
        clipgen.write_video(folder / f"{name}.mp4",
                            (clipgen.green_screen(i, W, H)[0] for i in range(frames)), 24.0,
                            codec="h264", pix_fmt="yuv444p", crf=4, timecode=tc)
    return folder


def write_cut(folder: Path, media: Path, *, bad: bool = True, name: str = "cut.edl") -> Path:
    text = "TITLE: cut\nFCM: NON-DROP FRAME\n\n" + EDL_GOOD + (EDL_BAD if bad else "")
    path = folder / name
    path.write_text(text.format(media=media))
    return path


def exr_files(out: Path) -> dict[str, Path]:
    return {str(p.relative_to(out)): p for p in sorted(out.rglob("*.exr"))}


def sha256s(out: Path) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in exr_files(out).items()}


def frame_numbers(folder: Path, name: str) -> list[int]:
    return sorted(int(p.name.split(".")[-2]) for p in folder.glob(f"{name}.*.exr"))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("batch-media"))


def run_local(cut: Path, out: Path, **kwargs):
    shots = read_shots(cut)
    settings = BatchSettings(output=out)
    return shots, run_batch(shots, settings, InProcessRunner(), input_path=str(cut), **kwargs)


def test_edl_batch_writes_every_shot_with_source_frame_numbers(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shots, result = run_local(write_cut(tmp_path, media), out)
    records = result.manifest.shots
    for name, (first, last) in EXPECTED.items():
        rec = records[name]
        assert rec.state == "done", rec.reason
        assert frame_numbers(out / name, name) == list(range(first, last + 1))
        assert rec.written == last - first + 1
        header = matte_header(out / name / f"{name}.{first:04d}.exr")
        assert int(header["segmatte/frame" if "segmatte/frame" in header else "frame"]) == first
        assert Path(rec.manifest).is_file()
    failed = {r.id: r.reason for r in records.values() if r.state == "failed"}
    assert len(failed) == 2 and not result.ok
    assert any("lost.mov" in r for r in failed.values())
    assert any("outside" in r for r in failed.values())
    on_disk = mf.load(out)
    assert on_disk is not None and on_disk.counts() == {"done": 3, "failed": 2}

    # run again: nothing to do, the failed shots wait for --retry-failed
    _, again = run_local(write_cut(tmp_path, media), out)
    assert again.ran == 0 and again.manifest.counts() == {"done": 3, "failed": 2}


def test_retry_failed_runs_the_failed_shots_once_fixed(tmp_path: Path) -> None:
    media = make_media(tmp_path / "media", {"A": (12, "01:00:00:00"), "B": (9, "02:10:00:05"),
                                            "C": (15, None)})
    out = tmp_path / "out"
    cut = write_cut(tmp_path, media)
    _, first = run_local(cut, out)
    assert first.manifest.shots["lost"].state == "failed"
    make_media(media, {"lost": (16, None)}).joinpath("lost.mp4").rename(media / "lost.mov")
    _, kept = run_local(cut, out)
    assert kept.manifest.shots["lost"].state == "failed" and kept.ran == 0
    _, retried = run_local(cut, out, retry_failed=True)
    assert retried.manifest.shots["lost"].state == "done"
    assert frame_numbers(out / "lost", "lost") == list(range(10, 14))
    assert retried.ran == 1  # the out-of-range shot still fails at the door, without running


def otio_cut(media: Path, path: Path) -> Path:
    """Two video tracks: V1 cuts A then C, V2 (above) holds B over a gap."""
    def clip(name: str, start: int, dur: int, avail: tuple[int, int] | None = None):
        ref = otio.schema.ExternalReference(
            target_url=otio.url_utils.url_from_filepath(str(media / f"{name}.mp4")),
            available_range=None if avail is None else otio.opentime.TimeRange(
                otio.opentime.RationalTime(avail[0], 24), otio.opentime.RationalTime(avail[1], 24)))
        return otio.schema.Clip(name=f"{name}_shot", media_reference=ref,
                                source_range=otio.opentime.TimeRange(
                                    otio.opentime.RationalTime(start, 24),
                                    otio.opentime.RationalTime(dur, 24)))

    tl = otio.schema.Timeline(name="cut")
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.extend([clip("A", 86400 + 3, 5), clip("C", 2, 4, (0, 15))])
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.extend([otio.schema.Gap(duration=otio.opentime.RationalTime(2, 24)),
               clip("B", 187205 + 1, 6)])
    tl.tracks.extend([v1, v2])
    otio.adapters.write_to_file(tl, str(path))
    return path


def test_otio_batch_and_matte_timeline_line_up(media: Path, tmp_path: Path) -> None:
    cut = otio_cut(media, tmp_path / "cut.otio")
    out = tmp_path / "out"
    shots = read_shots(cut, handles=2)
    result = run_batch(shots, BatchSettings(output=out), InProcessRunner(), input_path=str(cut))
    assert result.ok, result.manifest.to_dict()
    assert frame_numbers(out / "A_shot", "A_shot") == list(range(1, 10))   # 3-7 ± 2
    assert frame_numbers(out / "C_shot", "C_shot") == list(range(0, 8))    # 2-5, 2 before frame 2
    assert frame_numbers(out / "B_shot", "B_shot") == list(range(0, 9))    # 1-6, clip ends at 8

    written = write_matte_timeline(cut, tmp_path / "mattes.otio", shots, result.manifest)
    tl = otio.adapters.read_from_file(str(written))
    names = [t.name for t in tl.tracks]
    assert names == ["V1", "V1 matte", "V2", "V2 matte"]
    pairs = [(tl.tracks[0], tl.tracks[1]), (tl.tracks[2], tl.tracks[3])]
    checked = 0
    for picture, matte in pairs:
        assert picture.duration() == matte.duration()
        for pic, mat in zip(picture, matte, strict=True):
            if not isinstance(pic, otio.schema.Clip):
                assert isinstance(mat, otio.schema.Gap)
                continue
            assert mat.source_range == pic.source_range
            assert picture.range_of_child(pic) == matte.range_of_child(mat)
            ref = mat.media_reference
            shot = next(s for s in shots if s.name == pic.name)
            used_first = shot.first + shot.handles[0]
            assert ref.frame_for_time(pic.source_range.start_time) == used_first
            url = ref.target_url_for_image_number(used_first - ref.start_frame)
            assert Path(otio.url_utils.filepath_from_url(url)).is_file()
            checked += 1
    assert checked == 3


def test_real_footage_batch(vtest_avi: Path, tmp_path: Path) -> None:
    """vtest.avi (10 fps, no timecode) cut twice in an OTIO timeline, and listed in a CSV."""
    def clip(start: int, dur: int):
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(vtest_avi)))
        return otio.schema.Clip(name="vtest.avi", media_reference=ref, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, 10), otio.opentime.RationalTime(dur, 10)))

    tl = otio.schema.Timeline(name="walkers")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.extend([clip(100, 3), clip(700, 2)])
    tl.tracks.append(track)
    cut = tmp_path / "walkers.otio"
    otio.adapters.write_to_file(tl, str(cut))
    out = tmp_path / "out"
    shots = read_shots(cut, handles=1)
    result = run_batch(shots, BatchSettings(output=out), InProcessRunner(), input_path=str(cut))
    assert result.ok, result.manifest.to_dict()
    assert frame_numbers(out / "vtest_99-103", "vtest") == [99, 100, 101, 102, 103]
    assert frame_numbers(out / "vtest_699-702", "vtest") == [699, 700, 701, 702]

    csv = tmp_path / "walkers.csv"
    csv.write_text(f"source,in,out,name\n{vtest_avi},100,102,walkers\n")
    _, listed = run_local(csv, tmp_path / "csv-out")
    assert listed.ok and frame_numbers(tmp_path / "csv-out" / "walkers", "walkers") == [100, 101, 102]


SLOW_MAIN = """
import sys, time
import segmatte.server.pipeline as pipeline
real = pipeline._write_frame
def slow(*a, **k):
    time.sleep(float(sys.argv[1]))
    return real(*a, **k)
pipeline._write_frame = slow
from segmatte.server.commands.batch import main
sys.exit(main(sys.argv[2:]))
"""


def batch_subprocess(args: list[str], delay: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SLOW_MAIN, str(delay), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stat_frames(out: Path) -> dict[str, tuple[int, int]]:
    return {k: (p.stat().st_ino, p.stat().st_mtime_ns) for k, p in exr_files(out).items()}


@pytest.mark.slow
def test_interrupted_batch_resumes_without_rewriting_frames(media: Path, tmp_path: Path) -> None:
    cut = write_cut(tmp_path, media, bad=False)
    out = tmp_path / "out"
    args = [str(cut), "--out", str(out), "--local", "--json", "--handles", "1"]
    proc = batch_subprocess(args, delay=0.15)
    assert proc.stdout is not None
    ended = []
    timer = threading.Timer(120, proc.kill)  # bounds a hang, not a speed
    timer.start()
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("type") == "shot" and event["state"] == "running" and ended:
                proc.send_signal(signal.SIGINT)   # the second shot has started
                break
            if event.get("type") == "shot" and event["state"] == "done":
                ended.append(event["id"])
        out_text, err = proc.communicate(timeout=120)
    finally:
        timer.cancel()
    assert proc.returncode == 130, err
    interrupted = mf.load(out)
    assert interrupted is not None
    states = {r.id: r.state for r in interrupted.shots.values()}
    assert states[ended[0]] == "done"
    assert "cancelled" in states.values() or "pending" in states.values()
    before = stat_frames(out)
    assert before and len(before) < sum(b - a + 3 for a, b in EXPECTED.values())

    done = subprocess.run([sys.executable, "-c", SLOW_MAIN, "0", *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    after = stat_frames(out)
    for key, st in before.items():
        assert after[key] == st, f"{key} was rewritten"
    final = mf.load(out)
    assert final is not None and final.counts() == {"done": 3}
    for name, (first, last) in EXPECTED.items():
        assert frame_numbers(out / name, name) == list(range(first - 1, last + 2))


def test_cli_dry_run_and_bad_input(media: Path, tmp_path: Path) -> None:
    cut = write_cut(tmp_path, media)
    env = dict(os.environ)
    run = subprocess.run([sys.executable, "-m", "segmatte.server.commands.batch", str(cut), "--out",
                          str(tmp_path / "out"), "--dry-run", "--json"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    table = subprocess.run([sys.executable, "-m", "segmatte.server.commands.batch", str(cut),
                            "--out", str(tmp_path / "out"), "--dry-run"], capture_output=True,
                           text=True, env=dict(env, COLUMNS="80"), timeout=60)
    assert table.returncode == 0 and "{" not in table.stdout  # a table for a person
    assert all(r["name"] in table.stdout for r in rows[:3]) and "2-5" in table.stdout
    assert [r["range"] for r in rows[:3]] == ["2-5", "2-4", "10-13"]
    assert sum(1 for r in rows if r["error"]) == 2
    bad = subprocess.run([sys.executable, "-m", "segmatte.server.commands.batch",
                          str(tmp_path / "nothing.edl"), "--out", str(tmp_path / "o"), "--local"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no file" in bad.stderr and "Traceback" not in bad.stderr
