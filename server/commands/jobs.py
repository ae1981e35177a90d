"""``segmatte jobs``: the jobs in the server's journal, newest first.

Reads the journal file directly (read-only, WAL): it works whether or not a
server is running, and never disturbs one that is.
"""

from __future__ import annotations

import argparse
import json
import time
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
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def run(args: argparse.Namespace) -> int:
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
    table = Table(title=f"segmatte jobs ({path})")
    for col in ("job", "state", "frames", "engine", "source", "output", "created", "note"):
        table.add_column(col, overflow="fold")
    for row in rows:
        s = row.summary()
        note = s["error"] or (s["manifest"] or "")
        table.add_row(row.id, f"[{colour.get(row.state, 'white')}]{row.state}[/]",
                      f"{row.done}/{row.total}", str(s["engine"] or ""), str(s["source"] or ""),
                      str(s["output"] or ""), _when(row.created), note)
    console.print(table)
    return 0
