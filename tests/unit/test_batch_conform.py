"""Conforming real edits: every rate, transitions, speed effects, relink, write-back.

One cut, written as a CMX 3600 EDL at 25, 50, 29.97 DF, 59.94 DF and NDF,
23.976 and 10 fps (and as an .otio file at each rate): a cut, a dissolve, a
2x speed-up, a 2x reverse, a freeze frame and a wipe, over generated clips
whose start timecodes are 01..04:00:00:00. Every shot is compared, record
frame by record frame, with what OpenTimelineIO itself reads: the clip's
``visible_range()`` through its ``LinearTimeWarp`` scalars (the oracle
below), and the CLI's ``--dry-run`` must list exactly those source frames.
OTIO's own EDL reader cannot read 10 fps (no SMPTE timecode), so there the
oracle is the same cut built with OTIO's API.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("opentimelineio")
import opentimelineio as otio  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import clipgen  # noqa: E402

from segmatte.server.batch import manifest as mf  # noqa: E402
from segmatte.server.batch.framelist import parse_frame_list  # noqa: E402
from segmatte.server.batch.otio_out import matte_timeline  # noqa: E402
from segmatte.server.batch.shots import BatchInputError, read_shots  # noqa: E402

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
RATES = {  # id: (rate, drop frame, how the EDL spells it)
    "25": (Fraction(25), False, ":"),
    "50": (Fraction(50), False, ":"),
    "2997df": (Fraction(30000, 1001), True, "fcm"),   # FCM: DROP FRAME with ':' separators
    "5994df": (Fraction(60000, 1001), True, ";"),
    "5994ndf": (Fraction(60000, 1001), False, ":"),
    "23976": (Fraction(24000, 1001), False, ":"),
    "10": (Fraction(10), False, ":"),
}
CLIPS = {"A": (1, 60), "B": (2, 40), "C": (3, 72), "D": (4, 20)}
"""Clip: (start hour of its timecode, frames)."""
EVENTS = [  # source frames are offsets into the clip; record frames from 01:00:00:00
    dict(n=1, clip="A", src=(10, 30), rec=(0, 20)),
    dict(n=2, clip="B", src=(5, 25), rec=(20, 40), trans=("D", 8), out_of=("A", 30)),
    dict(n=3, clip="C", src=(0, 20), rec=(40, 50), speed=2),
    dict(n=4, clip="C", src=(50, 70), rec=(50, 60), speed=-2),
    dict(n=5, clip="D", src=(5, 6), rec=(60, 70), speed=0),
    dict(n=6, clip="A", src=(40, 50), rec=(70, 80), trans=("W001", 6), out_of=("D", 6)),
]
EXPECTED_OFFSETS = {  # by hand, for the 25 fps case (OTIO's model, see module docstring)
    1: list(range(10, 38)),                         # 20 frames + the dissolve's 8 under B
    2: list(range(5, 25)),
    3: list(range(0, 20, 2)),
    4: list(range(50, 30, -2)),
    5: [5] * 16,                                    # frozen, through the wipe's 6 frames
    6: list(range(40, 50)),
}


def smpte(fps: Fraction) -> bool:
    return bool(RT.is_valid_timecode_rate(float(fps)))


def tc(frames: int, fps: Fraction, drop: bool) -> str:
    """A timecode written by OTIO where it can; plain counting at 10 fps."""
    if smpte(fps):
        return otio.opentime.to_timecode(RT(frames, float(fps)), float(fps), drop)
    n = round(fps)
    return f"{frames // (n * 3600):02d}:{frames // (n * 60) % 60:02d}:{frames // n % 60:02d}:{frames % n:02d}"


def hour(h: int, fps: Fraction, drop: bool) -> int:
    """Frame count of HH:00:00:00 at fps (drop frame counted by OTIO)."""
    if smpte(fps):
        sep = ";" if drop else ":"
        return round(otio.opentime.from_timecode(f"{h:02d}:00:00{sep}00", float(fps)).value)
    return h * 3600 * round(fps)


def write_edl(path: Path, rid: str, *, oracle: bool = False, sources: dict[str, str] | None = None) -> Path:
    fps, drop, style = RATES[rid]
    n = round(fps)

    def t(frames: int) -> str:  # drop-frame labels; 'fcm' spells them with ':' (the oracle: ';')
        label = tc(frames, fps, drop)
        return label.replace(";", ":") if style == "fcm" and not oracle else label

    rec0 = hour(1, fps, drop)
    lines = [f"TITLE: conform {rid}", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    for e in EVENTS:
        base = hour(CLIPS[e["clip"]][0], fps, drop)
        src = (t(base + e["src"][0]), t(base + e["src"][1]))
        rec = (t(rec0 + e["rec"][0]), t(rec0 + e["rec"][1]))
        reel = e["clip"]
        if "trans" in e:
            kind, length = e["trans"]
            out_clip, out_frame = e["out_of"]
            ob = hour(CLIPS[out_clip][0], fps, drop) + out_frame
            lines.append(f"{e['n']:03d}  {out_clip}        V     C        {t(ob)} {t(ob)} {rec[0]} {rec[0]}")
            lines.append(f"{e['n']:03d}  {reel}        V     {kind:<4} {length:03d} {src[0]} {src[1]} {rec[0]} {rec[1]}")
            lines.append(f"* FROM CLIP NAME: {out_clip}.mp4")
            lines.append(f"* TO CLIP NAME: {reel}.mp4")
        else:
            lines.append(f"{e['n']:03d}  {reel}        V     C        {src[0]} {src[1]} {rec[0]} {rec[1]}")
            if "speed" in e:
                # OTIO's reader takes no ';' in an M2 line (its pattern is [0-9:]{11})
                entry = src[0].replace(";", ":") if oracle else src[0]
                lines.append(f"M2   {reel}       {e['speed'] * n:06.1f}                {entry}")
            lines.append(f"* FROM CLIP NAME: {reel}.mp4")
        if sources and reel in sources:
            lines.append(f"* SOURCE FILE: {sources[reel]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def build_otio(rid: str, urls: dict[str, str]) -> otio.schema.Timeline:
    """The same cut with OTIO's API (the oracle where OTIO reads no EDL, and an .otio input)."""
    fps, drop, _ = RATES[rid]
    r = float(fps)
    tl = otio.schema.Timeline(name=f"conform {rid}", global_start_time=RT(hour(1, fps, drop), r))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for e in EVENTS:
        base = hour(CLIPS[e["clip"]][0], fps, drop)
        if "trans" in e:
            track.append(otio.schema.Transition(transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                                in_offset=RT(0, r), out_offset=RT(e["trans"][1], r)))
        clip = otio.schema.Clip(name=f"{e['clip']}.mp4",
                                media_reference=otio.schema.ExternalReference(target_url=urls[e["clip"]]),
                                source_range=TR(RT(base + e["src"][0], r), RT(e["rec"][1] - e["rec"][0], r)))
        if "speed" in e:
            clip.effects.append(otio.schema.FreezeFrame() if e["speed"] == 0
                                else otio.schema.LinearTimeWarp(time_scalar=float(e["speed"])))
        track.append(clip)
    return tl


