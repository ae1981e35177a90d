"""One matte job seen from the host's UI thread: submit in the background, poll in a timer.

Resolve's UI thread must never wait on the network: connecting (which can
take seconds when no server runs) and submitting happen on a short-lived
thread, and the client's own I/O thread does the rest. The panel's timer calls
:meth:`MatteJob.poll`, which only drains queues and returns a snapshot. No
thread here prints or touches host objects: everything reaches the artist
through the snapshot the panel shows.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field

from segmatte.client.manifest import ManifestError, MatteSequence, read_manifest
from segmatte.client.patterns import group_frame_files

CONNECT_TIMEOUT_S = 10.0


@dataclass
class Snapshot:
    """What the panel shows; ``state`` is idle, connecting, queued, running, done, failed, cancelled."""

    state: str = "idle"
    message: str = ""
    done: int = 0
    total: int = 0
    job: str = ""
    manifest: str = ""
    sequences: list = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


def progress_text(snap: Snapshot, width: int = 30) -> str:
    """A text progress bar for a Label (UIManager documents no progress widget)."""
    filled = int(round(snap.fraction * width))
    bar = "█" * filled + "░" * (width - filled)
    count = f"{snap.done}/{snap.total}" if snap.total else ""
    return f"{bar} {count}".rstrip()


class QueueLogHandler(logging.Handler):
    """Keeps the client's log lines (written on its I/O thread) for the UI to show.

    Without a handler, Python's last-resort handler would print warnings from
    background threads, which Resolve swallows or shows out of context.
    """

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.lines: queue.SimpleQueue = queue.SimpleQueue()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(record.getMessage())
        except Exception:
            pass

    def take(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out


def capture_client_log() -> QueueLogHandler:
    """Route ``segmatte.*`` logging into a queue (once per interpreter); returns the handler."""
    logger = logging.getLogger("segmatte")
    for handler in logger.handlers:
        if isinstance(handler, QueueLogHandler):
            return handler
    handler = QueueLogHandler()
    logger.addHandler(handler)
    logger.propagate = False
    return handler


def engines_in_background(client_factory, out: queue.Queue) -> threading.Thread:
    """Ask the server for its engines off the UI thread; puts ('engines', list) or ('error', text)."""

    def work() -> None:
        client = None
        try:
            client = client_factory()
            client.connect(timeout=CONNECT_TIMEOUT_S)
            out.put(("engines", client.engines(timeout=30.0)))
        except Exception as exc:
            out.put(("error", _say(exc)))
        finally:
            if client is not None:
                client.close()

    thread = threading.Thread(target=work, name="segmatte-engines", daemon=True)
    thread.start()
    return thread


def _say(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError) and "segmatte serve" not in text:
        text += " (start the server with `segmatte serve`)"
    return text


def sequences_of(manifest: str, frame_paths: list[str]) -> list[MatteSequence]:
    """The finished job's sequences from its manifest, else from the frame events' paths."""
    if manifest:
        try:
            return read_manifest(manifest).sequences
        except ManifestError:
            pass
    return [MatteSequence(f.stem, f.files) for f in group_frame_files(frame_paths)]


class MatteJob:
    """Start a job through a client (``launch(client) -> job id``) and follow its events.

    A plain job: ``MatteJob(factory, submit_launch(spec))`` with a fresh client
    that is closed at the end. A session's propagation passes the session's
    client (``own_client=False``): it stays open for the next correction.
    """

    def __init__(self, client_factory, launch, own_client: bool = True) -> None:
        self.snapshot = Snapshot(state="connecting", message="connecting to the segmatte server…")
        self._factory = client_factory
        self._launch = launch
        self._own = own_client
        self._client = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._cancel_asked = False
        self._frame_paths: list[str] = []
        self.written: list[int] = []
        """Source frames the job wrote (frame events), in the order they came."""
        self._thread = threading.Thread(target=self._submit, name="segmatte-submit", daemon=True)

    def start(self) -> MatteJob:
        self._thread.start()
        return self

    def _submit(self) -> None:
        try:
            client = self._factory()
            self._inbox.put(("client", client))
            client.connect(timeout=CONNECT_TIMEOUT_S)
            job = self._launch(client)
            self._inbox.put(("job", job))
        except Exception as exc:
            self._inbox.put(("error", _say(exc)))

    def cancel(self) -> None:
        """Ask the server to cancel; the end arrives as an event, the UI never waits."""
        self._cancel_asked = True
        snap = self.snapshot
        if self._client is not None and snap.job and not snap.finished:
            self._client.request_async("cancel", job=snap.job)
            snap.message = "cancelling…"

    def poll(self) -> Snapshot:
        """Drain what arrived since the last tick; cheap, never blocks."""
        snap = self.snapshot
        while True:
            try:
                kind, value = self._inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "client":
                self._client = value
            elif kind == "job":
                snap.job, snap.state = value, "queued"
                snap.message = f"job {value} queued"
                if self._cancel_asked:
                    self.cancel()
            elif kind == "error":
                snap.state, snap.message = "failed", value
                self.close()
        if self._client is not None and not snap.finished:
            self._drain_events(snap)
        return snap

    def _drain_events(self, snap: Snapshot) -> None:
        events = self._client.events
        while not snap.finished:
            try:
                event = events.get_nowait()
            except queue.Empty:
                return
            self._apply(snap, event)
        if snap.finished:
            self.close()

    def _apply(self, snap: Snapshot, event) -> None:
        kind = event.type
        if kind == "connection":
            if event.state != "connected":
                snap.message = f"server connection {event.state}: {event.detail}"
            return
        if snap.job and event.job != snap.job:
            return
        if kind == "accepted":
            snap.total, snap.state = event.total, "running"
        elif kind == "progress":
            snap.state, snap.done, snap.total = "running", event.done, event.total or snap.total
            eta = f", about {event.eta_s:.0f} s left" if event.eta_s else ""
            snap.message = f"{snap.done}/{snap.total} frames{eta}"
        elif kind == "frame":
            self._frame_paths.extend(event.paths)
            if not event.skipped:
                self.written.append(event.frame)
        elif kind == "state":
            snap.done, snap.total = event.done, event.total
            if event.state in ("queued", "running"):
                snap.state = event.state
            elif event.state == "done":
                self._finish(snap, event.manifest)
            else:
                snap.state, snap.message = event.state, event.reason or event.state
        elif kind == "done":
            snap.done = max(snap.done, event.written + event.skipped)
            self._finish(snap, event.manifest)
        elif kind == "failed":
            where = f" at frame {event.frame}" if event.frame is not None else ""
            snap.state, snap.message = "failed", f"failed{where}: {event.reason}"
        elif kind == "cancelled":
            snap.state, snap.message = "cancelled", f"cancelled after {event.written} frames"

    def _finish(self, snap: Snapshot, manifest: str) -> None:
        snap.state, snap.manifest = "done", manifest
        snap.sequences = sequences_of(manifest, self._frame_paths)
        snap.done = max(snap.done, snap.total)
        snap.message = f"done: {sum(len(s.files) for s in snap.sequences)} matte files"

    def abandon(self, wait_s: float = 5.0) -> None:
        """The window is closing: cancel the job and close the client once the server
        answered (or after ``wait_s``), on a thread, so the UI closes at once."""
        client, job = self._client, self.snapshot.job
        self._client = None
        if client is None:
            return
        if not self._own:  # the session's client: cancel only, its owner closes it
            if job and not self.snapshot.finished:
                client.request_async("cancel", job=job)
            return
        if not job or self.snapshot.finished:
            threading.Thread(target=client.close, name="segmatte-close", daemon=True).start()
            return
        future = client.request_async("cancel", job=job)

        def finish() -> None:
            try:
                future.exception(timeout=wait_s)
            except Exception:
                pass
            client.close()

        threading.Thread(target=finish, name="segmatte-abandon", daemon=True).start()

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            if self._own:
                threading.Thread(target=client.close, name="segmatte-close", daemon=True).start()


def submit_launch(spec: dict):
    """The launch of a plain job: submit ``spec``."""
    return lambda client: client.submit(spec)
