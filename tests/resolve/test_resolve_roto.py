"""The roto loop in Resolve's window, against a real ``segmatte serve`` with a tiny track model.

The artist adds prompts on two frames (moving the playhead between them),
previews the current frame through a server session, runs the whole shot,
then corrects a later frame and runs again: only the frames from the
correction on are re-tracked, the earlier files keep their bytes and inodes.
The model is a randomly initialised SAM 2 of the real transformers class
(``track_hub``), so the mattes mean nothing; what is tested is the loop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import fake_resolve as fr
import pytest
from resolvekit import DURATION, LAUNCHER, LEFT_OFFSET, Host

from segmatte.server.output.exr import read_matte

FIRST, LAST = LEFT_OFFSET, LEFT_OFFSET + DURATION - 1


def stats(folder: Path) -> dict[int, tuple[int, int, bytes]]:
    """Frame → (inode, mtime_ns, bytes): a rewrite (temp file + rename) changes the inode."""
    out = {}
    for p in folder.glob("green_track.*.exr"):
        st = p.stat()
        out[int(p.name.split(".")[1])] = (st.st_ino, st.st_mtime_ns, p.read_bytes())
    return out


def wait_for(items: dict, *words: str):
    while not any(w in items["status"].Text for w in (*words, "failed", "cancelled")):
        yield


@pytest.fixture
def opened(track_server, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The track server for the window, and the keyword arguments of every
    ``session.open`` the window's client sends (the real call goes through)."""
    from segmatte.client.client import Client

    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(track_server.config_dir))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(track_server.data_dir))
    calls: list[dict] = []
    real_open = Client.session_open

    def session_open(self, source, **kw):
        calls.append(kw)
        return real_open(self, source, **kw)

    monkeypatch.setattr(Client, "session_open", session_open)
    return calls


def test_session_opens_on_the_playhead_frame_and_previews_at_the_comps_size(
        green_clip: str, opened: list[dict], scripts: Path, tmp_path: Path) -> None:
    """On a half-resolution timeline (32x24 for the 64x48 clip) the session opens on the
    playhead's source frame (the server embeds it before the reply) and the preview comes
    at the comp's size: the Loader lines up with the clip pixel for pixel."""
    host = Host(green_clip)
    host.timeline.resolution = (32, 24)
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "track" not in items["engine"].items:
            yield
        items["engine"].CurrentText = "track"
        host.timeline.playhead = host.record_start + 2  # source frame 5
        items["prompts"].PlainText = "+ 32 24"
        win.click("add")
        win.click("preview")
        yield from wait_for(items, "preview of frame 5 ready")
        # read before the window closes (closing the session removes its previews)
        seen["preview"] = read_matte(items["preview_info"].Text.rsplit(" — ", 1)[1])
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert [kw["frame"] for kw in opened] == [5]
    alpha, meta = seen["preview"]
    assert alpha.shape[:2] == (24, 32) and meta["frame"] == 5


def test_go_without_a_preview_opens_the_session_on_the_keyframe(
        green_clip: str, opened: list[dict], scripts: Path, tmp_path: Path) -> None:
    """Go straight after Add: the session is opened embedding the prompt's frame (the
    one the tracker starts from), not the range's first frame; Edges "refined" reaches
    the session's propagation as ``--refine guided``."""
    host = Host(green_clip)
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "track" not in items["engine"].items:
            yield
        items["engine"].CurrentText = "track"
        items["folder"].Text = str(tmp_path / "m")
        items["edges"].CurrentText = "refined"
        host.timeline.playhead = host.record_start + 3  # source frame 6
        items["prompts"].PlainText = "+ 32 24"
        win.click("add")
        win.click("go")
        yield from wait_for(items, "on a new track")
        seen["status"] = items["status"].Text
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert "on a new track" in seen["status"]
    assert [kw["frame"] for kw in opened] == [6]
    (manifest,) = (tmp_path / "m").glob("*.manifest.json")
    assert json.loads(manifest.read_text())["spec"]["finish"]["refine"] == "guided"