def oracle(tl: otio.schema.Timeline, rid: str, ntsc_m2: bool = False) -> list[tuple[str, list[int]]]:
    """(clip, source frame offsets shown in record order) per clip, from OTIO's model.

    ``ntsc_m2``: OTIO's EDL reader divides an M2 speed by 29.97 where timecode
    counts 30 frames a second (060.0 → 2.002x); the speed is 2x (speed over
    the timecode's frames per second), so the scalar is corrected by rate/nominal.
    """
    fps, drop, _ = RATES[rid]
    out = []
    for clip in tl.video_tracks()[0].find_clips():
        vis, tr = clip.visible_range(), clip.trimmed_range()
        head = round((tr.start_time - vis.start_time).value)
        scalar = 1.0
        for fx in clip.effects:
            if isinstance(fx, otio.schema.LinearTimeWarp):
                scalar *= fx.time_scalar
                if ntsc_m2:
                    scalar = round(scalar * float(fps) / round(fps), 6)
        name = clip.name.split(".")[0]
        origin = hour(CLIPS[name][0], fps, drop)
        out.append((name, [math.floor(tr.start_time.value + k * scalar + 1e-6) - origin
                           for k in range(-head, round(vis.duration.value) - head)]))
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One folder of clips A-D per rate, with start timecodes HH:00:00:00 (';' for drop frame)."""
    root = tmp_path_factory.mktemp("conform-media")
    folders = {}
    for rid, (fps, drop, _) in RATES.items():
        folder = root / rid
        folder.mkdir()
        for name, (h, count) in CLIPS.items():
            stamp = f"{h:02d}:00:00{';' if drop else ':'}00"
            clipgen.write_video(folder / f"{name}.mp4",
                                (np.full((24, 32, 3), 3 * i, np.uint8) for i in range(count)),
                                float(fps), codec="h264", timecode=stamp)
        folders[rid] = folder
    return folders


def by_placement(shots) -> dict[int, object]:
    return {p.index: s for s in shots for p in s.placements}


def clip_indices(tl: otio.schema.Timeline) -> list[int]:
    track = tl.video_tracks()[0]
    return [i for i, item in enumerate(track) if isinstance(item, otio.schema.Clip)]


def assert_matches_oracle(shots, expected, indices) -> None:
    placed = by_placement(shots)
    assert len(indices) == len(expected)
    for index, (name, frames) in zip(indices, expected, strict=True):
        shot = placed[index]
        assert shot.error is None, shot.error
        assert Path(shot.source).name == f"{name}.mp4"
        assert list(shot.shown) == frames, (shot.id, shot.shown, frames)
        assert (shot.first, shot.last) == (min(frames), max(frames))


def test_the_oracle_reads_the_cut_as_drawn() -> None:
    """The hand-made expectation and OTIO's model of the 25 fps EDL agree (the oracle is sound)."""
    tl = otio.adapters.read_from_string(_edl_text("25"), "cmx_3600", rate=25)
    got = oracle(tl, "25")
    assert [frames for _n, frames in got] == [EXPECTED_OFFSETS[e["n"]] for e in EVENTS]


