"""``segmatte jobs``: the jobs in the server's journal, newest first.

Reads the journal file directly (read-only, WAL): it works whether or not a
server is running, and never disturbs one that is.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from segmatte.client import paths
from segmatte.client.protocol import JOB_STATES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("jobs", help="list the server's jobs (from its journal)",
                              description="List jobs from the server's journal, newest first.")
    p.add_argument("--state", choices=JOB_STATES, help="only jobs in this state")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.set_defaults(func=run)


def _when(t: float | None) -> str:
    """Time of day for today's jobs, the date for older ones."""
    if not t:
        return "-"
    today = time.strftime("%Y-%m-%d") == time.strftime("%Y-%m-%d", time.localtime(t))
    return time.strftime("%H:%M:%S" if today else "%Y-%m-%d", time.localtime(t))


def run(args: argparse.Namespace) -> int:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from segmatte.server.journal import journal_path, read_jobs

    path = journal_path(paths.data_dir())
    rows = read_jobs(path, args.state, max(1, args.limit))
    if args.json:
        for row in rows:
            print(json.dumps(row.summary()))
        return 0
    console = Console()
    if not rows:
        console.print(f"no jobs in {path}" if path.exists() else
                      f"no journal yet ({path}); jobs appear here once `segmatte serve` runs one")
        return 0
    colour = {"done": "green", "failed": "red", "cancelled": "yellow", "running": "cyan"}
    # One line per job at any width: names, not whole paths (those are in --json).
    table = Table(box=box.SIMPLE_HEAD, caption=f"{path}; full paths and messages: --json",
                  caption_justify="left")
    table.add_column("job", no_wrap=True, min_width=12)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("frames", no_wrap=True, justify="right", min_width=7)
    table.add_column("engine", no_wrap=True, min_width=8)
    table.add_column("created", no_wrap=True, min_width=8)
    table.add_column("source → output", no_wrap=True, overflow="ellipsis",
                     ratio=1)
    for row in rows:
        s = row.summary()
        what = (s["error"] if row.state == "failed" and s["error"] else
                f"{_short(s['source'])} → {_short(s['output'])}")
        table.add_row(row.id, f"[{colour.get(row.state, 'white')}]{row.state}[/]",
                      f"{row.done}/{row.total}", str(s["engine"] or ""), _when(row.created), what)
    console.print(table)
    return 0


def _short(path: Any) -> str:
    """The last two parts of a path (``shots/a010.mov``): enough to tell jobs apart."""
    if not path:
        return ""
    parts = Path(str(path)).parts
    return str(Path(*parts[-2:])) if len(parts) > 1 else str(path)
