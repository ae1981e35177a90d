"""``segmatte matte``: run one matte job, in-process or through the server.

In-process, the job runs in a worker thread while the main thread draws the
progress bar from its events; Ctrl-C sets the job's cancel flag, so frames in
flight finish and only whole frames stay on disk. Re-running the same command
resumes: frames already written and valid are skipped.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from segmatte.client.events import TERMINAL, Cancelled, Done, Event, Failed, FrameWritten, Progress
from segmatte.models.engine import EngineError

from ..cli import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from ..media import MediaError
from ..spec import FrameRange, JobSpec, SpecError, parse_spec

FINISH_FLAGS = ("threshold", "softness", "choke", "feather", "clip_black", "clip_white",
                "refine", "refine_band", "refine_solve", "chatter", "chatter_radius")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("matte", help="make a matte sequence from a clip",
                       description="Make an alpha matte for every frame of SOURCE and write it as "
                                   "an OpenEXR sequence numbered with the source frame numbers.")
    p.add_argument("source", help="video file, image sequence (shot.####.exr, shot.%%04d.exr) or still")
    p.add_argument("--engine", default="key", help="engine name (see `segmatte doctor`); default: key")
    p.add_argument("--model", help="model name, for engines that have several")
    p.add_argument("--range", dest="frame_range", metavar="A-B",
                   help="source frame numbers, inclusive; default: the whole clip")
    p.add_argument("--hold-gaps", action="store_true",
                   help="an image sequence with missing frames: hold the previous frame over "
                        "each gap instead of refusing the job")
    p.add_argument("--out", required=True, help="output folder (made if missing)")
    p.add_argument("--name", help="sequence name; default: the source's name + _matte")
    p.add_argument("--channels", choices=("rgba", "a", "y"), default="rgba",
                   help="EXR layout: rgba (R=G=B=A, every host reads it), a, or y; default rgba")
    p.add_argument("--compression", default="zip", help="EXR compression; default zip")
    p.add_argument("--float", dest="datatype", action="store_const", const="float", default="half",
                   help="write 32-bit float instead of half")
    p.add_argument("--layers", choices=("files", "channels"), default="files",
                   help="several layers (objects, classes): one sequence each (files, default) "
                        "or one multi-channel EXR per frame with channels <layer>.A")
    p.add_argument("--direction", choices=("forward", "backward", "both"), default="forward")
    p.add_argument("--retrack", metavar="A-B",
                   help="re-track only source frames A..B (from the nearest keyframe), whatever is "
                        "on disk, and leave the rest; without it a changed prompt re-tracks just "
                        "the frames it changes")
    p.add_argument("--overwrite", action="store_true",
                   help="replace segmatte mattes of a different job in the output folder "
                        "(files segmatte did not write are never replaced)")
    g = p.add_argument_group("engine options")
    g.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="an engine option (value parsed as JSON when it can be); repeatable")
    g.add_argument("--screen", help="key engine: green, blue or R,G,B (0-1)")
    g.add_argument("--foreground", action="store_true",
                   help="person and key (screen keyer) engines: also write the subject's colour "
                        "as an RGBA premultiplied EXR sequence NAME_foreground.####.exr beside "
                        "the matte (the engine option foreground=true)")
    g.add_argument("--clean-plate", help="key engine: difference key against this source frame "
                                         "number or image file")
    g.add_argument("--classes", help="semantic engine: classes or groups, e.g. sky,person,vehicle "
                                      "(one sequence each)")
    g.add_argument("--part", metavar="NAME",
                   help="multi-part EXR: the part (subimage) to read, by name or index; "
                        "default: the first (the one read is named)")
    g.add_argument("--objects", type=Path, help="JSON file: a list of objects with keyframe prompts")
    g.add_argument("--point", dest="points", action="append", default=[], metavar="X,Y@FRAME[:OBJ][:neg]",
                   help="a click in source pixels on a source frame, for the object OBJ "
                        "(default 'object'); ':neg' excludes; repeatable")
    g.add_argument("--box", dest="boxes", action="append", default=[], metavar="X0,Y0,X1,Y1@FRAME[:OBJ]",
                   help="a box in source pixels on a source frame; repeatable")
    g.add_argument("--mask", dest="masks", action="append", default=[], metavar="PATH@FRAME[:OBJ]",
                   help="a mask image (white = object) for a source frame; repeatable")
    g.add_argument("--text", dest="texts", action="append", default=[], metavar='"TEXT"@FRAME[:OBJ]',
                   help="text engine: every instance of TEXT on a source frame, one layer each "
                        "(OBJ_1, OBJ_2, ...; OBJ defaults to TEXT's last word); repeatable")
    f = p.add_argument_group("finishing")
    f.add_argument("--refine", choices=("guided", "vitmatte"),
                   help="soft edges from the picture in a band around the matte's edge")
    f.add_argument("--refine-band", type=float,
                   help="refine: how far a hard matte edge may move, pixels (default: from the "
                        "picture size)")
    f.add_argument("--refine-solve", action=argparse.BooleanOptionalAction, default=None,
                   help="guided refine: place hard edges (a tracker's mask) by closed-form matting "
                        "(default); --no-refine-solve: the filter alone, faster")
    f.add_argument("--chatter", type=float, metavar="STRENGTH",
                   help="reduce chatter: smooth over time along optical flow, 0-1")
    f.add_argument("--chatter-radius", type=int, help="reduce chatter: neighbours each side (1-4)")
    f.add_argument("--threshold", type=float, help="hard cut at this level (0-1)")
    f.add_argument("--softness", type=float, help="soft ramp width around the threshold (0-1)")
    f.add_argument("--choke", type=float, help="pixels; positive shrinks, negative grows")
    f.add_argument("--feather", type=float, help="gaussian blur sigma in pixels")
    f.add_argument("--clip-black", type=float, help="levels: this value and below become 0")
    f.add_argument("--clip-white", type=float, help="levels: this value and above become 1")
    f.add_argument("--invert", action="store_true", help="invert the matte")
    f.add_argument("--combine", choices=("union", "add", "subtract", "intersect"),
                   help="merge several layers into one")
    f.add_argument("--shapes", metavar="FORMATS",
                   help="after the mattes, editable shapes of each layer, e.g. fusion,json (any "
                        "of blender, fusion, nuke, json, svg; as `segmatte shapes --to`), "
                        "written beside the mattes")
    r = p.add_argument_group("running")
    r.add_argument("--server", action="store_true",
                   help="submit to the local segmatte server (starting one if none answers)")
    r.add_argument("--device", default="auto",
                   help="torch device for in-process runs: auto (the GPU if any), cuda, mps, cpu")
    r.add_argument("--json", action="store_true", help="print events as JSON lines instead of a bar")
    p.set_defaults(func=run)


def _option_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _default_name(source: str) -> str:
    stem = Path(source).name
    for cut in ("%", "#", "[", "."):
        stem = stem.split(cut)[0] or stem
    clean = "".join(c if c.isalnum() or c in "_-" else "_" for c in stem).strip("_") or "clip"
    return f"{clean}_matte"


def engine_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs and the ``--screen`` shortcut (shared with ``batch``)."""
    options: dict[str, Any] = {}
    for item in args.options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--set {item!r} is not of the form KEY=VALUE")
        options[key.strip()] = _option_value(value)
    if args.screen:
        screen = args.screen
        options["screen"] = [float(v) for v in screen.split(",")] if "," in screen else screen
    return options


