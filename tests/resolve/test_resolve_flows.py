"""More of the artist's paths: an image-sequence source, cancelling, no server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import clipgen
import fake_resolve as fr
import pytest
from resolvekit import LAUNCHER, H, Host, W, artist
from serverkit import ServerProcess, free_port


@pytest.fixture(scope="session")
def green_sequence(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Green-screen frames 1001..1012 as EXRs: Resolve shows them as gs.[1001-1012].exr."""
    folder = tmp_path_factory.mktemp("resolve-seq")
    numbers = range(1001, 1013)
    clipgen.write_sequence(folder, "gs", numbers,
                           (clipgen.green_screen(n - 1001, W, H)[0] for n in numbers),
                           ext="exr", dtype="half")
    return folder


@pytest.mark.parametrize("reading", fr.readings("source_base", "append_start", "append_end"),
                         ids=str, indirect=True)
def test_image_sequence_source_keeps_its_file_numbers(reading: fr.Reading, green_sequence: Path,
                                                      resolve_server, scripts: Path,
                                                      tmp_path: Path) -> None:
    """Under every reading of GetSourceStartFrame's base and AppendToTimeline's frames, the
    mattes carry the file numbers the item shows and sit frame for frame above it."""
    host = Host(str(green_sequence / "gs.[1001-1012].exr"), first=1001)
    host.item.left_offset, host.item.duration = 2, 5  # shows files 1003..1007
    out = tmp_path / "m"
    play = artist({"engine": "key", "attach": "track", "folder": str(out)},
                  lambda s: any(w in s for w in ("new track", "failed")))
    host.run(scripts / "Utility" / LAUNCHER, play)
    assert "on a new track" in play.status, play.status
    assert sorted(p.name for p in out.glob("*.exr")) == [f"gs_key.{n}.exr"
                                                         for n in range(1003, 1008)]
    (imported,) = fr.calls("ImportMedia")
    assert imported[0] == [{"FilePath": str(out / "gs_key.%04d.exr"),
                            "StartIndex": 1003, "EndIndex": 1007}]
    (placed,) = host.timeline.tracks[1]
    assert (placed.start, placed.duration, placed.left_offset) == (host.item.start, 5, 0)
    *_, last = fr.calls("AppendToTimeline")
    base = 1003 if reading.append_start == "file" else 0
    assert (last[0][0]["startFrame"], last[0][0]["endFrame"]) == (
        base, base + 4 + (reading.append_end == "exclusive"))


def test_edges_refined_asks_the_job_for_the_guided_refine(green_clip: str, resolve_server,
                                                          scripts: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    play = artist({"engine": "key", "attach": "track", "folder": str(out), "edges": "refined"},
                  lambda s: any(w in s for w in ("new track", "failed")))
    Host(green_clip).run(scripts / "Utility" / LAUNCHER, play)
    assert "on a new track" in play.status, play.status
    (manifest,) = out.glob("*.manifest.json")
    assert json.loads(manifest.read_text())["spec"]["finish"]["refine"] == "guided"


def test_cancel_stops_the_job_and_attaches_nothing(green_clip: str, scripts: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    srv = ServerProcess(tmp_path / "slow", slow=1.0).start()  # room to cancel on a busy machine
    try:
        monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(srv.config_dir))
        monkeypatch.setenv("SEGMATTE_DATA_DIR", str(srv.data_dir))
        host = Host(green_clip)
        seen = {}

        def play(win: fr.Window):
            items = win.GetItems()
            while not items["engine"].items:
                yield
            items["engine"].CurrentText = "key"
            items["folder"].Text = str(tmp_path / "m")
            win.click("go")
            while "frames" not in items["status"].Text:  # running: "1/6 frames, ..."
                yield
            win.click("cancel")
            while "cancelled after" not in items["status"].Text:
                assert "failed" not in items["status"].Text, items["status"].Text
                yield
            seen["status"] = items["status"].Text
            win.click("cancel")  # nothing running now: Cancel closes the window

        host.run(scripts / "Utility" / LAUNCHER, play)
        assert seen["status"].startswith("cancelled after")
        assert fr.calls("ImportMedia") == [] and fr.calls("AddTrack") == []

        def close_mid_job(win: fr.Window):
            items = win.GetItems()
            while not items["engine"].items:
                yield
            items["folder"].Text = str(tmp_path / "m2")
            win.click("go")
            while "frames" not in items["status"].Text:
                yield
            win.close()  # closing the window cancels the job on the server

        host.run(scripts / "Utility" / LAUNCHER, close_mid_job)
        watcher = srv.client(name="pytest")
        try:
            deadline = time.monotonic() + 60
            while True:  # both jobs (Cancel button, closed window) end cancelled
                states = sorted(j.get("state") for j in watcher.jobs())
                if states == ["cancelled", "cancelled"]:
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.2)
        finally:
            watcher.close()
    finally:
        srv.stop(10)


def test_no_server_is_reported_in_the_panel(green_clip: str, scripts: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("SEGMATTE_ADDRESS", f"tcp://127.0.0.1:{free_port()}")
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.syspath_prepend(str(scripts / "segmatte_support"))
    from segmatte_resolve import job

    monkeypatch.setattr(job, "CONNECT_TIMEOUT_S", 0.5)
    seen = {}

    def play(win: fr.Window):
        items = win.GetItems()
        while not items["status"].Text.startswith("segmatte server:"):
            yield
        seen["status"] = items["status"].Text
        win.click("go")
        seen["after_go"] = items["status"].Text
        win.close()

    Host(green_clip).run(scripts / "Utility" / LAUNCHER, play)
    assert "no segmatte server answered" in seen["status"]
    assert "segmatte serve" in seen["status"]
    assert seen["after_go"].startswith("no engine yet: is `segmatte serve` running?")
