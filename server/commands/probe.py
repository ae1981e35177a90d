"""``segmatte probe``: what the reader sees in a source."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ..cli import EXIT_OK, EXIT_USAGE
from ..media import MediaError, MediaInfo, probe


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
    for key, value in summary(info).items():
        table.add_row(key, value)
    Console().print(table)
    return EXIT_OK


def summary(info: MediaInfo) -> dict[str, str]:
    """What a person reads: one short line per fact (``--json`` has every frame time)."""
    rows = {"path": info.path, "kind": info.kind, "size": f"{info.width}×{info.height}",
            "fps": f"{info.fps:g}" if info.fps else "not recorded (image files; the host decides)",
            "frames": f"{info.first}-{info.last} ({info.frame_count} frames)"}
    if info.kind == "sequence":
        rows["missing"] = (_numbers(info.missing) if info.missing else "none")
        if info.missing:
            rows["missing"] += "; --hold-gaps holds the previous frame over them"
    if info.frame_times:
        times = info.frame_times
        rows["frame times"] = (f"{times[0]:.3f} s … {times[-1]:.3f} s "
                               f"({len(times)} indexed; --json lists them)")
    rows["format"] = f"{info.codec}, {info.pix_fmt}, {info.bit_depth}-bit" + (
        ", scene-linear" if info.linear else "")
    if info.timecode:
        rows["timecode"] = info.timecode
    if info.pattern and info.pattern != info.path:
        rows["files"] = info.pattern
    return rows


def _numbers(values: tuple[int, ...], limit: int = 20) -> str:
    shown = ", ".join(map(str, values[:limit]))
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"{len(values)} frame{'s' if len(values) != 1 else ''}: {shown}{more}"
