"""The segmatte window (Fusion UIManager), shared by the Resolve and Fusion scripts.

Everything the artist sees happens on Resolve's UI thread inside the
dispatcher's loop; a ``ui.Timer`` ticks :meth:`Panel.tick`, which drains the
engine list and the job's events without ever waiting. Host objects (the
timeline, the comp) are only touched here on that thread: background threads
hold nothing of Resolve's and print nothing (Resolve shows no stdout from
threads), so every message ends up in the status label.
"""

from __future__ import annotations

import json
import queue
from typing import Any

from . import jobspec
from .job import MatteJob, Snapshot, capture_client_log, engines_in_background, progress_text

WINDOW_ID = "segmatte"
TIMER_ID = "segmatte_poll"
TICK_MS = 200
DEFAULT_MODEL = "(default)"


def build_window(ui: Any, disp: Any, title: str) -> Any:
    """The window's widgets; IDs are what the controller and the tests use."""
    row = ui.HGroup
    return disp.AddWindow(
        {"ID": WINDOW_ID, "WindowTitle": title, "Geometry": [200, 200, 520, 560]},
        ui.VGroup([
            ui.Label({"ID": "clip", "Text": "reading the clip…", "WordWrap": True}),
            row([ui.Label({"Text": "Engine", "Weight": 0}), ui.ComboBox({"ID": "engine"}),
                 ui.Label({"Text": "Model", "Weight": 0}), ui.ComboBox({"ID": "model"})]),
            ui.Label({"ID": "engine_help", "Text": "", "WordWrap": True}),
            ui.Label({"Text": jobspec.PROMPT_HELP, "WordWrap": True}),
            ui.TextEdit({"ID": "prompts", "PlaceholderText": "+ 640 360"}),
            row([ui.Button({"ID": "centre", "Text": "Centre of frame"}),
                 ui.Label({"Text": "Direction", "Weight": 0}), ui.ComboBox({"ID": "direction"})]),
            row([ui.Label({"Text": "Options", "Weight": 0}),
                 ui.LineEdit({"ID": "options", "PlaceholderText": '{"screen": "blue"}'})]),
            row([ui.Label({"Text": "Output folder", "Weight": 0}), ui.LineEdit({"ID": "folder"})]),
            row([ui.Label({"Text": "When done", "Weight": 0}), ui.ComboBox({"ID": "attach"})]),
            ui.Label({"ID": "progress", "Text": ""}),
            ui.Label({"ID": "status", "Text": "", "WordWrap": True}),
            row([ui.Button({"ID": "go", "Text": "Go"}),
                 ui.Button({"ID": "cancel", "Text": "Cancel"})]),
        ]))


def engine_models(engine: dict) -> list:
    """Models to offer: the engine's ``models`` list when the server sends one, else the
    ``enum`` of its ``model`` option in the options schema; [] leaves only the default."""
    if isinstance(engine.get("models"), list):
        return engine["models"]
    prop = ((engine.get("options") or {}).get("properties") or {}).get("model") or {}
    return list(prop.get("enum") or [])


