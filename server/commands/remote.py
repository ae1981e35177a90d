"""Run a job through the server from the command line (``segmatte matte … --server``).

:func:`run_remote` finds a running server (or starts ``segmatte serve`` in the
background and waits for it), submits the spec, follows the job's events
with a rich progress bar, and returns the CLI's exit code. Ctrl-C sends a
cancel and waits (briefly) for the job to stop between frames; a second
Ctrl-C leaves at once (the job is then cancelled anyway, or runs on).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from typing import Any

from segmatte.client import paths
from segmatte.client.client import Client, ClientError
from segmatte.client.events import (
    Accepted,
    Cancelled,
    Connection,
    Done,
    Failed,
    FrameWritten,
    Progress,
)
from segmatte.client.protocol import DEFAULT_PORT

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
START_TIMEOUT = 60.0
"""How long to wait for a server we started (first start imports numpy, zmq)."""
CANCEL_WAIT = 30.0


def absolute_spec(spec: Any) -> dict[str, Any]:
    """The spec as a dict with its paths made absolute: the server has its own cwd."""
    data = spec.model_dump(mode="json") if hasattr(spec, "model_dump") else dict(spec)
    data["source"] = os.path.abspath(os.path.expanduser(data["source"]))
    data["output"] = {**data["output"],
                      "folder": os.path.abspath(os.path.expanduser(data["output"]["folder"]))}
    for obj in data.get("objects") or ():
        for key in obj.get("keyframes") or ():
            if key.get("mask"):
                key["mask"] = os.path.abspath(os.path.expanduser(key["mask"]))
    # engine options that name files (a clean plate, weights), as the engine declares them
    from segmatte.models import registry
    from segmatte.models.engine import EngineError, path_options

    from ..auth import looks_like_path

    try:
        marks = path_options(registry.card(data["engine"]).Options)
    except EngineError:
        marks = {}
    options = data.get("options") or {}
    for name, mark in marks.items():
        value = options.get(name)
        if isinstance(value, str) and (mark is True or looks_like_path(value)):
            options[name] = os.path.abspath(os.path.expanduser(value))
    if isinstance(data.get("model"), str) and looks_like_path(data["model"]):
        data["model"] = os.path.abspath(os.path.expanduser(data["model"]))
    return data


def _try_connect(address: str, timeout: float) -> Client | None:
    client = Client(address, name="segmatte cli")
    try:
        client.connect(timeout=timeout)
        return client
    except TimeoutError:
        client.close()
        return None
    except ClientError:
        client.close()
        raise


def start_server(address: str) -> subprocess.Popen[bytes]:
    """Start ``segmatte serve`` detached from this terminal (it logs to its data folder)."""
    port = address.rsplit(":", 1)[-1]
    kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                              "stderr": subprocess.DEVNULL}
    if os.name == "posix":
        kwargs["start_new_session"] = True
    else:
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    return subprocess.Popen([sys.executable, "-m", "segmatte.server.cli", "serve", "--port", port],
                            **kwargs)


def connect_or_start(address: str | None, start_if_needed: bool, console: Any) -> Client:
    """A connected client; starts a local server when none answers (and that is allowed)."""
    address = address or paths.server_address(DEFAULT_PORT)
    client = _try_connect(address, 2.0)
    if client is not None:
        return client
    local = address.startswith(("tcp://127.0.0.1:", "tcp://localhost:", "tcp://[::1]:"))
    if not (start_if_needed and local):
        raise ConnectionError(f"no segmatte server answers at {address}; start one with `segmatte serve`")
    console.print(f"[dim]starting a segmatte server on {address} (log: "
                  f"{paths.data_dir() / 'server.log'})[/]")
    proc = start_server(address)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConnectionError(f"the server exited at start (code {proc.returncode}); see "
                                  f"{paths.data_dir() / 'server.log'}")
        if paths.read_token() and paths.read_json(paths.endpoint_path()).get("pid") == proc.pid:
            client = _try_connect(address, 5.0)
            if client is not None:
                return client
        time.sleep(0.1)
    raise ConnectionError(f"the server did not answer within {START_TIMEOUT:g} s; see "
                          f"{paths.data_dir() / 'server.log'}")


def run_remote(spec: Any, *, address: str | None = None, start_if_needed: bool = True,
               console: Any = None) -> int:
    """Submit ``spec`` (a JobSpec) to a server, show progress, return the exit code."""
    from rich.console import Console

    console = console or Console(stderr=True)
    try:
        client = connect_or_start(address, start_if_needed, console)
    except (ConnectionError, ClientError) as exc:
        console.print(f"segmatte: {exc}")
        return EXIT_FAILED
    try:
        try:
            job = client.submit(absolute_spec(spec))
        except ClientError as exc:
            where = f" ({exc.field})" if exc.field else ""
            console.print(f"segmatte: {exc.message}{where}")
            return EXIT_FAILED if exc.code in ("internal", "busy", "shutting_down") else EXIT_USAGE
        except TimeoutError as exc:
            console.print(f"segmatte: {exc}")
            return EXIT_FAILED
        return _follow(client, job, console)
    finally:
        client.close()


def _follow(client: Client, job: str, console: Any) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bar

    cancel_at: float | None = None
    with Bar(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
             TextColumn("{task.fields[rate]}"), console=console, transient=False) as bar:
        task = bar.add_task(f"job {job}", total=None, rate="")
        while True:
            try:
                try:
                    event = client.events.get(timeout=0.2)
                except queue.Empty:
                    if cancel_at is not None and time.monotonic() - cancel_at > CANCEL_WAIT:
                        console.print("segmatte: the job did not stop in time; it will stop "
                                      "at its next frame")
                        return EXIT_CANCELLED
                    continue
                if isinstance(event, Connection):
                    if event.state == "lost":
                        bar.update(task, rate="[yellow]server silent, reconnecting…[/]")
                    elif event.state == "refused":
                        console.print(f"segmatte: {event.detail}")
                        return EXIT_FAILED
                    continue
                if event.job != job:
                    continue
                if isinstance(event, Accepted):
                    bar.update(task, total=event.total)
                elif isinstance(event, FrameWritten):
                    bar.advance(task)
                elif isinstance(event, Progress):
                    eta = f", ETA {event.eta_s:.0f} s" if event.eta_s else ""
                    bar.update(task, completed=event.done, total=event.total or None,
                               rate=f"{event.fps:.1f} fps{eta}")
                elif isinstance(event, Done):
                    bar.update(task, completed=event.written + event.skipped, rate="done")
                    bar.stop()
                    skipped = f" ({event.skipped} already there)" if event.skipped else ""
                    console.print(f"{event.written} frames written{skipped}; manifest: {event.manifest}")
                    return EXIT_OK
                elif isinstance(event, Failed):
                    bar.stop()
                    at = f" at frame {event.frame}" if event.frame is not None else ""
                    console.print(f"segmatte: job failed{at}: {event.reason}")
                    return EXIT_FAILED
                elif isinstance(event, Cancelled):
                    bar.stop()
                    console.print(f"cancelled; {event.written} whole frames written")
                    return EXIT_CANCELLED
            except KeyboardInterrupt:
                if cancel_at is not None:
                    return EXIT_CANCELLED
                cancel_at = time.monotonic()
                bar.update(task, rate="[yellow]cancelling…[/]")
                try:
                    client.cancel(job, timeout=5)
                except (ClientError, TimeoutError) as exc:
                    console.print(f"segmatte: could not cancel: {exc}")
                    return EXIT_CANCELLED
