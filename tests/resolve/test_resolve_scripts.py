"""The real Resolve and Fusion menu scripts, run against the fake API and a real server.

Each test plays the artist through the UIManager fake (pick, type, Go, wait,
close), lets a real ``segmatte serve`` write real EXR mattes with the key
engine, and checks what the scripts asked Resolve/Fusion to do with them —
under every reading of the README's open points that the test's calls touch
(``reading`` is parametrised over fake_resolve.Reading): the result must be
right under each, by reading back and correcting, or a clear stop.
"""

from __future__ import annotations

import json
from pathlib import Path

import fake_resolve as fr
import pytest
from resolvekit import DURATION, FRAMES, LAUNCHER, LEFT_OFFSET, RECORD_START, H, Host, W, artist

FIRST, LAST = LEFT_OFFSET, LEFT_OFFSET + DURATION - 1


def finished(*words: str):
    return lambda status: any(w in status for w in (*words, "failed", "cancelled"))


def seen_frame(play) -> int:
    """The playhead frame the window showed ("... the playhead is on frame N")."""
    return int(play.clip.split("the playhead is on frame ")[1].split(".")[0].split()[0])


def matte_files(folder: Path, stem: str) -> list[Path]:
    return sorted(folder.glob(f"{stem}.*.exr"))


@pytest.fixture
def host(green_clip: str, resolve_server) -> Host:
    return Host(green_clip)


APPEND = fr.readings("append_start", "append_end")
ASKED = {("zero", "inclusive"): (0, DURATION - 1), ("zero", "exclusive"): (0, DURATION),
         ("file", "inclusive"): (FIRST, LAST), ("file", "exclusive"): (FIRST, LAST + 1)}
"""What AppendToTimeline must be asked, under each reading, for the whole matte."""


@pytest.mark.parametrize("reading", APPEND, ids=str, indirect=True)
def test_track_above_imports_the_sequence_and_lines_it_up(reading: fr.Reading, host: Host,
                                                          scripts: Path, tmp_path: Path) -> None:
    out = tmp_path / "mattes"
    play = artist({"engine": "key", "attach": "track", "folder": str(out)},
                  finished("new track"))
    host.run(scripts / "Utility" / LAUNCHER, play)
    assert "on a new track above green.mp4" in play.status, play.status

    files = matte_files(out, "green_key")
    assert [int(f.name.split(".")[1]) for f in files] == list(range(FIRST, LAST + 1))
    (imported,) = fr.calls("ImportMedia")
    assert imported[0] == [{"FilePath": str(out / "green_key.%04d.exr"),
                            "StartIndex": FIRST, "EndIndex": LAST}]
    bins = host.project.media_pool.root.subfolders
    assert [b.name for b in bins] == ["segmatte"] and len(bins[0].clips) == 1
    matte_item = bins[0].clips[0]
    assert matte_item.props["File Path"] == str(out / f"green_key.[{FIRST:04d}-{LAST:04d}].exr")
    assert host.project.media_pool.current_folder is host.project.media_pool.root  # restored
    assert fr.calls("AddTrack") == [("video",)]
    *_, appended = fr.calls("AppendToTimeline")  # the reading that fitted comes last
    start, end = ASKED[(reading.append_start, reading.append_end)]
    assert appended[0] == [{"mediaPoolItem": matte_item, "startFrame": start,
                            "endFrame": end, "mediaType": 1, "trackIndex": 2,
                            "recordFrame": RECORD_START}]
    assert len(host.timeline.tracks) == 2
    (placed,) = host.timeline.tracks[1]  # the wrong tries were deleted again
    assert (placed.start, placed.duration, placed.left_offset) == (RECORD_START, DURATION, 0)
    assert play.progress.endswith(f"{DURATION}/{DURATION}")


