"""A batch of tracked shots: per-shot prompts from an OTIO marker or a CSV column.

The real ``segmatte batch --local --engine track`` runs a tiny randomly
initialised SAM 2 video model (real transformers classes, offline cache, see
conftest.hub) over two shots of the generated green-screen clip. Each shot's
keyframe comes from where its prompt sits: on a marker, the source frame the
cut shows at the marker (through a 2x speed-up on the second clip); in a CSV,
the frame written after ``@``. The per-frame object scores of the job
manifests show that each shot was tracked from its own keyframe on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentimelineio")
import opentimelineio as otio  # noqa: E402

from segmatte.server.batch.plan import BatchSettings, shot_spec  # noqa: E402
from segmatte.server.batch.shots import read_shots  # noqa: E402

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
BATCH = [sys.executable, "-m", "segmatte.server.commands.batch"]
PROMPT = "segmatte: point 80,60:disc; box 50,30,110,90:disc"


def marker_cut(clip: str, path: Path) -> Path:
    tl = otio.schema.Timeline(name="tracked")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    url = otio.url_utils.url_from_filepath(clip)

    def ref() -> otio.schema.ExternalReference:
        return otio.schema.ExternalReference(target_url=url, available_range=TR(RT(0, 24), RT(24, 24)))

    one = otio.schema.Clip(name="one", media_reference=ref(), source_range=TR(RT(2, 24), RT(8, 24)))
    one.markers.append(otio.schema.Marker(name=PROMPT, marked_range=TR(RT(4, 24), RT(0, 24))))
    two = otio.schema.Clip(name="two", media_reference=ref(), source_range=TR(RT(10, 24), RT(5, 24)))
    two.effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))
    # one record frame after the in point, at 2x: source frame 12
    two.markers.append(otio.schema.Marker(name="cue", comment=PROMPT,
                                          marked_range=TR(RT(11, 24), RT(0, 24))))
    track.extend([one, two])
    otio.adapters.write_to_file(tl, str(path))
    return path


def scores(folder: Path) -> dict[int, float]:
    manifest = json.loads(next(folder.glob("*.manifest.json")).read_text())
    return {f["number"]: f["scores"]["disc"] for f in manifest["frames"]}


def run_batch(hub: Path, *args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*BATCH, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=600)


def test_marker_prompts_become_keyframes_on_the_frame_the_cut_shows(green_screen_clip, tmp_path: Path) -> None:
    shots = {s.id: s for s in read_shots(marker_cut(str(green_screen_clip), tmp_path / "cut.otio"))}
    one, two = shots["one"], shots["two"]
    assert [k["frame"] for k in one.objects[0]["keyframes"]] == [4]
    assert one.objects[0]["keyframes"][0]["points"] == [{"x": 80.0, "y": 60.0, "label": 1}]
    assert [k["frame"] for k in two.objects[0]["keyframes"]] == [12]
    assert list(two.shown) == [10, 12, 14, 16, 18]
    spec = shot_spec(two, BatchSettings(output=tmp_path / "o", engine="track"))
    assert spec.objects[0].id == "disc" and spec.objects[0].keyframes[0].boxes


def test_bad_marker_prompt_fails_that_shot_only(green_screen_clip, tmp_path: Path) -> None:
    cut = marker_cut(str(green_screen_clip), tmp_path / "cut.otio")
    tl = otio.adapters.read_from_file(str(cut))
    tl.video_tracks()[0][0].markers[0].name = "segmatte: lasso 1,2:disc"
    otio.adapters.write_to_file(tl, str(cut))
    shots = {s.id: s for s in read_shots(cut)}
    assert "lasso" in shots["one"].error and shots["two"].error is None


def test_fcp_xml_markers_carry_prompts(green_screen_clip, tmp_path: Path) -> None:
    if "fcp_xml" not in otio.adapters.available_adapter_names():
        pytest.skip("the OTIO fcp_xml adapter is not installed")
    tl = otio.adapters.read_from_file(str(marker_cut(str(green_screen_clip), tmp_path / "cut.otio")))
    xml = tmp_path / "cut.xml"
    otio.adapters.write_to_file(tl, str(xml), adapter_name="fcp_xml")
    one = next(s for s in read_shots(xml) if s.name == "one")
    assert [k["frame"] for k in one.objects[0]["keyframes"]] == [4]


def test_a_batch_of_tracked_shots(hub: Path, green_screen_clip, tmp_path: Path) -> None:
    cut = marker_cut(str(green_screen_clip), tmp_path / "cut.otio")
    out = tmp_path / "out"
    run = run_batch(hub, cut, "--out", out, "--engine", "track", "--local", "--json")
    assert run.returncode == 0, run.stderr
    one, two = scores(out / "one"), scores(out / "two")
    assert sorted(one) == list(range(2, 10)) and sorted(two) == list(range(10, 19))
    # tracked forward from each shot's own keyframe: frames before it were never reached
    assert all((one[n] > 0) == (n >= 4) for n in one), one
    assert all((two[n] > 0) == (n >= 12) for n in two), two


def test_csv_prompts_column(hub: Path, green_screen_clip, tmp_path: Path) -> None:
    csv = tmp_path / "shots.csv"
    csv.write_text("source,in,out,engine,prompts,name\n"
                   f'{green_screen_clip},3,8,track,"point 80,60@6:disc; box 50,30,110,90@6:disc",a\n'
                   f"{green_screen_clip},0,4,key,,b\n"
                   f'{green_screen_clip},0,4,track,"point 80,60:disc",c\n')
    shots = {s.id: s for s in read_shots(csv)}
    assert shots["a"].objects[0]["keyframes"][0]["frame"] == 6
    assert shots["b"].objects == ()
    assert "names no frame" in shots["c"].error
    out = tmp_path / "out"
    run = run_batch(hub, csv, "--out", out, "--local", "--json")
    assert run.returncode == 1  # shot c failed at the door, the others ran
    a = scores(out / "a")
    assert sorted(a) == list(range(3, 9)) and all((a[n] > 0) == (n >= 6) for n in a), a
    assert list((out / "b").glob("b.*.exr"))
