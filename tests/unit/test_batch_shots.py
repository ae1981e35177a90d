"""Reading batches: edits (EDL, OTIO) and CSV shot lists → shots in source frame numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentimelineio")
import opentimelineio as otio  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import clipgen  # noqa: E402

from segmatte.server.batch import manifest as mf  # noqa: E402
from segmatte.server.batch.naming import clip_name, unique_ids  # noqa: E402
from segmatte.server.batch.shots import BatchInputError, read_shots  # noqa: E402

W, H = 64, 48


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A: 12 frames from 01:00:00:00; B: 9 frames from 02:10:00:05; C: 15 frames, no timecode;
    D: 10 frames at 25 fps from 10:00:00:00."""
    folder = tmp_path_factory.mktemp("batch-media")
    for name, n, tc, fps in [("A", 12, "01:00:00:00", 24.0), ("B", 9, "02:10:00:05", 24.0),
                             ("C", 15, None, 24.0), ("D", 10, "10:00:00:00", 25.0)]:
        clipgen.write_video(folder / f"{name}.mp4",
                            (clipgen.green_screen(i, W, H)[0] for i in range(n)), fps,
                            codec="h264", pix_fmt="yuv444p", crf=4, timecode=tc)
    return folder


EDL = """TITLE: cut
FCM: NON-DROP FRAME

001  A        V     C        01:00:00:02 01:00:00:06 00:00:00:00 00:00:00:04
* FROM CLIP NAME: A.mp4
002  B        V     C        02:10:00:07 02:10:00:10 00:00:00:04 00:00:00:07
* FROM CLIP NAME: B.mp4
* SOURCE FILE: {media}/B.mp4
003  C        V     C        00:00:00:10 00:00:00:14 00:00:00:07 00:00:00:11
* FROM CLIP NAME: C.mp4
004  X        V     C        00:00:00:10 00:00:00:14 00:00:00:11 00:00:00:15
* FROM CLIP NAME: missing.mov
005  A        V     C        01:00:00:10 01:00:00:20 00:00:00:15 00:00:01:01
* FROM CLIP NAME: A.mp4
006  A        V     C        01:00:00:02 01:00:00:06 00:00:01:01 00:00:01:05
* FROM CLIP NAME: A.mp4
"""


def write_edl(folder: Path, media: Path, text: str = EDL) -> Path:
    path = folder / "cut.edl"
    path.write_text(text.format(media=media))
    return path


def by_id(shots):
    return {s.id: s for s in shots}


def test_edl_maps_source_timecode_through_the_media_start_timecode(media: Path, tmp_path: Path) -> None:
    shots = by_id(read_shots(write_edl(tmp_path, media), media_dirs=[media]))
    assert (shots["A"].first, shots["A"].last) == (2, 5)      # 01:00:00:02 on a clip from 01:00:00:00
    assert (shots["B"].first, shots["B"].last) == (2, 4)      # 02:10:00:07 on a clip from 02:10:00:05
    assert (shots["C"].first, shots["C"].last) == (10, 13)    # no timecode: 00:00:00:00 is frame 0
    assert shots["B"].source == str(media / "B.mp4")
    assert shots["A"].source == str(media / "A.mp4")          # found by clip name in --media
    # the same clip cut in twice with the same range is one shot, placed twice
    assert len(shots["A"].placements) == 2
    assert all(s.error is None for s in (shots["A"], shots["B"], shots["C"]))


def test_edl_shots_that_cannot_run_carry_a_reason(media: Path, tmp_path: Path) -> None:
    shots = read_shots(write_edl(tmp_path, media), media_dirs=[media])
    errors = {s.id: s.error for s in shots if s.error}
    assert len(errors) == 2
    missing = next(e for e in errors.values() if "missing.mov" in e)
    assert "no media found" in missing
    outside = next(e for e in errors.values() if "outside" in e)
    assert "10-19" in outside and "0-11" in outside
    # failed shots do not change the names of the good ones
    assert {"A", "B", "C"} <= {s.id for s in shots}


def test_handles_are_added_where_the_media_has_frames(media: Path, tmp_path: Path) -> None:
    shots = by_id(read_shots(write_edl(tmp_path, media), handles=3, media_dirs=[media]))
    a, b, c = shots["A"], shots["B"], shots["C"]
    assert (a.first, a.last, a.handles) == (0, 8, (2, 3))     # only 2 frames before frame 2
    assert (b.first, b.last, b.handles) == (0, 7, (2, 3))
    assert (c.first, c.last, c.handles) == (7, 14, (3, 1))    # C ends at 14
    assert a.edit_start == 86400.0                            # edit time of frame 0


def test_edl_rate_is_taken_from_the_media(media: Path, tmp_path: Path) -> None:
    text = """TITLE: pal
FCM: NON-DROP FRAME

001  D        V     C        10:00:00:03 10:00:00:08 00:00:00:00 00:00:00:05
* SOURCE FILE: {media}/D.mp4
"""
    (shot,) = read_shots(write_edl(tmp_path, media, text))
    assert (shot.first, shot.last, shot.rate) == (3, 7, 25.0)


