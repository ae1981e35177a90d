"""The Resolve window's text prompt and Shapes button, against a real ``segmatte serve``.

Text: the typed text goes on the playhead's source frame (as ``--text
"green disc"@FRAME``), the window switches to the text engine, and the job
(a tiny random SAM 3 on the server) writes one layer per instance slot.
Shapes: the job's Fusion ``.setting`` is pasted into the item's Fusion comp
(``bmd.readfile`` + ``Comp.Paste``, documented in the Fusion Scripting Guide),
its keyframes moved from source frames to comp times; after a job without
shapes, the same job goes again with them and every matte is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import fake_resolve as fr
import pytest
from resolvekit import DURATION, LAUNCHER, LEFT_OFFSET, Host
from serverkit import ServerProcess

from segmatte.client.jobspec import text_label


def wait_for(items, *words):
    while not any(w in items["status"].Text for w in (*words, "failed")):
        yield
    assert "failed" not in items["status"].Text, items["status"].Text


@pytest.fixture(scope="module")
def text_server(tmp_path_factory: pytest.TempPathFactory):
    from tiny_text import save_to_hub

    hub = save_to_hub(tmp_path_factory.mktemp("resolve-text-hub"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(hub))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("SEGMATTE_TORCH_THREADS", "1")
        srv = ServerProcess(tmp_path_factory.mktemp("resolve-text-server")).start()
    yield srv
    srv.stop(30)


@pytest.fixture
def on_server(text_server, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(text_server.config_dir))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(text_server.data_dir))
    return text_server


def _masks(comp: fr.Comp) -> dict[str, fr.Tool]:
    return {t.name: t for t in comp.tools if t.reg_id == "PolylineMask"}


def _check_pasted(comp: fr.Comp) -> None:
    """Polygon masks keyed on the comp times that show source frames 3..8 (0..5 here)."""
    masks = _masks(comp)
    assert masks, [t.name for t in comp.tools]
    tools = {t.name: t for t in comp.tools}
    for mask in masks.values():
        spline = tools[mask.inputs["Polyline"]["SourceOp"]]
        assert spline.reg_id == "BezierSpline"
        assert sorted(spline.setting["KeyFrames"]) == list(range(DURATION))
    assert comp.locked == 0 and "segmatte shapes" in comp.undo


def test_text_prompt_finds_instances(green_clip: str, on_server, scripts: Path,
                                     tmp_path: Path) -> None:
    host = Host(green_clip)
    out = tmp_path / "m"
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "text" not in items["engine"].items:
            yield
        items["engine"].CurrentText = "key"
        items["folder"].Text = str(out)
        items["options"].Text = '{"max_instances": 2}'
        win.click("find")
        seen["empty"] = items["status"].Text
        host.timeline.playhead = host.record_start + 2  # source frame 5
        items["text"].Text = "green disc"
        win.click("find")
        seen["engine"] = items["engine"].CurrentText
        seen["keys"] = list(items["keys"].items)
        items["attach"].CurrentText = "track"
        items["direction"].CurrentText = "both"
        win.click("go")
        yield from wait_for(items, "new track")
        seen["status"] = items["status"].Text
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert seen["empty"] == "type what to find (e.g. red car) in the Text field first"
    assert seen["engine"] == "text"
    assert seen["keys"] == ["frame 5: find 'green disc'"]
    assert text_label("green disc") == "disc"
    for layer in ("disc_1", "disc_2"):
        assert sorted(p.name for p in out.glob(f"green_text_{layer}.*.exr")) == [
            f"green_text_{layer}.{n:04d}.exr" for n in range(LEFT_OFFSET, LEFT_OFFSET + DURATION)]


def test_text_on_an_engine_without_text_is_refused(green_clip: str, on_server, scripts: Path,
                                                   tmp_path: Path) -> None:
    host = Host(green_clip)
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "text" not in items["engine"].items:
            yield
        items["text"].Text = "green disc"
        win.click("find")
        items["engine"].CurrentText = "key"
        items["folder"].Text = str(tmp_path / "m")
        win.click("go")
        seen["status"] = items["status"].Text
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert seen["status"] == ("the key engine cannot take the text prompt 'green disc': "
                              "choose the text engine")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("reading", fr.readings("comps"), ids=str, indirect=True)
def test_shapes_option_then_shapes_button(reading: fr.Reading, green_clip: str, on_server,
                                          scripts: Path, tmp_path: Path) -> None:
    host = Host(green_clip)
    out = tmp_path / "m"
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while not items["engine"].items:
            yield
        win.click("make_shapes")
        seen["early"] = items["status"].Text
        items["engine"].CurrentText = "key"
        items["attach"].CurrentText = "track"
        items["shapes"].CurrentText = "fusion,json"
        items["folder"].Text = str(out)
        win.click("go")
        yield from wait_for(items, "new track")
        jobs = len(fr.calls("AddTrack"))
        win.click("make_shapes")
        seen["status"] = items["status"].Text
        seen["tracks"] = len(fr.calls("AddTrack")) - jobs
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert seen["early"] == "run a job first: Shapes traces its mattes"
    assert {"green_key.setting", "green_key.shapes.json"} <= {p.name for p in out.iterdir()}
    assert seen["status"].startswith("added 1 Polygon mask(s) to the Fusion comp: "), seen
    assert seen["tracks"] == 0
    (comp,) = host.item.comps
    _check_pasted(comp)
    assert len(fr.calls("AddFusionComp")) == (1 if reading.comps == "none" else 0)
    (read,) = fr.calls("readfile")
    assert os.path.basename(read[0]) == "green_key.setting" and not os.path.exists(read[0])


def test_shapes_button_after_a_job_without_shapes(green_clip: str, on_server, scripts: Path,
                                                  tmp_path: Path) -> None:
    host = Host(green_clip)
    out = tmp_path / "m"
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while not items["engine"].items:
            yield
        items["engine"].CurrentText = "key"
        items["attach"].CurrentText = "track"
        items["folder"].Text = str(out)
        win.click("go")
        yield from wait_for(items, "new track")
        seen["first"] = sorted(p.name for p in out.iterdir())
        stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.exr")}
        win.click("make_shapes")
        seen["after_click"] = items["status"].Text
        while "Polygon mask" not in items["status"].Text:
            assert "failed" not in items["status"].Text, items["status"].Text
            yield
        seen["status"] = items["status"].Text
        seen["same_mattes"] = stamps == {p.name: p.stat().st_mtime_ns for p in out.glob("*.exr")}
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert "green_key.setting" not in seen["first"], seen
    assert seen["after_click"] == "making shapes of the mattes on the server…"
    assert seen["status"].startswith("added 1 Polygon mask(s)"), seen["status"]
    assert seen["same_mattes"]
    assert len(fr.calls("AddTrack")) == 1  # the shapes job attached nothing
    (comp,) = host.item.comps
    _check_pasted(comp)


def test_fusion_comp_script_pastes_shapes_at_the_loaders_comp_times(
        green_clip: str, on_server, scripts: Path, tmp_path: Path) -> None:
    """Standalone Fusion: the selected Loader shows source frames 5..10 at comp times
    105..110, so the pasted masks are keyed there."""
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
        while not items["engine"].items:
            yield
        items["engine"].CurrentText = "key"
        items["shapes"].CurrentText = "fusion"
        items["folder"].Text = str(tmp_path / "m")
        win.click("go")
        yield from wait_for(items, "cuts")
        win.click("make_shapes")
        seen["status"] = items["status"].Text
        win.close()

    Host(green_clip).run(scripts / "Comp" / LAUNCHER, play, comp=comp, with_resolve=False)
    assert seen["status"].startswith("added 1 Polygon mask(s)"), seen["status"]
    tools = {t.name: t for t in comp.tools}
    (mask,) = _masks(comp).values()
    keys = tools[mask.inputs["Polyline"]["SourceOp"]].setting["KeyFrames"]
    assert sorted(keys) == list(range(105, 111))


def test_text_preview_at_the_playhead_then_go_propagates(green_clip: str, on_server,
                                                         scripts: Path, tmp_path: Path) -> None:
    """With the text engine, Preview runs the text prompt at the playhead through a text
    session (the union of the instances found), Go propagates that session; a text that
    finds nothing says so in one sentence."""
    host = Host(green_clip)
    out = tmp_path / "m"
    seen: dict = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while "text" not in items["engine"].items:
            yield
        items["folder"].Text = str(out)
        items["options"].Text = '{"detection_threshold": 1.0}'
        host.timeline.playhead = host.record_start + 2  # source frame 5
        items["text"].Text = "person"
        win.click("find")
        win.click("preview")
        yield from wait_for(items, "found nothing", "ready")
        seen["nothing"] = items["status"].Text
        items["keys"].CurrentText = "frame 5: find 'person'"
        win.click("remove")
        items["options"].Text = '{"detection_threshold": 0.68, "max_instances": 5, "nms_iou": 1.0}'
        items["text"].Text = "green disc"
        win.click("find")
        win.click("preview")
        yield from wait_for(items, "ready", "found nothing")
        seen["status"] = items["status"].Text
        seen["info"] = items["preview_info"].Text
        items["attach"].CurrentText = "track"
        items["direction"].CurrentText = "both"
        win.click("go")
        yield from wait_for(items, "new track")
        win.close()

    host.run(scripts / "Utility" / LAUNCHER, play)
    assert seen["nothing"] == ("'person' found nothing on frame 5: try other words or a lower "
                               "detection_threshold"), seen
    assert seen["status"].startswith("preview of frame 5 ready: score "), seen
    assert ", found disc_1" in seen["status"]
    assert seen["info"].rsplit(" — ", 1)[1].endswith("preview_disc.0005.exr")  # the union
    found = seen["status"].split(", found ", 1)[1].split(", ")
    for layer in found:
        assert sorted(p.name for p in out.glob(f"green_text_{layer}.*.exr")) == [
            f"green_text_{layer}.{n:04d}.exr" for n in range(LEFT_OFFSET, LEFT_OFFSET + DURATION)]