@pytest.mark.parametrize("reading", fr.readings("mattes"), ids=str, indirect=True)
def test_clip_matte_and_prompt_on_the_playhead_frame(reading: fr.Reading, host: Host,
                                                      scripts: Path, tmp_path: Path) -> None:
    """A centre-of-frame prompt is not sent to an engine that takes none, and the
    sequence becomes one clip matte of the source item: from the frame files, or (when
    Resolve made N stills of them) from its ``[a-b]`` name; or a clear stop, nothing left."""
    out = tmp_path / "mattes"
    play = artist({"engine": "key", "attach": "clip matte", "folder": str(out),
                   "options": '{"screen": "green"}'},
                  finished("clip matte", "Add as Matte"), centre=True)
    host.run(scripts / "Utility" / LAUNCHER, play)
    files = matte_files(out, "green_key")
    assert len(files) == DURATION
    ranged = str(out / f"green_key.[{FIRST:04d}-{LAST:04d}].exr")
    tried = [args[1] for args in fr.calls("AddClipMattesToMediaPool")]
    if reading.mattes == "one":
        assert "clip matte of green.mp4" in play.status, play.status
        assert tried == [[str(f) for f in files]]
        assert len(host.source.mattes) == 1
    elif reading.mattes == "stills":
        assert "clip matte of green.mp4" in play.status, play.status
        assert tried == [[str(f) for f in files], [ranged]]
        assert host.source.mattes == [ranged]  # the six stills were deleted again
    else:
        assert "did not make one clip matte" in play.status, play.status
        assert "6 paths (files): accepted, 6 mattes made" in play.status
        assert "Add as Matte" in play.status and host.source.mattes == []
    manifest = json.loads((out / "green_key.manifest.json").read_text())
    spec = manifest["spec"]
    assert spec["range"] == {"first": FIRST, "last": LAST}
    assert spec["options"] == {"screen": "green"}
    # the key engine takes no prompts (the server's engines reply says so): the window keeps
    # the centre prompt in its list but does not send it (the server would refuse it)
    assert spec["objects"] == []


@pytest.mark.parametrize("reading", fr.readings("comps"), ids=str, indirect=True)
def test_fusion_comp_gets_a_loader_through_a_matte_control(reading: fr.Reading, host: Host,
                                                            scripts: Path, tmp_path: Path) -> None:
    """A fresh clip comp (MediaIn1 → MediaOut1): the matte Loader is lined up with MediaIn1
    and cuts it out through a MatteControl inserted before MediaOut1."""
    out = tmp_path / "mattes"
    play = artist({"engine": "key", "attach": "fusion", "folder": str(out)}, finished("cuts"))
    host.run(scripts / "Utility" / LAUNCHER, play)
    assert "MatteControl1 cuts MediaIn1 out with Loader1" in play.status, play.status

    (comp,) = host.item.comps
    tools = {t.name: t for t in comp.tools}
    loader, mc = tools["Loader1"], tools["MatteControl1"]
    assert loader.inputs == {"Clip": str(out / f"green_key.{FIRST:04d}.exr"), "GlobalIn": 0,
                             "GlobalOut": DURATION - 1, "ClipTimeStart": 0,
                             "ClipTimeEnd": DURATION - 1}
    assert mc.links == {"Background": tools["MediaIn1"], "GarbageMatte": loader}
    assert mc.inputs == {"InvertGarbageMatte": 1}
    assert tools["MediaOut1"].links["Input"] is mc
    assert comp.locked == 0 and comp.undo == ["segmatte matte"]
    assert len(fr.calls("AddFusionComp")) == (1 if reading.comps == "none" else 0)
    # (GetFusionCompByIndex on an item without comps raises in the fake: never called so)


def test_fusion_comp_with_a_grade_gets_an_effect_mask(host: Host, scripts: Path,
                                                       tmp_path: Path) -> None:
    comp = fr.Comp.clip_comp(DURATION)
    grade = comp._add("ColorCorrector")
    grade.links["Input"] = comp.tools[0]
    comp.tools[1].links["Input"] = grade
    host.item.comps[:] = [comp]
    play = artist({"engine": "key", "attach": "fusion", "folder": str(tmp_path / "m")},
                  finished("effect mask"))
    host.run(scripts / "Utility" / LAUNCHER, play)
    assert "Loader1 is the effect mask of ColorCorrector1" in play.status, play.status
    assert grade.links["EffectMask"].name == "Loader1"
    assert fr.calls("AddFusionComp") == []


def test_fusion_comp_script_on_a_selected_loader(green_clip: str, resolve_server, scripts: Path,
                                                 tmp_path: Path) -> None:
    """Standalone Fusion: the selected Loader's render-range part is matted and a matte
    Loader shows each matte at the comp time its picture is shown."""
    comp = fr.Comp(render=(105, 110))
    src = comp._add("Loader")
    src.inputs.update({"Clip": green_clip, "GlobalIn": 100, "GlobalOut": 100 + FRAMES - 1,
                       "ClipTimeStart": 0, "ClipTimeEnd": FRAMES - 1})
    src.attrs.update({"TOOLIT_Clip_Width": {1: W}, "TOOLIT_Clip_Height": {1: H}})
    src.selected = True
    comp.CurrentTime = 107
    host = Host(green_clip)
    play = artist({"engine": "key", "folder": str(tmp_path / "m")}, finished("cuts"),
                  prompts="+ 10 10")
    host.run(scripts / "Comp" / LAUNCHER, play, comp=comp, with_resolve=False)
    assert "MatteControl1 cuts Loader1 out with Loader2" in play.status, play.status

    tools = {t.name: t for t in comp.tools}
    matte = tools["Loader2"]
    assert matte.inputs["Clip"].endswith("green_key.0005.exr")
    assert (matte.inputs["GlobalIn"], matte.inputs["GlobalOut"]) == (105, 110)
    assert (matte.inputs["ClipTimeStart"], matte.inputs["ClipTimeEnd"]) == (0, 5)
    assert tools["MatteControl1"].links == {"Background": src, "GarbageMatte": matte}
    assert len(matte_files(tmp_path / "m", "green_key")) == 6


