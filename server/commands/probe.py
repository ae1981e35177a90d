"""``segmatte probe``: what the reader sees in a source."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ..cli import EXIT_OK, EXIT_USAGE
from ..media import MediaError, probe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="show what segmatte reads from a source",
                       description="Print the size, frame rate, frame numbers, timecode and "
                                   "format of a video, image sequence or still.")
    p.add_argument("source")
    p.add_argument("--part", metavar="NAME", help="multi-part EXR: the part to read (name or index)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        info = probe(args.source, args.part)
    except MediaError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(info).items()}
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(args.source), show_header=False)
    for key, value in data.items():
        if key == "missing" and value:
            value = f"{len(value)} frames: {value[:20]}{' …' if len(value) > 20 else ''}"
        table.add_row(key, str(value))
    Console().print(table)
    return EXIT_OK
