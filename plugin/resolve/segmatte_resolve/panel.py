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

from segmatte.client.jobspec import (
    DIRECTIONS,
    JobSpec,
    ObjectPrompts,
    Output,
    SpecError,
    text_label,
)
from segmatte.client.patterns import clip_stem

from . import fusion_nodes, resolve_clip, shapes
from .job import (
    MatteJob,
    Snapshot,
    capture_client_log,
    engines_in_background,
    progress_text,
    submit_launch,
)
from .prompts import PROMPT_HELP, PromptError, Prompts, centre_prompt, parse_prompts
from .roto import KeyList, RotoSession, SessionKey

WINDOW_ID = "segmatte"
TIMER_ID = "segmatte_poll"
TICK_MS = 200
DEFAULT_MODEL = "(default)"
AUTO = "auto"
"""Direction: the server decides (a session: both ways from a new keyframe, one way after a
correction); a job: forward from the first frame, else both."""
OBJECT_ID = "object"
SHAPES = ("no shapes", "fusion", "fusion,json", "fusion,nuke,json")
"""The Shapes option of a job: formats written beside the mattes (segmatte shapes --to)."""
EDGES = ("as made", "refined")
"""The Edges option: the engine's matte as it comes, or refined (``--refine guided``: soft
edges from the picture only where the matte is unsure; slower)."""


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
            ui.Label({"Text": PROMPT_HELP, "WordWrap": True}),
            ui.TextEdit({"ID": "prompts", "PlaceholderText": "+ 640 360"}),
            row([ui.Button({"ID": "centre", "Text": "Centre of frame"}),
                 ui.Button({"ID": "add", "Text": "Add at playhead"}),
                 ui.Label({"Text": "Direction", "Weight": 0}), ui.ComboBox({"ID": "direction"})]),
            row([ui.Label({"Text": "Prompts", "Weight": 0}), ui.ComboBox({"ID": "keys"}),
                 ui.Button({"ID": "remove", "Text": "Remove"}),
                 ui.Button({"ID": "preview", "Text": "Preview frame"})]),
            ui.Label({"ID": "preview_info", "Text": "", "WordWrap": True}),
            row([ui.Label({"Text": "Text", "Weight": 0}),
                 ui.LineEdit({"ID": "text", "PlaceholderText": "red car"}),
                 ui.Button({"ID": "find", "Text": "Find at playhead"})]),
            row([ui.Label({"Text": "Options", "Weight": 0}),
                 ui.LineEdit({"ID": "options", "PlaceholderText": '{"screen": "blue"}'}),
                 ui.Label({"Text": "Edges", "Weight": 0}), ui.ComboBox({"ID": "edges"})]),
            row([ui.Label({"Text": "Output folder", "Weight": 0}), ui.LineEdit({"ID": "folder"})]),
            row([ui.Label({"Text": "When done", "Weight": 0}), ui.ComboBox({"ID": "attach"}),
                 ui.Label({"Text": "Shapes", "Weight": 0}), ui.ComboBox({"ID": "shapes"}),
                 ui.Button({"ID": "make_shapes", "Text": "Shapes"})]),
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

    def __init__(self, ui: Any, disp: Any, target: Any, client_factory: Any,
                 bmd: Any = None) -> None:
        self.ui, self.disp, self.target, self.bmd = ui, disp, target, bmd
        self.client_factory = client_factory
        self.win = build_window(ui, disp, target.title)
        self.items = self.win.GetItems()
        self.engines: list[dict] = []
        self.engine_inbox: queue.Queue = queue.Queue()
        self.shot = None
        self.job: MatteJob | None = None
        self.attached = False
        self.keys = KeyList(OBJECT_ID)
        self.texts: dict[int, str] = {}
        """Text prompts by source frame (the text engine finds every instance)."""
        self.last_spec: dict | None = None
        self.shapes_job = False
        """The running job only makes shapes of the last one's mattes (nothing to attach)."""
        self.roto: RotoSession | None = None
        self.attached_patterns: set[str] = set()
        self.log = capture_client_log()
        self.timer = ui.Timer({"ID": TIMER_ID, "Interval": TICK_MS})
        on = self.win.On
        getattr(on, WINDOW_ID).Close = self.on_close
        on.go.Clicked = self.on_go
        on.cancel.Clicked = self.on_cancel
        on.centre.Clicked = self.on_centre
        on.add.Clicked = self.on_add
        on.remove.Clicked = self.on_remove
        on.preview.Clicked = self.on_preview
        on.find.Clicked = self.on_find
        on.make_shapes.Clicked = self.on_shapes
        on.engine.CurrentIndexChanged = self.on_engine
        disp.On.Timeout = self.tick  # the UIManager Timer example's event
        getattr(on, TIMER_ID).Timeout = self.tick  # harmless if also delivered per ID
        for d in (AUTO, *DIRECTIONS):
            self.items["direction"].AddItem(d)
        for mode in target.modes:
            self.items["attach"].AddItem(mode)
        for choice in SHAPES:
            self.items["shapes"].AddItem(choice)
        for choice in EDGES:
            self.items["edges"].AddItem(choice)

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
        if self.roto is not None:
            self.roto.close()
        self._remove_preview()
        self.disp.ExitLoop()

    def on_centre(self, ev: Any = None) -> None:
        if self.shot is None or not self.shot.size:
            self.say("the frame size is unknown: type the point yourself")
            return
        box = self.items["prompts"]
        text = box.PlainText.rstrip()
        box.PlainText = (text + "\n" if text else "") + centre_prompt(self.shot.size)

    # --- the prompt list (several frames) ---------------------------------------

    def take_typed(self) -> bool:
        """Typed prompts go on the playhead's frame (merged with that frame's earlier ones).
        False (and the reason shown) when the text cannot be read."""
        try:
            typed = parse_prompts(self.items["prompts"].PlainText,
                                  self.shot.size if self.shot else None)
        except PromptError as exc:
            self.say(str(exc))
            return False
        if typed:
            frame = self.shot.keyframe
            old = self.keys.frames.get(frame) or Prompts()
            self.keys.set(frame, Prompts(old.points + typed.points, old.boxes + typed.boxes))
            self.items["prompts"].PlainText = ""
            self.show_keys(frame)
        return True

    def show_keys(self, current: int | None = None) -> None:
        combo = self.items["keys"]
        combo.Clear()
        lines = self.keys.lines() + [f"frame {n}: find '{t}'" for n, t in sorted(self.texts.items())]
        for line in lines:
            combo.AddItem(line)
        if current is not None:
            chosen = next((i for i, line in enumerate(lines)
                           if line.startswith(f"frame {current}:")), -1)
            if chosen >= 0:
                combo.CurrentIndex = chosen

    def on_add(self, ev: Any = None) -> None:
        """The artist moved the playhead and typed a prompt: keep it on that frame."""
        if not self.read_target():
            self.say(self.items["clip"].Text)
            return
        if not self.items["prompts"].PlainText.strip():
            self.say("type a prompt first (or press Centre of frame)")
            return
        if self.take_typed():
            frame = self.shot.keyframe
            self.say(f"frame {frame}: {self.keys.frames[frame].describe()}")

    def on_remove(self, ev: Any = None) -> None:
        text = self.items["keys"].CurrentText
        try:
            frame = int(text.split(":", 1)[0].split()[1])
        except (IndexError, ValueError):
            self.say("no prompt chosen in the list")
            return
        if " find '" in text:
            self.texts.pop(frame, None)
        else:
            self.keys.remove(frame)
        self.show_keys()
        self.say(f"removed the prompts on frame {frame}")

    # --- the session: preview and propagation -------------------------------------

    def session_engine(self, engine: dict | None) -> bool:
        return bool(engine) and (engine.get("sessions") or engine.get("name") in ("track", "text"))

    def session_for(self, engine: dict, options: dict) -> RotoSession:
        """The open session when it is on this shot, engine and model; else a new one."""
        shot = self.shot
        model = self.items["model"].CurrentText
        key = SessionKey(shot.source, shot.first, shot.last, engine["name"],
                         None if model in ("", DEFAULT_MODEL) else model,
                         tuple(sorted(options.items())))
        if self.roto is not None and self.roto.key == key:
            return self.roto
        if self.roto is not None:
            self.roto.close()
            self.attached_patterns.clear()
        self.roto = RotoSession(self.client_factory, key, OBJECT_ID, resolve_clip.preview_size(
            shot.size, shot.comp_size))
        return self.roto

    def on_preview(self, ev: Any = None) -> None:
        """This frame's matte through the session, before any whole job."""
        engine = self.current_engine()
        if not self.session_engine(engine):
            self.say("preview works with the track or text engine (an interactive session); "
                     "pick one")
            return
        if self.job is not None and not self.job.snapshot.finished:
            self.say("wait for the job to end (or cancel it) before a preview")
            return
        if not self.read_target():
            self.say(self.items["clip"].Text)
            return
        options = self.read_options()
        if options is None or not self.take_typed():
            return
        frame = self.shot.keyframe
        text = engine["name"] == "text"
        if frame not in self.keys.frames and not (text and frame in self.texts):
            self.say(f"add a prompt on frame {frame} (the playhead's frame) first" +
                     (" or Find a text there" if text else ""))
            return
        if text and not self._one_text_per_label():
            return
        self.session_for(engine, options).preview(frame, self.keys.frames,
                                                  self.texts if text else None)
        self.say(f"previewing frame {frame}…")

    def _take_session(self) -> None:
        roto = self.roto
        if roto is None:
            return
        while True:
            try:
                kind, value = roto.inbox.get_nowait()
            except queue.Empty:
                return
            if kind == "error":
                self.say(value)
            elif kind == "opened":
                self.say(f"session open on {value.get('device', 'the server')}")
            elif kind == "preview":
                self._show_preview(value)

    def _one_text_per_label(self) -> bool:
        """A session takes one text keyframe per label (a job takes more: Go without a
        Preview); False (said) when two frames find the same label."""
        seen: dict[str, int] = {}
        for frame, text in sorted(self.texts.items()):
            label = text_label(text)
            if label in seen:
                self.say(f"a preview finds one text per label: frames {seen[label]} and "
                         f"{frame} both find '{label}' (remove one, or press Go for a job)")
                return False
            seen[label] = frame
        return True

    def _show_preview(self, reply: dict) -> None:
        frame, path, score = reply.get("frame"), reply.get("path", ""), reply.get("score", 0.0)
        found = reply.get("instances")
        if found is not None and not found:
            self._remove_preview()
            self.items["preview_info"].Text = ""
            self.say(f"'{reply.get('text', '')}' found nothing on frame {frame}: try other "
                     "words or a lower detection_threshold")
            return
        where = ""
        comp = self.target.preview_comp()
        if comp is not None and path:
            try:
                fusion_nodes.show_preview(comp, path, self.target.comp_time(int(frame)))
                where = f" (Loader {fusion_nodes.PREVIEW_NAME} in the Fusion comp)"
            except Exception as exc:
                where = f" (no preview Loader: {exc})"
        ids = f", found {', '.join(i['object'] for i in found)}" if found else ""
        self.items["preview_info"].Text = (f"preview of frame {frame}: score {score:.2f}{ids}"
                                           f"{where} — {path}")
        self.say(f"preview of frame {frame} ready: score {score:.2f}{ids}")

    def _remove_preview(self) -> None:
        try:
            comp = self.target.preview_comp()
            if comp is not None:
                fusion_nodes.remove_preview(comp)
        except Exception:
            pass

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
        needs = (" Needs a prompt." if engine.get("needs_objects") else
                 " Prompts optional." if takes_prompts(engine) else " Takes no prompts.")
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
        engine = self.current_engine()
        if engine is None:
            self.say("pick an engine")
            return
        options = self.read_options()
        if options is None or not self.take_typed():
            return
        if engine.get("needs_objects") and not self.keys and not self.texts:
            self.say(f"the {engine['name']} engine needs a prompt: a point or a box")
            return
        if self.texts and not takes_text(engine):
            self.say(f"the {engine['name']} engine cannot take the text prompt "
                     f"'{next(iter(self.texts.values()))}': choose the text engine")
            return
        spec = self.make_spec(engine, options)
        if spec is None:
            return
        self.attached = False
        self.shapes_job = False
        self.last_spec = spec
        self._remove_preview()
        if self.session_engine(engine) and (engine["name"] != "text" or self._previewed(
                engine, options)):
            roto = self.session_for(engine, options)
            direction = self.items["direction"].CurrentText
            launch = roto.propagate_launch(self.keys.frames, spec["output"],
                                           None if direction in ("", AUTO) else direction,
                                           self.texts if engine["name"] == "text" else None,
                                           finish=spec.get("finish"))
            self.job = MatteJob(roto.client_factory, launch, own_client=False).start()
        else:
            self.job = MatteJob(self.client_factory, submit_launch(spec)).start()
        self.items["progress"].Text = progress_text(Snapshot())
        self.say("submitting…")

    def read_options(self) -> dict | None:
        try:
            options = json.loads(self.items["options"].Text.strip() or "{}")
        except ValueError as exc:
            self.say(f"options must be JSON, e.g. {{\"screen\": \"blue\"}}: {exc}")
            return None
        if not isinstance(options, dict):
            self.say("options must be a JSON object, e.g. {\"screen\": \"blue\"}")
            return None
        return options

    def direction_for_job(self) -> str:
        chosen = self.items["direction"].CurrentText
        if chosen in DIRECTIONS:
            return chosen
        frames = sorted(self.keys.frames)
        return "forward" if not frames or frames[0] == self.shot.first else "both"

    def make_spec(self, engine: dict, options: dict) -> dict | None:
        """The job spec (client JobSpec) of the shot and the prompt list; None with the reason shown."""
        shot = self.shot
        model = self.items["model"].CurrentText
        spec = JobSpec(source=shot.source, first=shot.first, last=shot.last, engine=engine["name"],
                       output=Output(self.items["folder"].Text.strip() or shot.default_folder(),
                                     f"{clip_stem(shot.name)}_{engine['name']}"),
                       model=None if model in ("", DEFAULT_MODEL) else model, options=options,
                       objects=self.objects() if takes_prompts(engine) else [],
                       direction=self.direction_for_job(), size=shot.size,
                       shapes=self.shape_formats(), finish=self.finish_options())
        try:
            return spec.to_dict()
        except SpecError as exc:
            self.say(str(exc))
            return None

    def objects(self) -> list[ObjectPrompts]:
        """The typed prompts' object, then one object per text label (``car``: its
        instances become the layers ``car_1``, ``car_2``, … on the server)."""
        out = [self.keys.to_object()] if self.keys else []
        by_label: dict[str, ObjectPrompts] = {}
        for frame, text in sorted(self.texts.items()):
            label = text_label(text)
            by_label.setdefault(label, ObjectPrompts(label)).add(frame, text=text)
        return out + list(by_label.values())

    def finish_options(self) -> dict:
        """The job's finishing: Edges "refined" is ``--refine guided``."""
        return {"refine": "guided"} if self.items["edges"].CurrentText == EDGES[1] else {}

    def shape_formats(self) -> tuple[str, ...]:
        chosen = self.items["shapes"].CurrentText
        if not chosen or chosen == SHAPES[0]:
            return ()
        return tuple(f for f in chosen.split(",") if f)

    def _previewed(self, engine: dict, options: dict) -> bool:
        """Text: Go propagates the previewed session (one text per label); without a Preview
        it is a job (which takes more texts per label)."""
        roto = self.roto
        return roto is not None and roto.session is not None and roto.key.engine == "text" \
            and roto is self.session_for(engine, options) and self._one_text_per_label()

    # --- text prompts and shapes -------------------------------------------------------

    def on_find(self, ev: Any = None) -> None:
        """Keep the typed text on the playhead's frame: the text engine finds every instance."""
        if not self.read_target():
            self.say(self.items["clip"].Text)
            return
        text = self.items["text"].Text.strip()
        if not text:
            self.say("type what to find (e.g. red car) in the Text field first")
            return
        frame = self.shot.keyframe
        self.texts[frame] = text
        self.items["text"].Text = ""
        self.show_keys(frame)
        text_engine = next((e for e in self.engines if e.get("name") == "text"), None)
        engine = self.current_engine()
        if text_engine is not None and not takes_text(engine or {}):
            self.items["engine"].CurrentText = "text"
            self.on_engine()
        label = text_label(text)
        self.say(f"frame {frame}: find '{text}' (layers {label}_1, {label}_2, …)")

    def on_shapes(self, ev: Any = None) -> None:
        """Polygon masks of the last job's mattes in the Fusion comp; when the job wrote no
        Fusion shapes, the same job is sent again with them (the server skips its mattes)."""
        snap = self.job.snapshot if self.job is not None else None
        if snap is None or snap.state != "done" or not snap.manifest:
            if snap is not None and not snap.finished:
                self.say("wait for the job to end, then press Shapes")
            else:
                self.say("run a job first: Shapes traces its mattes")
            return
        if shapes.is_current(snap.manifest):
            self.add_shapes(snap.manifest)
            return
        if self.last_spec is None:
            self.say("this window did not send the last job: run it again")
            return
        spec = {**self.last_spec, "shapes": sorted(set(self.last_spec.get("shapes") or ())
                                                    | {"fusion"})}
        self.shapes_job, self.attached = True, False
        self.job = MatteJob(self.client_factory, submit_launch(spec)).start()
        self.say("making shapes of the mattes on the server…")

    def add_shapes(self, manifest: str) -> None:
        try:
            comp, offset = self.target.shapes_comp()
            names = shapes.paste(comp, self.bmd, shapes.setting_of(manifest), offset)
        except (shapes.ShapesError, fusion_nodes.FusionError) as exc:
            self.say(str(exc))
            return
        except Exception as exc:  # what Fusion raises is undocumented: say it, never a trace
            self.say(f"adding the shapes failed: {exc}")
            return
        self.say(f"added {len(names)} Polygon mask(s) to the Fusion comp: {', '.join(names)}"
                 if names else f"the comp holds no new Polygon mask after pasting "
                 f"{shapes.setting_of(manifest)}")

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
        self._take_session()
        for line in self.log.take():
            self.say(f"segmatte client: {line}")
        if self.job is None:
            return
        snap = self.job.poll()
        self.items["progress"].Text = progress_text(snap)
        self.say(snap.message)
        if snap.state == "done" and not self.attached:
            self.attached = True
            if self.shapes_job:
                self.add_shapes(snap.manifest)
            else:
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
        written = sorted(self.job.written) if self.job is not None else []
        redone = f"re-tracked frames {written[0]}-{written[-1]}" if written else "nothing re-tracked"
        fresh = [s for s in snap.sequences if s.pattern not in self.attached_patterns]
        if not fresh:  # a correction: the files changed in place, already attached
            self.say(f"{redone}; the attached mattes were updated in place")
            return
        mode = self.items["attach"].CurrentText or self.target.modes[0]
        try:
            lines = self.target.attach(fresh, mode)
        except Exception as exc:
            self.say(f"mattes written to {fresh[0].pattern}, but attaching failed: {exc}")
            return
        self.attached_patterns.update(s.pattern for s in fresh)
        self.say("; ".join(lines))


def takes_text(engine: dict) -> bool:
    """Whether the server's engine takes text prompts (the text engine)."""
    return "text" in (engine.get("prompts") or ())


def takes_prompts(engine: dict) -> bool:
    """Whether the server's engine takes prompts (its ``prompts`` kinds; older servers: all)."""
    kinds = engine.get("prompts")
    return bool(kinds) if kinds is not None else True