def test_no_clip_under_the_playhead_says_so(green_clip: str, resolve_server, scripts: Path) -> None:
    host = Host(green_clip, current=False)
    seen = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while not items["engine"].items:
            yield
        seen["clip"] = items["clip"].Text
        win.click("go")
        seen["status"] = items["status"].Text
        host.timeline.current = host.item  # the artist puts the playhead over the clip
        win.click("go")
        seen["again"] = items["status"].Text
        yield
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert seen["clip"].startswith("No clip: put the playhead over a video clip")
    assert seen["status"] == seen["clip"]
    assert seen["again"] == "submitting…"
    assert fr.calls("ImportMedia") == []


def test_bad_prompt_is_refused_in_the_panel(host: Host, scripts: Path) -> None:
    seen = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while not items["engine"].items:
            yield
        items["prompts"].PlainText = "+ 10 10\nbox 5 5 500 40"
        win.click("go")
        seen["status"] = items["status"].Text
        items["prompts"].PlainText = ""
        items["options"].Text = "{screen: blue}"
        win.click("go")
        seen["options"] = items["status"].Text
        items["options"].Text = ""
        items["engine"].CurrentText = "key"
        win.click("preview")
        seen["preview"] = items["status"].Text
        win.click("add")
        seen["add_empty"] = items["status"].Text
        items["prompts"].PlainText = "+ 1 1\nbox 9 9 2 2"
        win.click("add")
        seen["add_bad"] = items["status"].Text
        seen["keys"] = list(items["keys"].items)
        items["prompts"].PlainText = ""
        if "track" in items["engine"].items:  # a prompted engine without a prompt
            items["engine"].CurrentText = "track"
            win.click("go")
            seen["track"] = items["status"].Text
        win.close()
        yield

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert seen["status"] == f"line 2: (500, 40) is outside the {W}x{H} frame"
    assert seen["options"].startswith("options must be JSON")
    assert seen["preview"].startswith("preview works with the track or text engine")
    assert seen["add_empty"] == "type a prompt first (or press Centre of frame)"
    assert seen["add_bad"].startswith("line 2: a box needs x1 > x0") and seen["keys"] == []
    assert seen.get("track", "the track engine needs a prompt: a point or a box") == (
        "the track engine needs a prompt: a point or a box")
    assert fr.calls("ImportMedia") == []


def test_fusion_page_comp_script_on_a_selected_media_in(host: Host, scripts: Path,
                                                        tmp_path: Path) -> None:
    """On Resolve's Fusion page a MediaIn names no file: the clip comes from the timeline
    item, and the matte Loader lines up with the MediaIn's GlobalIn."""
    comp = fr.Comp.clip_comp(DURATION)
    media_in = comp.tools[0]
    media_in.inputs["GlobalIn"], media_in.inputs["GlobalOut"] = 1000, 1000 + DURATION - 1
    media_in.selected = True
    comp.CurrentTime = 1003  # the Fusion page's playhead: 3 frames into the MediaIn
    host.item.comps[:] = [comp]
    host.resolve.page = "fusion"
    play = artist({"engine": "key", "folder": str(tmp_path / "m")}, finished("cuts"))
    host.run(scripts / "Comp" / LAUNCHER, play, comp=comp)
    assert "MatteControl1 cuts MediaIn1 out with Loader1" in play.status, play.status
    tools = {t.name: t for t in comp.tools}
    loader = tools["Loader1"]
    assert loader.inputs["Clip"] == str(tmp_path / "m" / f"green_key.{FIRST:04d}.exr")
    assert (loader.inputs["GlobalIn"], loader.inputs["GlobalOut"]) == (1000, 1000 + DURATION - 1)
    assert tools["MediaOut1"].links["Input"] is tools["MatteControl1"]
    assert fr.calls("ImportMedia") == []
    assert fr.calls("GetCurrentTimecode") == []  # undocumented on the Fusion page
    assert seen_frame(play) == FIRST + 3  # comp time 1003 against GlobalIn 1000