def _edl_text(rid: str) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return write_edl(Path(d) / "o.edl", rid, oracle=True).read_text()


@pytest.mark.parametrize("rid", list(RATES))
def test_edl_at_every_rate_matches_what_otio_reads(rid: str, media: dict[str, Path], tmp_path: Path) -> None:
    fps, drop, _ = RATES[rid]
    cut = write_edl(tmp_path / f"cut_{rid}.edl", rid)
    shots = read_shots(cut, media_dirs=[media[rid]])       # no --rate: the media's rate, and FCM/';'
    if smpte(fps):
        tl = otio.adapters.read_from_string(_edl_text(rid), "cmx_3600", rate=float(fps))
        expected = oracle(tl, rid, ntsc_m2=fps.denominator != 1)
    else:
        tl = build_otio(rid, {c: f"{c}.mp4" for c in CLIPS})
        expected = oracle(tl, rid)
    assert [f for _n, f in expected] == [EXPECTED_OFFSETS[e["n"]] for e in EVENTS]
    assert_matches_oracle(shots, expected, clip_indices(tl))
    assert all(abs(s.rate - float(fps)) < 1e-9 and s.drop == drop for s in shots)
    for s in shots:  # bare clip names found in --media, and edit and media rates agree
        assert s.notes == (f"relinked by clip name '{Path(s.source).name}' to {s.source}",)


@pytest.mark.parametrize("rid", list(RATES))
def test_otio_at_every_rate_with_foreign_paths_relinked(rid: str, media: dict[str, Path], tmp_path: Path) -> None:
    urls = {"A": "file:///Volumes/RAID/show/A.mp4", "B": "D:/footage/B.mp4",
            "C": "D:\\footage\\day 2\\C.mp4", "D": "/mnt/elsewhere/D.mp4"}
    tl = build_otio(rid, urls)
    cut = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(cut))
    shots = read_shots(cut, media_dirs=[media[rid]])
    assert_matches_oracle(shots, oracle(tl, rid), clip_indices(tl))
    notes = {Path(s.source).stem: s.notes for s in shots}
    assert any("/Volumes/RAID/show/A.mp4" in n for n in notes["A"])
    assert any("D:\\footage\\day 2\\C.mp4" in n and str(media[rid] / "C.mp4") in n for n in notes["C"])