@pytest.mark.parametrize("reading", fr.readings("comps"), ids=str, indirect=True)
def test_prompts_on_two_frames_preview_run_and_correct(reading: fr.Reading, green_clip: str,
                                                       track_server, scripts: Path,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(track_server.config_dir))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(track_server.data_dir))
    host = Host(green_clip)
    out = tmp_path / "m"
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "track" not in items["engine"].items:
            yield
        items["engine"].CurrentText = "track"
        items["attach"].CurrentText = "track"
        items["folder"].Text = str(out)
        host.timeline.playhead = host.record_start + 1  # the artist scrubs to source frame 4
        items["prompts"].PlainText = "+ 32 24"
        win.click("add")
        host.timeline.playhead = host.record_start + 2  # … and to 5
        items["prompts"].PlainText = "box 16 12 48 36"
        win.click("add")
        seen["keys"] = list(items["keys"].items)

        win.click("preview")
        yield from wait_for(items, "preview of frame 5 ready")
        seen["preview_status"] = items["status"].Text
        seen["preview_info"] = items["preview_info"].Text
        seen["preview_shape"] = read_matte(seen["preview_info"].rsplit(" — ", 1)[1])[0].shape
        comp = host.item.comps[0] if host.item.comps else None
        seen["preview_tools"] = [t.inputs.get("Clip") for t in comp.tools
                                 if t.name == "segmatte_preview"] if comp else None

        win.click("go")
        yield from wait_for(items, "on a new track")
        seen["first_run"] = items["status"].Text
        seen["before"] = stats(out)

        host.timeline.playhead = host.record_start + 4  # a correction on source frame 7
        items["prompts"].PlainText = "- 40 30"
        win.click("add")
        win.click("go")
        yield from wait_for(items, "updated in place")
        seen["second_run"] = items["status"].Text
        seen["after"] = stats(out)
        seen["keys_after"] = list(items["keys"].items)
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)

    assert seen["keys"] == ["frame 4: 1 point", "frame 5: 1 box"]
    assert seen["preview_status"].startswith("preview of frame 5 ready: score "), seen
    path = Path(seen["preview_info"].rsplit(" — ", 1)[1])
    assert path.name == "preview_object.0005.exr" and path.parent.parent.name == "sessions"
    assert seen["preview_shape"][:2] == (48, 64)  # the timeline says nothing: source size
    if reading.comps == "one":  # the item has a comp: the preview shows in a Loader there
        assert seen["preview_tools"] == [str(path)]
        assert "(Loader segmatte_preview in the Fusion comp)" in seen["preview_info"]
    else:  # no comp is made just for a preview
        assert seen["preview_tools"] is None and fr.calls("AddFusionComp") == []

    assert "on a new track above green.mp4" in seen["first_run"], seen["first_run"]
    before, after = seen["before"], seen["after"]
    assert sorted(before) == list(range(FIRST, LAST + 1))
    alpha, meta = read_matte(out / f"green_track.{FIRST:04d}.exr")
    assert alpha.shape[:2] == (48, 64) and meta["frame"] == FIRST

    assert seen["second_run"] == "re-tracked frames 7-8; the attached mattes were updated in place"
    assert seen["keys_after"] == ["frame 4: 1 point", "frame 5: 1 box", "frame 7: 1 point"]
    assert {n: before[n] for n in range(FIRST, 7)} == {n: after[n] for n in range(FIRST, 7)}
    assert all(after[n][0] != before[n][0] for n in (7, 8))  # rewritten: new inodes
    # the matte was attached once: one import, one track above; no second copy
    assert len(fr.calls("ImportMedia")) == 1 and len(host.timeline.tracks) == 2
    # the window closed: its preview Loader went with it
    assert all(t.name != "segmatte_preview" for c in host.item.comps for t in c.tools)
    assert os.path.isfile(out / "green_track.manifest.json")


def test_fusion_comp_script_previews_in_a_loader_at_the_prompt_frames_comp_time(
        green_clip: str, track_server, scripts: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Standalone Fusion: the selected Loader shows source frames 5..10 at comp times
    105..110; a preview of the frame under CurrentTime 107 lands at comp time 107."""
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(track_server.config_dir))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(track_server.data_dir))
    comp = fr.Comp(render=(105, 110))
    src = comp._add("Loader")
    src.inputs.update({"Clip": green_clip, "GlobalIn": 100, "GlobalOut": 111,
                       "ClipTimeStart": 0, "ClipTimeEnd": 11})
    src.attrs.update({"TOOLIT_Clip_Width": {1: 64}, "TOOLIT_Clip_Height": {1: 48}})
    src.selected = True
    comp.CurrentTime = 107
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "track" not in items["engine"].items:
            yield
        items["engine"].CurrentText = "track"
        items["prompts"].PlainText = "+ 32 24"
        win.click("preview")  # typed text goes on the frame under CurrentTime
        yield from wait_for(items, "ready")
        seen["status"] = items["status"].Text
        seen["keys"] = list(items["keys"].items)
        seen["loader"] = next((dict(t.inputs) for t in comp.tools
                               if t.name == "segmatte_preview"), None)
        win.close()

    Host(green_clip).run(scripts / "Comp" / LAUNCHER, play, comp=comp, with_resolve=False)
    assert seen["status"].startswith("preview of frame 7 ready"), seen
    assert seen["keys"] == ["frame 7: 1 point"]
    assert seen["loader"]["Clip"].endswith("preview_object.0007.exr")
    assert (seen["loader"]["GlobalIn"], seen["loader"]["GlobalOut"]) == (107, 107)
    assert [t.name for t in comp.tools] == ["Loader1"]  # the preview went with the window
