"""``segmatte batch``: mattes for every shot of an edit (OTIO, EDL, FCP XML) or a CSV list.

Shots go to the local server's queue by default, run in this process with
``--local``, or on a Ray cluster with ``--ray``. Running the same command again
resumes: finished shots are kept, interrupted ones continue from the frames on
disk, failed ones wait for ``--retry-failed``. Ctrl-C (or SIGTERM) cancels the
running shots between frames, so only whole frames stay on disk.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WRITEBACK, EXIT_CANCELLED = 0, 1, 2, 3, 130
"""EXIT_WRITEBACK: every shot ran as reported, but ``--otio-out`` could not be written."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="mattes for every shot of an edit (OTIO, EDL, FCP XML) or a CSV shot list",
        description="Make a matte sequence for the used range of every clip in INPUT, named "
                    "<out>/<clip>/<clip>.####.exr with source frame numbers, and record every "
                    "shot's result in <out>/segmatte-batch.json.")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="an .otio timeline, anything OpenTimelineIO reads (.edl, .xml), "
                                 "or a CSV shot list (columns: source,in,out,engine,options,name)")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per shot)")
    p.add_argument("--handles", type=int, default=0, metavar="N",
                   help="extra frames before and after each used range (as far as the media goes)")
    p.add_argument("--rate", metavar="FPS",
                   help="an EDL's frame rate, e.g. 25, 23.976, 29.97, 59.94 (NTSC rates are "
                        "taken exactly; drop frame from the EDL's FCM line or ';'); default: "
                        "the first found clip's rate when the timecodes fit it")
    p.add_argument("--media", action="append", default=[], metavar="FOLDER",
                   help="where to look for clips the edit names without a file here: by "
                        "basename of its path (also /Volumes/..., D:/...), SOURCE FILE, clip "
                        "or reel name (repeatable; default: the edit's folder)")
    p.add_argument("--part", metavar="NAME",
                   help="multi-part EXR sources: the part (subimage) to read, by name or index; "
                        "default: the first")
    p.add_argument("--engine", default="key", help="engine for every shot (a CSV row may "
                                                   "override); default: key")
    p.add_argument("--model", help="model name, for engines that have several")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="an engine option (value parsed as JSON when it can be); repeatable")
    p.add_argument("--screen", help="key engine: green, blue or R,G,B (0-1)")
    p.add_argument("--channels", choices=("rgba", "a", "y"), default="rgba",
                   help="EXR layout: rgba (R=G=B=A, every host reads it), a, or y; default rgba")
    p.add_argument("--compression", default="zip", help="EXR compression; default zip")
    p.add_argument("--float", dest="datatype", action="store_const", const="float", default="half",
                   help="write 32-bit float instead of half")
    p.add_argument("--overwrite", action="store_true",
                   help="replace segmatte mattes of different settings in the shot folders")
    p.add_argument("--retry-failed", action="store_true",
                   help="run again the shots that failed last time")
    p.add_argument("--otio-out", metavar="FILE.otio",
                   help="also write the cut with a matte track above each video track")
    p.add_argument("--dry-run", action="store_true", help="list the shots and their ranges; run nothing")
    r = p.add_argument_group("where the shots run (default: the local server's queue)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="in this process, one shot at a time")
    where.add_argument("--ray", metavar="ADDRESS",
                       help="on Ray: auto (a running cluster), local (start one here), or ray://host:port")
    r.add_argument("--address", help="server address (default: the running server's, "
                                      "or tcp://127.0.0.1:<port>)")
    r.add_argument("--no-start", action="store_true",
                   help="do not start a server when none answers; fail instead")
    r.add_argument("--window", type=int, default=2,
                   help="server: shots kept in the server's queue at a time (default 2)")
    r.add_argument("--num-gpus", type=float, default=None,
                   help="Ray: GPUs per worker (default 1, or 0 when the cluster has none)")
    r.add_argument("--num-cpus", type=float, default=1.0, help="Ray: CPUs per worker (default 1)")
    r.add_argument("--workers", type=int, help="Ray: workers (default: one per GPU)")
    r.add_argument("--device", default="cpu", help="--local: torch device (cpu, cuda, mps)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of progress bars")


def settings_from_args(args: argparse.Namespace) -> Any:
    from segmatte.server.batch.plan import BatchSettings

    from .matte import engine_options_from_args

    options = engine_options_from_args(args)
    return BatchSettings(output=Path(args.out).expanduser().absolute(), engine=args.engine,
                         model=args.model, options=options, channels=args.channels,
                         compression=args.compression, datatype=args.datatype,
                         overwrite=args.overwrite, part=args.part)


def _runner(args: argparse.Namespace) -> Any:
    if args.local:
        from segmatte.server.batch.runner_local import InProcessRunner

        return InProcessRunner(device=args.device)
    if args.ray:
        from segmatte.server.batch.runner_ray import RayRunner, RaySettings, ensure_ray

        settings = RaySettings(address=args.ray, workers=args.workers, num_cpus=args.num_cpus)
        ray = ensure_ray(settings)
        gpus = args.num_gpus
        if gpus is None:
            gpus = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        return RayRunner(RaySettings(address=args.ray, workers=args.workers, num_gpus=gpus,
                                     num_cpus=args.num_cpus))
    from segmatte.server.batch.runner_local import ServerRunner, connect

    return ServerRunner(connect(args.address, start_if_needed=not args.no_start),
                        window=args.window)


def _dry_run(shots: list[Any]) -> int:
    from segmatte.server.batch.framelist import frame_list

    for s in shots:
        rng = f"{s.first}-{s.last}" if s.first is not None else "whole clip"
        print(json.dumps({"id": s.id, "name": s.name, "source": s.source, "range": rng,
                          "handles": list(s.handles), "shown": frame_list(s.shown),
                          "rate": s.rate, "notes": list(s.notes),
                          "prompts": len(s.objects), "error": s.error}))
    return EXIT_OK


def _dry_run_table(shots: list[Any]) -> int:
    """``--dry-run`` for a person: one line per shot (``--json`` gives every field)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, caption=f"{len(shots)} shots; nothing was run "
                  "(--json for every field)", caption_justify="left")
    table.add_column("shot", no_wrap=True)
    table.add_column("frames", no_wrap=True, justify="right")
    table.add_column("handles", no_wrap=True, justify="right")
    table.add_column("shown", overflow="fold")
    table.add_column("source (or why it cannot run)", no_wrap=True, overflow="ellipsis", ratio=1)
    from segmatte.server.batch.framelist import frame_list

    for s in shots:
        rng = f"{s.first}-{s.last}" if s.first is not None else "whole clip"
        head, tail = s.handles
        what = f"[red]{s.error}[/]" if s.error else Path(str(s.source)).name
        if s.notes:
            what += "".join(f"\n[dim]{n}[/]" for n in s.notes)
        table.add_row(s.name, rng, f"{head}+{tail}" if head or tail else "-",
                      frame_list(s.shown) if s.shown else "-", what)
    Console().print(table)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from segmatte.server.batch.driver import run_batch
    from segmatte.server.batch.shots import BatchInputError, read_shots
    from segmatte.server.batch.views import JsonView, RichView
    from segmatte.server.spec import SpecError

    try:
        settings = settings_from_args(args)
        shots = read_shots(args.input, handles=args.handles, rate=args.rate, media_dirs=args.media)
    except (BatchInputError, SpecError, ValueError) as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        return _dry_run(shots) if args.json else _dry_run_table(shots)
    try:
        runner = _runner(args)
    except (ConnectionError, RuntimeError) as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    view = JsonView() if args.json else RichView()
    for shot in shots:
        for note in shot.notes:
            view.note(f"{shot.id}: {note}")
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = run_batch(shots, settings, runner, input_path=str(args.input),
                                          view=view, retry_failed=args.retry_failed, stop=stop)
        except BaseException as exc:  # reported on the main thread
            outcome["error"] = exc

    def on_signal(_signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: leave now (frames are written whole or not at all)
            raise KeyboardInterrupt
        stop.set()
        view.note("stopping: running shots finish their frames in flight (Ctrl-C again to "
                  "leave at once); run the same command again to resume")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    worker = threading.Thread(target=work, name="segmatte-batch", daemon=True)
    try:
        if isinstance(view, RichView):
            view.__enter__()
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        if isinstance(view, RichView):
            view.__exit__(None, None, None)
        for s, handler in previous.items():
            signal.signal(s, handler)
        _close(runner)
    if "error" in outcome:
        from segmatte.server.batch.manifest import BatchBusyError

        if isinstance(outcome["error"], BatchBusyError):
            print(f"segmatte: {outcome['error']}", file=sys.stderr)
            return EXIT_USAGE
        raise outcome["error"]
    result = outcome["result"]
    writeback_error = ""
    if args.otio_out and Path(args.input).suffix.lower() not in (".csv", ".tsv"):
        from segmatte.server.batch.otio_out import WriteBackError, write_matte_timeline

        try:
            path = write_matte_timeline(args.input, args.otio_out, shots, result.manifest)
            print(f"segmatte: wrote {path}", file=sys.stderr)
        except WriteBackError as exc:
            writeback_error = str(exc)
    counts = result.manifest.counts()
    if result.ran == 0 and not result.stopped:
        print(f"segmatte: nothing to run: all {counts.get('done', 0)} shots were already done"
              + (f" ({counts.get('failed', 0)} failed last time: --retry-failed runs them again)"
                 if counts.get("failed") else ""), file=sys.stderr)
    print(f"segmatte: {counts.get('done', 0)} done, {counts.get('failed', 0)} failed, "
          f"{counts.get('cancelled', 0) + counts.get('pending', 0)} to resume; "
          f"manifest {Path(settings.output) / 'segmatte-batch.json'}", file=sys.stderr)
    if result.stopped:
        return EXIT_CANCELLED
    if writeback_error:
        print(f"segmatte: {writeback_error}; the shots' results are kept (run the same command "
              "again to write it once the cause is fixed)", file=sys.stderr)
        return EXIT_WRITEBACK
    return EXIT_OK if result.ok else EXIT_FAILED


def _close(runner: Any) -> None:
    close = getattr(runner, "close", None)
    if close:
        close()
    client = getattr(runner, "client", None)
    if client is not None:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m segmatte.server.commands.batch`` (until ``batch`` is in cli.COMMANDS)."""
    parser = argparse.ArgumentParser(prog="segmatte batch")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except KeyboardInterrupt:
        print("segmatte: cancelled", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