@pytest.mark.parametrize("kind", ["edl", "otio"])
@pytest.mark.parametrize("rid", list(RATES))
def test_dry_run_lists_exactly_the_frames_the_cut_shows(rid: str, kind: str, media: dict[str, Path],
                                                         tmp_path: Path) -> None:
    if kind == "edl":
        cut = write_edl(tmp_path / "cut.edl", rid)
    else:
        cut = tmp_path / "cut.otio"
        otio.adapters.write_to_file(build_otio(rid, {c: f"D:/cut/{c}.mp4" for c in CLIPS}), str(cut))
    run = subprocess.run([sys.executable, "-m", "segmatte.server.commands.batch", str(cut),
                          "--out", str(tmp_path / "out"), "--media", str(media[rid]),
                          "--handles", "2", "--dry-run", "--json"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    shown = sorted((r["id"], tuple(parse_frame_list(r["shown"]))) for r in rows)
    expected = sorted(tuple(sorted(set(EXPECTED_OFFSETS[e["n"]]))) for e in EVENTS)
    assert sorted(frames for _id, frames in shown) == expected
    for r in rows:
        frames = parse_frame_list(r["shown"])
        first, last = (int(x) for x in r["range"].split("-"))
        head, tail = r["handles"]
        assert (first + head, last - tail) == (min(frames), max(frames))
        assert r["error"] is None and r["rate"] == pytest.approx(float(RATES[rid][0]))
    # the table a person reads lists the same frames
    table = subprocess.run([sys.executable, "-m", "segmatte.server.commands.batch", str(cut),
                            "--out", str(tmp_path / "out"), "--media", str(media[rid]),
                            "--handles", "2", "--dry-run"], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert all(r["shown"] in table.stdout for r in rows), table.stdout


def test_rate_flags_snap_to_ntsc_and_24_on_23976_counts_frames(media: dict[str, Path], tmp_path: Path) -> None:
    cut = write_edl(tmp_path / "cut.edl", "23976")
    exact = read_shots(cut, rate="23.976", media_dirs=[media["23976"]])
    assert all(s.rate == float(Fraction(24000, 1001)) for s in exact)
    assert not any("edit at" in n for s in exact for n in s.notes)
    at24 = read_shots(cut, rate=24, media_dirs=[media["23976"]])
    # timecode counts frames: the same frames, not 87 frames an hour off by real time
    assert [(s.first, s.last, s.shown) for s in at24] == [(s.first, s.last, s.shown) for s in exact]
    assert all(any("timecode frames counted as they are" in n for n in s.notes) for s in at24)
    df = read_shots(write_edl(tmp_path / "df.edl", "2997df"), rate="29.97", media_dirs=[media["2997df"]])
    assert all(s.drop and s.rate == float(Fraction(30000, 1001)) for s in df)  # FCM: DROP FRAME
    ndf = read_shots(write_edl(tmp_path / "ndf.edl", "5994ndf"), rate="59.94",
                     media_dirs=[media["5994ndf"]])
    assert all(not s.drop and s.rate == float(Fraction(60000, 1001)) for s in ndf)
    pal = tmp_path / "pal.edl"
    pal.write_text("001  A        V     C        01:00:00:24 01:00:01:02 01:00:00:00 01:00:00:03\n")
    with pytest.raises(BatchInputError, match="frame 24, which 24 fps does not have"):
        read_shots(pal, rate=24, media_dirs=[media["25"]])
    assert [(s.first, s.last) for s in read_shots(pal, media_dirs=[media["25"]])] == [(24, 26)]


def test_edit_and_media_of_different_rates_are_reported_per_shot(media: dict[str, Path], tmp_path: Path) -> None:
    """A 25 fps EDL over 50 fps media: the source timecode is read on the media's clock and
    the record frames play in real time (two source frames each), and the shot says so."""
    cut = tmp_path / "pal.edl"
    cut.write_text("""TITLE: pal on 50
001  A        V     C        01:00:00:10 01:00:00:20 01:00:00:00 01:00:00:10
* FROM CLIP NAME: A.mp4
""")
    (shot,) = read_shots(cut, rate=25, media_dirs=[media["50"]])
    assert shot.error is None
    assert any("edit at 25 fps, media at 50 fps" in n and "real time" in n for n in shot.notes)
    # 01:00:00:10 on the 50 fps clock is frame 10; 10 record frames at 25 show every other one
    assert (shot.first, shot.last) == (10, 28) and list(shot.shown) == list(range(10, 29, 2))


def test_reverse_at_full_speed_and_m2_entry_point(media: dict[str, Path], tmp_path: Path) -> None:
    """OTIO's EDL reader drops an M2 of -100 % (record and source durations match): read here."""
    text = """TITLE: rev
FCM: NON-DROP FRAME

001  C        V     C        03:00:01:00 03:00:01:10 01:00:00:00 01:00:00:10
M2   C       -025.0                03:00:01:00
* FROM CLIP NAME: C.mp4
002  C        V     C        03:00:00:00 03:00:00:05 01:00:00:10 01:00:00:15
M2   C       025.0                03:00:00:20
* FROM CLIP NAME: C.mp4
"""
    cut = tmp_path / "rev.edl"
    cut.write_text(text)
    a, b = sorted(read_shots(cut, media_dirs=[media["25"]]), key=lambda s: s.placements[0].index)
    assert list(a.shown) == list(range(25, 15, -1))
    assert list(b.shown) == list(range(20, 25))             # the entry timecode is the first frame shown


def test_relink_by_source_file_reel_and_ambiguity(media: dict[str, Path], tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "B.mp4").write_bytes((media["25"] / "B.mp4").read_bytes())
    text = """TITLE: relink
FCM: NON-DROP FRAME

001  A        V     C        01:00:00:10 01:00:00:12 01:00:00:00 01:00:00:02
* SOURCE FILE: A.mp4
002  C        V     C        03:00:00:10 03:00:00:12 01:00:00:02 01:00:00:04
003  B        V     C        02:00:00:10 02:00:00:12 01:00:00:04 01:00:00:06
* FROM CLIP NAME: B.mp4
004  X        V     C        02:00:00:10 02:00:00:12 01:00:00:06 01:00:00:08
* FROM CLIP: D:\\media\\lost.mov
"""
    cut = tmp_path / "relink.edl"
    cut.write_text(text)
    shots = {s.placements[0].index if s.placements else -1: s
             for s in read_shots(cut, rate=25, media_dirs=[media["25"], twin])}
    assert shots[0].source == str(media["25"] / "A.mp4")
    assert any("SOURCE FILE 'A.mp4'" in n for n in shots[0].notes)
    assert shots[1].source == str(media["25"] / "C.mp4")   # by reel
    assert any("reel 'C'" in n for n in shots[1].notes)
    ambiguous = shots[2].error
    assert ambiguous and str(media["25"] / "B.mp4") in ambiguous and str(twin / "B.mp4") in ambiguous
    assert "lost.mov" in shots[3].error and "no media found" in shots[3].error


def test_write_back_keeps_effects_and_lines_every_frame_up(media: dict[str, Path], tmp_path: Path) -> None:
    """At every rate: each matte clip has its picture clip's range and effects, and the frame
    its image-sequence reference gives for each record frame is the source frame shown."""
    for rid, (fps, _drop, _) in RATES.items():
        cut = write_edl(tmp_path / f"cut_{rid}.edl", rid)
        shots = read_shots(cut, media_dirs=[media[rid]], handles=3)
        manifest = mf.BatchManifest(input=str(cut), output=str(tmp_path))
        for s in shots:
            manifest.shots[s.id] = mf.ShotRecord(id=s.id, name=s.name, source=s.source, first=s.first,
                                                 last=s.last, folder=str(tmp_path / s.id), state="done")
        written = tmp_path / f"mattes_{rid}.otio"
        otio.adapters.write_to_file(matte_timeline(cut, shots, manifest), str(written))
        tl = otio.adapters.read_from_file(str(written))
        pictures, mattes = tl.video_tracks()
        placed = by_placement(shots)
        for i, (pic, mat) in enumerate(zip(pictures, mattes, strict=True)):
            assert type(pic) is type(mat)
            if not isinstance(pic, otio.schema.Clip):
                continue
            assert mat.source_range == pic.source_range
            assert [e.schema_name() for e in mat.effects] == [e.schema_name() for e in pic.effects]
            ref, shot = mat.media_reference, placed[i]
            rate = float(fps)
            scalar = 1.0
            for fx in mat.effects:
                scalar *= fx.time_scalar
            vis = mat.visible_range()
            head = round((mat.trimmed_range().start_time - vis.start_time).value)
            for k, frame in zip(range(-head, round(vis.duration.value) - head), shot.shown, strict=True):
                t = mat.trimmed_range().start_time.value + k * scalar
                number = ref.start_frame + math.floor(
                    t - ref.available_range.start_time.value_rescaled_to(rate) + 1e-6)
                assert number == frame, (rid, shot.id, k)
            assert ref.rate == pytest.approx(rate)


def test_failed_write_back_has_its_own_exit_code_and_keeps_the_results(media: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    text = """TITLE: small
001  A        V     C        01:00:00:03 01:00:00:05 01:00:00:00 01:00:00:02
* FROM CLIP NAME: A.mp4
"""
    cut = tmp_path / "small.edl"
    cut.write_text(text)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "segmatte.server.commands.batch", str(cut), "--out", str(out),
            "--media", str(media["10"]), "--local", "--json", "--otio-out"]
    run = subprocess.run([*args, str(blocker / "cut.otio")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, run.stderr
    assert "matte timeline could not be written" in run.stderr and "Traceback" not in run.stderr
    kept = mf.load(out)
    assert kept is not None and kept.counts() == {"done": 1}
    assert kept.shots["A"].notes == (f"relinked by clip name 'A.mp4' to {media['10'] / 'A.mp4'}",)
    assert sorted(p.name for p in (out / "A").glob("*.exr")) == ["A.0003.exr", "A.0004.exr"]
    ok = subprocess.run([*args, str(out / "cut.otio")], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr                     # 10 fps: written back too
    tl = otio.adapters.read_from_file(str(out / "cut.otio"))
    matte = tl.video_tracks()[1].find_clips()[0]
    assert matte.media_reference.rate == 10.0 and matte.media_reference.start_frame == 3


def _remap(speed: int, reverse: bool = False, variable: bool = False) -> str:
    return ("<filter><effect><name>Time Remap</name><effectid>timeremap</effectid>"
            "<effectcategory>motion</effectcategory><effecttype>motion</effecttype>"
            "<mediatype>video</mediatype>"
            f"<parameter><parameterid>variablespeed</parameterid><value>{int(variable)}</value></parameter>"
            f"<parameter><parameterid>speed</parameterid><value>{speed}</value></parameter>"
            f"<parameter><parameterid>reverse</parameterid><value>{str(reverse).upper()}</value>"
            "</parameter></effect></filter>")


def test_fcp_xml_time_remaps_are_read_to_source_frames(media: dict[str, Path], tmp_path: Path) -> None:
    """FCP 7 XML: OTIO's reader keeps a timeremap filter as a plain effect; here it becomes a
    LinearTimeWarp (200 %: every other frame; -200 % / reverse: backwards), and a variable
    speed remap fails its shot with the reason instead of matting the wrong frames."""
    tl = otio.schema.Timeline(name="remaps", global_start_time=RT(0, 25))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for name, start in (("fast", 4), ("back", 60), ("graph", 4)):
        ref = otio.schema.ExternalReference(
            target_url="file:///Volumes/RAID/C.mp4",
            available_range=TR(RT(hour(3, Fraction(25), False), 25), RT(72, 25)))
        track.append(otio.schema.Clip(name=name, media_reference=ref,
                                      source_range=TR(RT(hour(3, Fraction(25), False) + start, 25), RT(10, 25))))
    xml = tmp_path / "remaps.xml"
    otio.adapters.write_to_file(tl, str(xml), adapter_name="fcp_xml")
    text = xml.read_text()
    parts = text.split("</clipitem>")
    filters = [_remap(200), _remap(200, reverse=True), _remap(150, variable=True)]
    video = [i for i, p in enumerate(parts[:-1]) if "<clipitem" in p][:3]
    for i, f in zip(video, filters, strict=True):
        parts[i] += f
    xml.write_text("</clipitem>".join(parts))
    read = otio.adapters.read_from_file(str(xml))
    assert [c.source_range.start_time.value % 100 for c in read.find_clips()] == [4, 60, 4]
    shots = {s.name: s for s in read_shots(xml, media_dirs=[media["25"]])}
    assert list(shots["fast"].shown) == list(range(4, 24, 2))
    assert list(shots["back"].shown) == list(range(60, 40, -2))
    assert "variable speed" in shots["graph"].error
    manifest = mf.BatchManifest(input=str(xml), output=str(tmp_path))
    for s in shots.values():
        manifest.shots[s.id] = mf.ShotRecord(id=s.id, name=s.name, source=s.source, first=s.first,
                                             last=s.last, folder=str(tmp_path / s.id), state="done")
    back = matte_timeline(xml, list(shots.values()), manifest)
    warps = [[fx.time_scalar for fx in c.effects] for c in back.video_tracks()[1].find_clips()]
    assert warps == [[2.0], [-2.0]]          # the failed shot leaves a gap


def test_image_sequence_from_another_machine_is_relinked_by_its_name(tmp_path: Path) -> None:
    plates = tmp_path / "plates"
    clipgen.write_sequence(plates, "sh010", range(1001, 1013),
                           (np.full((24, 32, 3), 10 * i, np.uint8) for i in range(12)))
    tl = otio.schema.Timeline(name="vfx")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    ref = otio.schema.ImageSequenceReference(
        target_url_base="file:///Volumes/VFX/sh010/", name_prefix="sh010.", name_suffix=".exr",
        start_frame=1001, frame_zero_padding=4, rate=24,
        available_range=TR(RT(86400, 24), RT(12, 24)))
    track.append(otio.schema.Clip(name="sh010 v3", media_reference=ref,
                                  source_range=TR(RT(86402, 24), RT(6, 24))))
    cut = tmp_path / "vfx.otio"
    otio.adapters.write_to_file(tl, str(cut))
    (shot,) = read_shots(cut, media_dirs=[tmp_path])
    assert shot.error is None, shot.error
    assert Path(shot.source).parent == plates and (shot.first, shot.last) == (1003, 1008)
    assert any("sequence name 'sh010.exr'" in n for n in shot.notes)


def test_rates_snap_to_exact_rationals_and_count_drop_frame_like_otio() -> None:
    from segmatte.server.batch.rates import (
        RateError,
        edit_rate,
        frames_to_tc,
        guess_rate,
        snap,
        tc_to_frames,
    )

    assert snap("23.976") == Fraction(24000, 1001) and snap(23.976023976) == Fraction(24000, 1001)
    assert snap("29.97") == Fraction(30000, 1001) and snap("59.94") == Fraction(60000, 1001)
    assert snap("47.952") == Fraction(48000, 1001) and snap("25") == 25 and snap(10.0) == 10
    with pytest.raises(RateError):
        snap("fast")
    for fps in (Fraction(30000, 1001), Fraction(60000, 1001)):
        rate = edit_rate(fps, True)
        for n in (0, 1799, 1800, 17982, 17983, 107892, 215784, 2589407):
            label = otio.opentime.to_timecode(RT(n, float(fps)), float(fps), True)
            assert frames_to_tc(n, rate) == label and tc_to_frames(label, rate) == n
    assert tc_to_frames("01:00:00:05", edit_rate(10)) == 36005 and tc_to_frames("01:00:00:0", edit_rate(10)) == 36000
    assert guess_rate(23, None, None).fps == 24 and guess_rate(24, None, None).fps == 25
    assert guess_rate(24, None, Fraction(24)).fps == 25         # the media's 24 cannot hold frame 24
    assert guess_rate(20, True, None) == edit_rate("29.97", True)
    assert guess_rate(5, None, Fraction(10)).fps == 10