def spec_from_args(args: argparse.Namespace) -> JobSpec:
    """Turn parsed CLI arguments into a validated JobSpec (raises SpecError)."""
    options = engine_options_from_args(args)
    if args.foreground:
        options["foreground"] = True
    if args.classes:
        options["classes"] = [c.strip() for c in args.classes.split(",") if c.strip()]
    if args.clean_plate:
        options.setdefault("mode", "difference")
        options["clean_plate"] = int(args.clean_plate) if args.clean_plate.isdigit() else args.clean_plate
    objects: list[Any] = []
    if args.objects:
        try:
            objects = json.loads(args.objects.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SpecError(f"--objects {args.objects}: {exc}") from None
    if args.points or args.boxes or args.masks or args.texts:
        from segmatte.models.track.cli_syntax import build_objects

        objects.extend(o.model_dump(mode="json") for o in
                       build_objects(args.points, args.boxes, args.masks, args.texts))
    finish = {k: getattr(args, k) for k in FINISH_FLAGS if getattr(args, k) is not None}
    if args.invert:
        finish["invert"] = True
    if args.combine:
        finish["combine"] = args.combine
    shapes = [f.strip().lower() for f in (args.shapes or "").split(",") if f.strip()]
    data: dict[str, Any] = {
        "shapes": shapes,
        "source": str(args.source),
        "part": args.part,
        "engine": args.engine,
        "model": args.model,
        "options": options,
        "hold_gaps": args.hold_gaps,
        "objects": objects,
        "direction": args.direction,
        "finish": finish,
        "output": {"folder": str(Path(args.out).expanduser().absolute()),
                   "name": args.name or _default_name(args.source),
                   "channels": args.channels, "compression": args.compression,
                   "datatype": args.datatype, "overwrite": args.overwrite,
                   "layers": args.layers},
    }
    if args.frame_range:
        data["range"] = FrameRange.parse(args.frame_range).model_dump()
    if args.retrack:
        data["retrack"] = FrameRange.parse(args.retrack).model_dump()
    return parse_spec(data)


def run(args: argparse.Namespace) -> int:
    try:
        spec = spec_from_args(args)
    except (SpecError, ValueError) as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.server:
        from .remote import run_remote

        return run_remote(spec)
    return run_local(spec, device=args.device, as_json=args.json)


def run_local(spec: JobSpec, *, device: str = "auto", as_json: bool = False) -> int:
    """Run a job in this process with a progress bar; returns the exit code."""
    from ..pipeline import check_job, run_job

    try:
        plan = check_job(spec)
    except (SpecError, MediaError, EngineError, ValueError) as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if plan.media.parts:
        print(f"segmatte: reading part {plan.media.part!r} of {Path(plan.media.path).name} "
              f"(parts: {', '.join(plan.media.parts)}; --part NAME picks another)", file=sys.stderr)
    job_id = uuid.uuid4().hex[:12]
    events: queue.Queue[Event] = queue.Queue()
    cancel = threading.Event()
    worker = threading.Thread(
        target=run_job, name=f"job-{job_id}", daemon=True,
        kwargs=dict(spec=spec, job_id=job_id, emit=events.put, cancel=cancel, device=device, plan=plan))
    view = _JsonView() if as_json else _BarView(plan.last - plan.first + 1)

    def on_sigint(_signum: int, _frame: object) -> None:
        # A flag, not KeyboardInterrupt: the worker stops between frames and
        # the writes in flight finish, so only whole frames stay on disk. It
        # prints nothing: the handler may interrupt a print of the main loop.
        cancel.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    terminal: Event | None = None
    noted = False
    try:
        worker.start()
        with view:
            while terminal is None:
                if cancel.is_set() and not noted:
                    noted = True
                    view.note("cancelling: frames in flight finish, nothing half-written stays")
                try:
                    event = events.get(timeout=0.2)
                except queue.Empty:
                    if not worker.is_alive() and events.empty():
                        terminal = Failed(job=job_id, reason="the job stopped without a result")
                    continue
                view.show(event)
                if isinstance(event, TERMINAL):
                    terminal = event
        worker.join()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    return _report(terminal)


def _report(event: Event) -> int:
    if isinstance(event, Done):
        print(f"segmatte: wrote {event.written} frames ({event.skipped} already there); "
              f"manifest {event.manifest}", file=sys.stderr)
        return EXIT_OK
    if isinstance(event, Cancelled):
        print(f"segmatte: cancelled after {event.written} frames; run the same command again to resume",
              file=sys.stderr)
        return EXIT_CANCELLED
    assert isinstance(event, Failed)
    where = f" at frame {event.frame}" if event.frame is not None else ""
    print(f"segmatte: failed{where}: {event.reason}", file=sys.stderr)
    return EXIT_FAILED


class _JsonView:
    def __enter__(self) -> _JsonView:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def note(self, text: str) -> None:
        print(json.dumps({"type": "note", "message": text}), flush=True)

    def show(self, event: Event) -> None:
        print(json.dumps(event.to_dict()), flush=True)


class _BarView:
    """A rich progress bar: frames done / total, frames/s, ETA."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]matte[/bold]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[fps]} fps"), TimeRemainingColumn(),
            console=self.console, transient=False)
        self.task = self.progress.add_task("matte", total=total, fps="-")

    def __enter__(self) -> _BarView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/yellow]")

    def show(self, event: Event) -> None:
        if isinstance(event, Progress):
            self.progress.update(self.task, completed=event.done, fps=f"{event.fps:.1f}")
        elif isinstance(event, FrameWritten) and event.skipped:
            self.progress.advance(self.task)