class Panel:
    """Controller: reads the target, fills the pickers, runs one job at a time, attaches."""

    def __init__(self, ui: Any, disp: Any, target: Any, client_factory: Any) -> None:
        self.ui, self.disp, self.target = ui, disp, target
        self.client_factory = client_factory
        self.win = build_window(ui, disp, target.title)
        self.items = self.win.GetItems()
        self.engines: list[dict] = []
        self.engine_inbox: queue.Queue = queue.Queue()
        self.shot = None
        self.job: MatteJob | None = None
        self.attached = False
        self.log = capture_client_log()
        self.timer = ui.Timer({"ID": TIMER_ID, "Interval": TICK_MS})
        on = self.win.On
        getattr(on, WINDOW_ID).Close = self.on_close
        on.go.Clicked = self.on_go
        on.cancel.Clicked = self.on_cancel
        on.centre.Clicked = self.on_centre
        on.engine.CurrentIndexChanged = self.on_engine
        disp.On.Timeout = self.tick  # the UIManager Timer example's event
        getattr(on, TIMER_ID).Timeout = self.tick  # harmless if also delivered per ID
        for d in jobspec.DIRECTIONS:
            self.items["direction"].AddItem(d)
        for mode in target.modes:
            self.items["attach"].AddItem(mode)

    # --- life cycle -----------------------------------------------------------

    def run(self) -> None:
        """Show the window and run the dispatcher's loop until the window closes."""
        self.read_target()
        engines_in_background(self.client_factory, self.engine_inbox)
        self.say("asking the segmatte server for its engines…")
        self.win.Show()
        self.timer.Start()
        try:
            self.disp.RunLoop()
        finally:
            self.timer.Stop()
            self.win.Hide()

    def read_target(self) -> bool:
        """Read the clip (again: Go re-reads, the playhead or selection may have moved)."""
        try:
            self.shot = self.target.read()
        except Exception as exc:
            self.shot = None
            self.items["clip"].Text = f"No clip: {exc}"
            return False
        self.items["clip"].Text = self.shot.describe()
        if not self.items["folder"].Text:
            self.items["folder"].Text = self.shot.default_folder()
        return True

    def say(self, text: str) -> None:
        self.items["status"].Text = text

    # --- events ---------------------------------------------------------------

    def on_close(self, ev: Any = None) -> None:
        if self.job is not None:
            self.job.abandon()
        self.disp.ExitLoop()

    def on_centre(self, ev: Any = None) -> None:
        if self.shot is None or not self.shot.size:
            self.say("the frame size is unknown: type the point yourself")
            return
        box = self.items["prompts"]
        text = box.PlainText.rstrip()
        box.PlainText = (text + "\n" if text else "") + jobspec.centre_prompt(self.shot.size)

    def on_engine(self, ev: Any = None) -> None:
        engine = self.current_engine()
        combo = self.items["model"]
        combo.Clear()
        if engine is None:
            return
        models = engine_models(engine)
        combo.AddItem(DEFAULT_MODEL)
        for m in models:
            combo.AddItem(m.get("name", "") if isinstance(m, dict) else str(m))
        needs = " Needs a prompt." if engine.get("needs_objects") else " Prompts optional."
        self.items["engine_help"].Text = (engine.get("description") or "") + needs

    def current_engine(self) -> dict | None:
        name = self.items["engine"].CurrentText
        return next((e for e in self.engines if e.get("name") == name), None)

    def on_go(self, ev: Any = None) -> None:
        if self.job is not None and not self.job.snapshot.finished:
            self.say("a job is already running")
            return
        if not self.read_target():
            self.say(self.items["clip"].Text)
            return
        if not self.engines:
            engines_in_background(self.client_factory, self.engine_inbox)
            self.say("no engine yet: is `segmatte serve` running? Asking it again…")
            return
        spec = self.make_spec()
        if spec is None:
            return
        self.attached = False
        self.job = MatteJob(self.client_factory, spec).start()
        self.items["progress"].Text = progress_text(Snapshot())
        self.say("submitting…")

    def make_spec(self) -> dict | None:
        shot, engine = self.shot, self.current_engine()
        if shot is None:
            self.say("no clip to matte")
            return None
        if engine is None:
            self.say("pick an engine")
            return None
        try:
            prompts = jobspec.parse_prompts(self.items["prompts"].PlainText, shot.size)
        except jobspec.PromptError as exc:
            self.say(str(exc))
            return None
        if engine.get("needs_objects") and not prompts:
            self.say(f"the {engine['name']} engine needs a prompt: a point or a box")
            return None
        model = self.items["model"].CurrentText
        try:
            options = json.loads(self.items["options"].Text.strip() or "{}")
        except ValueError as exc:
            self.say(f"options must be JSON, e.g. {{\"screen\": \"blue\"}}: {exc}")
            return None
        if not isinstance(options, dict):
            self.say("options must be a JSON object, e.g. {\"screen\": \"blue\"}")
            return None
        try:
            return jobspec.build_spec(
                source=shot.source, first=shot.first, last=shot.last, engine=engine["name"],
                model=None if model in ("", DEFAULT_MODEL) else model,
                prompts=prompts, keyframe=shot.keyframe, options=options,
                direction=self.items["direction"].CurrentText or "forward",
                output_folder=self.items["folder"].Text.strip() or shot.default_folder(),
                name=f"{jobspec.clip_stem(shot.name)}_{engine['name']}")
        except ValueError as exc:
            self.say(str(exc))
            return None

    def on_cancel(self, ev: Any = None) -> None:
        if self.job is not None and not self.job.snapshot.finished:
            self.job.cancel()
            self.say("cancelling…")
        else:
            self.on_close(ev)

    # --- the timer ------------------------------------------------------------

    def tick(self, ev: Any = None) -> None:
        """Every TICK_MS on the UI thread: take what arrived, show it, attach when done."""
        self._take_engines()
        for line in self.log.take():
            self.say(f"segmatte client: {line}")
        if self.job is None:
            return
        snap = self.job.poll()
        self.items["progress"].Text = progress_text(snap)
        self.say(snap.message)
        if snap.state == "done" and not self.attached:
            self.attached = True
            self._attach(snap)

    def _take_engines(self) -> None:
        try:
            kind, value = self.engine_inbox.get_nowait()
        except queue.Empty:
            return
        if kind == "error":
            self.say(f"segmatte server: {value}")
            return
        self.engines = [e for e in value if isinstance(e, dict) and e.get("name")]
        combo = self.items["engine"]
        combo.Clear()
        for e in self.engines:
            combo.AddItem(e["name"])
        self.on_engine()
        self.say(f"{len(self.engines)} engines ready" if self.engines else "the server has no engines")

    def _attach(self, snap: Snapshot) -> None:
        if not snap.sequences:
            self.say(f"{snap.message}; no matte files to attach")
            return
        mode = self.items["attach"].CurrentText or self.target.modes[0]
        try:
            lines = self.target.attach(snap.sequences, mode)
        except Exception as exc:
            self.say(f"mattes written to {snap.sequences[0].pattern}, but attaching failed: {exc}")
            return
        self.say("; ".join(lines))
