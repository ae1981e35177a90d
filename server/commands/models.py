"""``segmatte models``: list the known models, pull one into the cache, print its path."""

from __future__ import annotations

import argparse
import json
import sys

from ..cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch and locate model weights",
                       description="Weights are never fetched inside a job: pull them once, "
                                   "then jobs run offline from the cache.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    ls = msub.add_parser("list", help="the models segmatte knows and whether they are pulled")
    ls.add_argument("--engine", help="only the models of this engine (track, person, semantic)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=run_list)
    pull = msub.add_parser("pull", help="fetch a model into the cache (resumes, verifies digests)")
    pull.add_argument("name")
    pull.add_argument("--accept-licence", "--accept-license", dest="accept_licence",
                      action="store_true",
                      help="accept a gated, non-commercial or GPL licence (printed first)")
    pull.add_argument("--endpoint", help="hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    pull.set_defaults(func=run_pull)
    path = msub.add_parser("path", help="print the cache folder of a pulled model")
    path.add_argument("name")
    path.set_defaults(func=run_path)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), EXIT_USAGE)[1])


def run_list(args: argparse.Namespace) -> int:
    from segmatte.models.weights import cache, catalog

    rows = []
    for e in catalog.entries(args.engine):
        local = cache.local_path(e)
        other = None if local is not None else found_elsewhere(e.name)
        rows.append({"name": e.name, "engine": e.engine, "source": e.repo or e.url,
                     "size_mb": e.size_mb, "licence": e.licence, "opt_in": e.opt_in,
                     "pulled": local is not None, "path": str(local or other or "") or None,
                     "usable": local is not None or other is not None,
                     "description": e.description})
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    console = Console()
    wide = console.width >= 120
    # The name is what you type: never cut. The source is in --json (and wide terminals).
    table = Table(title="models", caption="* opt-in licence: pull with --accept-licence"
                  if any(r["opt_in"] for r in rows) else None)
    table.add_column("name", no_wrap=True, min_width=max((len(r["name"]) for r in rows), default=4))
    table.add_column("engine", no_wrap=True, min_width=8)
    table.add_column("size", justify="right", no_wrap=True, min_width=7)
    table.add_column("licence", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("here", no_wrap=True)
    if wide:
        table.add_column("source", overflow="fold")
    for r in rows:
        lic = r["licence"] + (" *" if r["opt_in"] else "")
        here = "pulled" if r["pulled"] else ("assets" if r["usable"] else "no")
        cells = [r["name"], r["engine"], f"{r['size_mb']:.0f} MB", lic, here]
        table.add_row(*cells, *([r["source"]] if wide else []))
    console.print(table)
    if any(r["usable"] and not r["pulled"] for r in rows):
        console.print("[dim]assets: not pulled, but the engine finds the test assets' weights "
                      "(install/test_assets.py); `--json` shows where[/]")
    return EXIT_OK


def found_elsewhere(name: str) -> str | None:
    """Weights an engine finds outside the model cache (the person engine reads the
    test assets' TF.js export), so the listing says what really runs."""
    if name != "rvm-mobilenetv3":
        return None
    from segmatte.models.engine import EngineError
    from segmatte.models.person.weights import resolve_weights

    try:
        return str(resolve_weights())
    except EngineError:
        return None


def run_pull(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from segmatte.models.engine import EngineError
    from segmatte.models.weights import catalog, pull

    err = Console(stderr=True)
    try:
        entry = catalog.get(args.name)
    except EngineError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if entry.opt_in and args.accept_licence:  # say out loud what was accepted
        err.print(f"[bold]licence accepted:[/bold] {pull.licence_notice(entry)}")
    tasks: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=err) as bar:
        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total or None)
            bar.update(tasks[name], completed=done, total=total or None)

        try:
            folder = pull.pull(entry, accept_licence=args.accept_licence,
                               endpoint=args.endpoint, progress=progress)
        except pull.LicenceNotAccepted as exc:
            print(f"segmatte: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except EngineError as exc:
            print(f"segmatte: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(folder)
    return EXIT_OK


def run_path(args: argparse.Namespace) -> int:
    from segmatte.models.engine import EngineError
    from segmatte.models.weights import cache

    try:
        print(cache.require(args.name))
    except EngineError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
