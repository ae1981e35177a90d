"""How a batch shows its progress: rich bars for a person, JSON lines for a program."""

from __future__ import annotations

import json
import sys
from typing import Any

from .manifest import BatchManifest, ShotRecord
from .plan import ShotJob


class JsonView:
    """One JSON object per line on stdout: begin, shot start/end, end."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout

    def _print(self, data: dict[str, Any]) -> None:
        print(json.dumps(data), file=self.out, flush=True)

    def note(self, text: str) -> None:
        self._print({"type": "note", "message": text})

    def begin(self, jobs: list[ShotJob], skipped: list[ShotRecord]) -> None:
        self._print({"type": "batch", "shots": len(jobs), "frames": sum(j.frames for j in jobs),
                     "kept": [{"id": r.id, "state": r.state} for r in skipped]})

    def started(self, job: ShotJob) -> None:
        self._print({"type": "shot", "id": job.shot.id, "state": "running",
                     "first": job.first, "last": job.last})

    def progress(self, job: ShotJob, done: int) -> None:
        pass

    def finished(self, job: ShotJob, record: ShotRecord) -> None:
        self._print({"type": "shot", "id": record.id, "state": record.state,
                     "reason": record.reason, "written": record.written,
                     "skipped": record.skipped, "first": record.first, "last": record.last})

    def end(self, manifest: BatchManifest) -> None:
        self._print({"type": "end", "counts": manifest.counts(),
                     "failed": [{"id": r.id, "reason": r.reason} for r in manifest.failed()]})


class RichView:
    """An overall bar (frames of all shots) and one bar per running shot."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TimeRemainingColumn(), console=self.console)
        self.overall: Any = None
        self.tasks: dict[str, Any] = {}
        self.done: dict[str, int] = {}
        self.base = 0
        self.shots_total = 0
        self.shots_ended = 0

    def __enter__(self) -> RichView:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]{text}[/yellow]")

    def begin(self, jobs: list[ShotJob], skipped: list[ShotRecord]) -> None:
        self.shots_total = len(jobs)
        for rec in skipped:
            mark = "[green]done[/green]" if rec.state == "done" else "[red]failed[/red] (kept; --retry-failed runs it)"
            self.console.print(f"  {rec.id}: {mark}")
        self.overall = self.bars.add_task(self._title(), total=max(1, sum(j.frames for j in jobs)))

    def _title(self) -> str:
        return f"[bold]batch[/bold] {self.shots_ended}/{self.shots_total} shots"

    def _update_overall(self) -> None:
        self.bars.update(self.overall, completed=self.base + sum(self.done.values()),
                         description=self._title())

    def started(self, job: ShotJob) -> None:
        self.tasks[job.shot.id] = self.bars.add_task(f"  {job.shot.id}", total=job.frames)
        self.done[job.shot.id] = 0

    def progress(self, job: ShotJob, done: int) -> None:
        task = self.tasks.get(job.shot.id)
        if task is not None:
            self.bars.update(task, completed=done)
            self.done[job.shot.id] = done
            self._update_overall()

    def finished(self, job: ShotJob, record: ShotRecord) -> None:
        task = self.tasks.pop(job.shot.id, None)
        if task is not None:
            self.bars.remove_task(task)
        self.done.pop(job.shot.id, None)
        self.shots_ended += 1
        self.base += job.frames
        self._update_overall()
        if record.state == "done":
            self.console.print(f"  [green]✓[/green] {record.id} {record.first}-{record.last}: "
                               f"{record.written} written, {record.skipped} already there")
        elif record.state == "failed":
            self.console.print(f"  [red]✗[/red] {record.id}: {record.reason}")
        else:
            self.console.print(f"  [yellow]–[/yellow] {record.id}: {record.state}")

    def end(self, manifest: BatchManifest) -> None:
        failed = manifest.failed()
        if failed:
            self.console.print(f"[red]{len(failed)} shot(s) failed[/red] "
                               "(fix them, then run again with --retry-failed):")
            for rec in failed:
                self.console.print(f"  {rec.id}: {rec.reason}")
