"""Fixtures for the Resolve/Fusion script tests: one real server, one install, fake hosts.

The server is a real ``segmatte serve`` subprocess (tests/integration/serverkit.py)
with its own config and data folders; the scripts find it the way they do in
Resolve, through ``SEGMATTE_CONFIG_DIR`` / ``SEGMATTE_DATA_DIR`` (token and
endpoint file). The scripts run from a real ``segmatte install resolve`` into a
temporary home, so what is tested is what an artist gets.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parent))

import clipgen  # noqa: E402
import fake_resolve as fr  # noqa: E402
from serverkit import ServerProcess  # noqa: E402

from segmatte.server.installers import resolve as installer  # noqa: E402

W, H = 64, 48
FRAMES = 12
RECORD_START = 86400 + 48
"""Timeline frame where the test item starts (01:00:02:00 at 24 fps)."""
LEFT_OFFSET = 3
DURATION = 6
"""The item shows source frames 3..8 of the 12-frame clip."""
LAUNCHER = installer.LAUNCHER


@pytest.fixture(scope="session")
def green_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("resolve-media")
    return clipgen.write_green_screen_clip(folder / "green.mp4", FRAMES, W, H)


@pytest.fixture(scope="session")
def resolve_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("resolve-server")).start()
    saved = {k: os.environ.get(k) for k in ("SEGMATTE_CONFIG_DIR", "SEGMATTE_DATA_DIR",
                                             "SEGMATTE_ADDRESS")}
    os.environ["SEGMATTE_CONFIG_DIR"] = str(srv.config_dir)
    os.environ["SEGMATTE_DATA_DIR"] = str(srv.data_dir)
    os.environ.pop("SEGMATTE_ADDRESS", None)
    yield srv
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    srv.stop(10)


@pytest.fixture(scope="session")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user Scripts folder of a fresh Linux-layout install."""
    home = tmp_path_factory.mktemp("home")
    folder = installer.scripts_dir("linux", home)
    installer.install(folder)
    return folder


class Host:
    """A small Resolve project: one timeline, the green clip on V1 under the playhead."""

    def __init__(self, clip: str, *, current: bool = True, playhead_offset: int = 2) -> None:
        fr.CALLS.clear()
        self.timeline = fr.Timeline("Edit 1")
        self.project = fr.Project(self.timeline)
        self.resolve = fr.Resolve(self.project)
        self.source = fr.MediaPoolItem(os.path.basename(clip), {
            "File Path": clip, "Resolution": f"{W}x{H}", "Frames": str(FRAMES)})
        self.project.media_pool.root.clips.append(self.source)
        self.item = fr.TimelineItem(os.path.basename(clip), self.source, RECORD_START, DURATION,
                                    LEFT_OFFSET, 1, FRAMES)
        self.timeline.tracks[0].append(self.item)
        self.timeline.current = self.item if current else None
        self.timeline.playhead = RECORD_START + playhead_offset

    def run(self, script: Path, driver: Any, comp: fr.Comp | None = None,
            with_resolve: bool = True) -> fr.Fusion:
        """Run a menu script the way Resolve does, with its globals."""
        fu = fr.Fusion(self.resolve if with_resolve else None, comp)
        g: dict[str, Any] = {"fu": fu, "fusion": fu, "bmd": fr.Bmd(driver)}
        if with_resolve:
            g["app"] = fr.App(self.resolve)
        if comp is not None:
            g["comp"] = comp
        runpy.run_path(str(script), init_globals=g, run_name="__main__")
        return fu


def artist(settings: dict[str, Any], done: Any, prompts: str = "", centre: bool = False,
           click: str = "go") -> Any:
    """A driver: wait for the engines, set the widgets, press Go, wait for ``done(status)``, close."""

    def play(win: fr.Window) -> Iterator[None]:
        items = win.GetItems()
        while not items["engine"].items:
            yield
        for key, value in settings.items():
            if key in ("engine", "attach", "direction", "model"):
                items[key].CurrentText = value
            else:
                items[key].Text = value
        items["prompts"].PlainText = prompts
        if centre:
            win.click("centre")
        win.click(click)
        while not done(items["status"].Text):
            yield
        play.status = items["status"].Text
        play.progress = items["progress"].Text
        win.close()

    play.status = ""
    return play