def test_otio_external_reference_and_available_range(media: Path, tmp_path: Path) -> None:
    tl = otio.schema.Timeline(name="cut")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    ref = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(str(media / "C.mp4")),
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                otio.opentime.RationalTime(15, 24)))
    track.append(otio.schema.Clip(name="shot010", media_reference=ref, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(4, 24), otio.opentime.RationalTime(6, 24))))
    track.append(otio.schema.Gap(duration=otio.opentime.RationalTime(3, 24)))
    rel = otio.schema.ExternalReference(target_url="A.mp4")  # relative to the .otio file
    track.append(otio.schema.Clip(name="shot020", media_reference=rel, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(86400 + 7, 24), otio.opentime.RationalTime(2, 24))))
    path = media / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))
    shots = by_id(read_shots(path))
    assert (shots["shot010"].first, shots["shot010"].last) == (4, 9)
    assert (shots["shot020"].first, shots["shot020"].last) == (7, 8)
    assert shots["shot020"].placements[0].index == 2


def test_csv_frames_timecodes_options_and_bad_rows(media: Path, tmp_path: Path) -> None:
    csv = tmp_path / "shots.csv"
    csv.write_text(
        "source,in,out,engine,options,name\n"
        f"{media}/A.mp4,3,7,,,\n"
        f"{media}/B.mp4,02:10:00:06,02:10:00:08,key,\"{{\"\"tolerance\"\": 0.2}}\",plate_b\n"
        "# a comment row\n"
        f"{media}/C.mp4,,,,,\n"
        f"{media}/C.mp4,20,30,,,\n"
        "nowhere.mov,1,2,,,\n"
        f"{media}/A.mp4,1,2,,not json,\n")
    shots = read_shots(csv)
    good = by_id([s for s in shots if not s.error])
    assert (good["A"].first, good["A"].last) == (3, 7)
    assert (good["plate_b"].first, good["plate_b"].last, good["plate_b"].options) == (1, 3, {"tolerance": 0.2})
    assert (good["C"].first, good["C"].last) == (None, None)  # whole clip
    reasons = [s.error for s in shots if s.error]
    assert len(reasons) == 3
    assert any("line 6" in r and "outside" in r for r in reasons)
    assert any("line 7" in r and "no file" in r for r in reasons)
    assert any("line 8" in r and "JSON" in r for r in reasons)


def test_unreadable_inputs_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(BatchInputError, match="no file"):
        read_shots(tmp_path / "none.edl")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,start\nx,1\n")
    with pytest.raises(BatchInputError, match="source"):
        read_shots(bad)
    junk = tmp_path / "junk.otio"
    junk.write_text("{not json")
    with pytest.raises(BatchInputError, match="could not be read"):
        read_shots(junk)


def test_names() -> None:
    assert clip_name("A001_C002.mov") == "A001_C002"
    assert clip_name("Shot 010 / v2") == "Shot_010_v2"
    assert clip_name("", "/x/plate.####.exr") == "plate"
    assert clip_name(".hidden") == "hidden"
    assert unique_ids([("a", 1, 5), ("b", 1, 2), ("a", 7, 9)]) == ["a_1-5", "b", "a_7-9"]


def test_manifest_round_trip(tmp_path: Path) -> None:
    m = mf.BatchManifest(input="cut.edl", output=str(tmp_path))
    m.shots["A"] = mf.ShotRecord(id="A", name="A", source="/a.mp4", first=1, last=5,
                                 folder=str(tmp_path / "A"), state="failed", reason="no", handles=(1, 2))
    mf.save(m)
    back = mf.load(tmp_path)
    assert back is not None and back.shots["A"] == m.shots["A"]
    assert json.loads(mf.manifest_file(tmp_path).read_text())["shots"][0]["reason"] == "no"
    assert not list(tmp_path.glob(".segmatte-batch-*"))
    mf.manifest_file(tmp_path).write_text("{torn")
    assert mf.load(tmp_path) is None


@pytest.mark.parametrize("adapter, suffix", [("fcp_xml", ".xml"), ("fcpx_xml", ".fcpxml")])
def test_fcp_xml_through_the_otio_adapters(media: Path, tmp_path: Path, adapter: str,
                                           suffix: str) -> None:
    if adapter not in otio.adapters.available_adapter_names():
        pytest.skip(f"the OTIO {adapter} adapter is not installed")
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(0, 24))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    ref = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(str(media / "B.mp4")),
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(187205, 24),
                                                otio.opentime.RationalTime(9, 24)))
    track.append(otio.schema.Clip(name="B", media_reference=ref, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(187205 + 3, 24), otio.opentime.RationalTime(4, 24))))
    path = tmp_path / f"cut{suffix}"
    otio.adapters.write_to_file(tl, str(path), adapter_name=adapter)
    (shot,) = read_shots(path)
    assert (shot.source, shot.first, shot.last) == (str(media / "B.mp4"), 3, 6)


def test_one_batch_per_output_folder(tmp_path: Path) -> None:
    with mf.locked(tmp_path):
        with pytest.raises(mf.BatchBusyError, match="another segmatte batch"):
            with mf.locked(tmp_path):
                pass
    with mf.locked(tmp_path):  # released
        pass
