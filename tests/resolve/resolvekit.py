"""Helpers for the Resolve/Fusion script tests: the test project and the artist's driver."""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_resolve as fr

from segmatte.server.installers import resolve as installer

HERE = Path(__file__).resolve().parent
W, H = 64, 48
FRAMES = 12
RECORD_START = 86400 + 48
"""Timeline frame where the test item starts (01:00:02:00 at 24 fps)."""
LEFT_OFFSET = 3
DURATION = 6
"""The item shows source frames 3..8 of the 12-frame clip."""
LAUNCHER = installer.LAUNCHER


def clip_props(clip: str, frames: int = FRAMES, fps: str = "24", first: int = 0) -> dict:
    """What Resolve's GetClipProperty() holds for a clip (the keys the scripts read)."""
    return {"File Path": clip, "Resolution": f"{W}x{H}", "Frames": frames, "Start": first,
            "End": first + frames - 1, "FPS": fps}


class Host:
    """A small Resolve project: one timeline, the green clip on V1 under the playhead."""

    def __init__(self, clip: str, *, current: bool = True, playhead_offset: int = 2,
                 rate: str = "24", page: str = "edit", first: int = 0,
                 frames: int = FRAMES) -> None:
        fr.CALLS.clear()
        fps = float(rate.split()[0])
        start = int(round(fps)) * 3600 if "DF" not in rate else 107892
        record = start + (RECORD_START - 86400)
        self.timeline = fr.Timeline("Edit 1", rate, start)
        self.project = fr.Project(self.timeline)
        self.resolve = fr.Resolve(self.project, page)
        self.source = fr.MediaPoolItem(os.path.basename(clip), clip_props(
            clip, frames, rate.split()[0], first))
        self.project.media_pool.root.clips.append(self.source)
        self.record_start = record
        self.item = fr.TimelineItem(os.path.basename(clip), self.source, record, DURATION,
                                    LEFT_OFFSET, 1, frames)
        self.timeline.tracks[0].append(self.item)
        self.timeline.current = self.item if current else None
        self.timeline.playhead = record + playhead_offset

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
            if key in ("engine", "attach", "direction", "model", "edges", "shapes"):
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
        play.clip = items["clip"].Text
        win.close()

    play.status = play.clip = ""
    return play
