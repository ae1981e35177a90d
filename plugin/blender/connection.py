"""The link to the segmatte server: a background client, polled from a UI timer.

Nothing here blocks Blender's UI thread. The vendored client (``.client``,
stdlib + pyzmq) runs its own I/O thread; requests return futures, events land
in a thread-safe queue. :func:`poll`, registered with ``bpy.app.timers``,
runs on the UI thread: it hands finished replies to their callbacks, folds job
events into :class:`JobWatch` records and the window manager's status
properties, and redraws the panels. Tests call :func:`poll` themselves (timers
never fire without an event loop).
"""

from __future__ import annotations

import os
import queue
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bpy

from . import wording
from .client import events as ev
from .client import paths
from .client import protocol as P
from .client.client import Client, ClientError
from .session import SessionWatch

POLL_BUSY_S = 0.1
POLL_IDLE_S = 0.5
NO_ANSWER_S = 3.0
"""After this long without a welcome, the status says nobody answers (it keeps trying)."""
SPAWN_WAIT_S = 60.0


@dataclass
class JobWatch:
    """A job this Blender session submitted, and where its mattes go."""

    job: str
    target: dict[str, Any]
    """What to attach to: {"kind": "CLIP"|"STRIP", "name", "scene", "shift", ...}."""
    state: str = "queued"
    done: int = 0
    total: int = 0
    fps: float = 0.0
    eta_s: float | None = None
    manifest: str = ""
    reason: str = ""
    written: int = 0
    skipped: int = 0
    """Frames already on disk from an earlier run (resume)."""
    frames: dict[int, tuple[str, ...]] = field(default_factory=dict)
    rewritten: set[int] = field(default_factory=set)
    """Frames this job wrote (``frames`` also has those it found on disk and kept)."""
    attached: bool = False
    messages: list[tuple[str, str]] = field(default_factory=list)
    """(level, text) said when the mattes were attached."""


class Link:
    """The one connection of this Blender session (module-level :data:`link`)."""

    def __init__(self) -> None:
        self.client: Client | None = None
        self.state = "DISCONNECTED"
        """DISCONNECTED, CONNECTING, CONNECTED, REFUSED."""
        self.detail = ""
        self.address = ""
        self.engines: list[dict[str, Any]] = []
        self.jobs: dict[str, JobWatch] = {}
        self.active_job = ""
        self.started_at = 0.0
        self.spawned: subprocess.Popen | None = None
        self.spawn_deadline = 0.0
        self._spawn_prefs: Any = None
        self._waiting: list[tuple[Any, Callable[[dict | None, Exception | None], None]]] = []
        self._orphans: dict[str, list[ev.Event]] = {}
        """Events of a job whose submit reply has not been handled yet."""
        self.on_finished: Callable[[JobWatch], None] | None = None
        """Run on the UI thread when a job ends (attach hooks itself here)."""
        self.on_frame: Callable[[JobWatch, ev.FrameWritten], None] | None = None
        """Run on the UI thread for each frame a job writes (the overlay follows)."""
        self.session: SessionWatch | None = None
        self.notice: tuple[str, str] = ("", "")
        """(level, text): the last refusal or failure the server (or the link) gave."""
        self.notice_job = ""
        """The job the notice is about ("" = a request that made no job)."""

    # --- saying things -----------------------------------------------------------

    def say(self, level: str, text: str, job: str = "") -> str:
        """Keep ``text`` (in the panel's words) as the notice and report it; returns it."""
        text = wording.for_panel(text)
        self.notice, self.notice_job = (level, text), job
        report(level, text)
        return text

    def clear_notice(self) -> None:
        self.notice, self.notice_job = ("", ""), ""

    # --- connecting -------------------------------------------------------------

    def connect(self, address: str | None = None, token: str | None = None) -> None:
        """(Re)connect in the background; the status follows in :func:`poll`."""
        self.disconnect()
        name = f"blender {bpy.app.version_string}"
        self.client = Client(address or None, token or None, name=name)
        self.address = self.client.address
        self.client.start()
        self.state, self.detail = "CONNECTING", f"connecting to {self.address}"
        self.started_at = time.monotonic()
        ensure_timer()

    def disconnect(self) -> None:
        if self.client is not None:
            self.client.close(timeout=0.5)
        self.client = None
        self.state, self.detail = "DISCONNECTED", ""
        self.engines = []
        waiting, self._waiting = self._waiting, []
        for _, callback in waiting:
            callback(None, ConnectionError("disconnected"))

    @property
    def connected(self) -> bool:
        return self.client is not None and self.state == "CONNECTED"

    def start_server(self, command: str, address: str | None, token: str | None) -> str:
        """Start the server command in the background; connect once it has said where it is."""
        args = shlex.split(command, posix=os.name != "nt")
        if not args:
            raise ValueError("the server command in the preferences is empty")
        self.disconnect()
        log = open(os.path.join(tempfile.gettempdir(), "segmatte-serve.log"), "ab")  # noqa: SIM115
        try:
            kwargs: dict[str, Any] = {"stdout": log, "stderr": log, "stdin": subprocess.DEVNULL}
            if os.name == "nt":
                kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
            else:
                kwargs["start_new_session"] = True
            self.spawned = subprocess.Popen(args, **kwargs)
        finally:
            log.close()
        self.spawn_deadline = time.monotonic() + SPAWN_WAIT_S
        self._spawn_prefs = (address, token)
        self.state, self.detail = "CONNECTING", f"starting: {command}"
        ensure_timer()
        return log.name

    # --- requests ----------------------------------------------------------------

    def request(self, kind: str, callback: Callable[[dict | None, Exception | None], None],
                **fields: Any) -> None:
        """Send a request; ``callback(reply, error)`` runs on the UI thread in :func:`poll`."""
        if self.client is None:
            raise ConnectionError("not connected to the segmatte server")
        self._waiting.append((self.client.request_async(kind, **fields), callback))
        ensure_timer()

    def submit(self, spec: dict[str, Any], target: dict[str, Any],
               callback: Callable[[JobWatch | None, Exception | None], None]) -> None:
        """Submit a job (subscribed to its events); ``callback(watch, error)``."""
        import uuid

        self.active_job = ""  # an older job's state must not stand in for this one's answer
        self.clear_notice()

        def then(reply: dict | None, error: Exception | None) -> None:
            if error is not None:
                self.say("ERROR", f"the server refused the job: {_message(error)}")
                callback(None, error)
                return
            self._watch(reply["job"], target)
            callback(self.jobs[reply["job"]], None)

        self.request("submit", then, spec=spec, subscribe=True, key=uuid.uuid4().hex)

    def _watch(self, job: str, target: dict[str, Any]) -> JobWatch:
        watch = self.jobs.setdefault(job, JobWatch(job, target))
        self.active_job = watch.job
        for event in self._orphans.pop(watch.job, []):
            self._on_event(event)
        return watch

    # --- sessions ----------------------------------------------------------------

    def open_session(self, watch: SessionWatch, callback: Callable[[SessionWatch], None],
                     **fields: Any) -> None:
        """``session.open`` on ``watch.source`` (``watch.frame``, the playhead's, is embedded
        before the reply); ``callback(watch)`` once it is open or refused."""
        self.clear_notice()
        self.session = watch

        def then(reply: dict | None, error: Exception | None) -> None:
            if error is not None:
                watch.state = "failed"
                watch.error = self.say("ERROR", f"cannot open a session: {_message(error)}")
            else:
                watch.id, watch.state = reply["session"], "open"
                watch.width, watch.height = int(reply["width"]), int(reply["height"])
                watch.first, watch.last = int(reply["first"]), int(reply["last"])
                watch.model = str(reply.get("model", ""))
            callback(watch)

        if watch.frame is not None:  # embedded before the reply: the first click is cheap
            fields.setdefault("frame", int(watch.frame))
        self.request("session.open", then, source=watch.source, engine=watch.engine, **fields)

    def prompt(self, obj: str, frame: int, callback: Callable[[dict | None], None],
               **fields: Any) -> None:
        """``session.prompt``; the preview lands in the session watch, then ``callback(reply)``.
        The preview comes at the clip's size on screen (cheaper to make and to load)."""
        watch = self.session
        if watch is None or watch.state not in ("open", "propagating"):
            raise ConnectionError("no session is open: press Start Session")

        def then(reply: dict | None, error: Exception | None) -> None:
            if error is not None:
                what = f"'{fields['text']}'" if fields.get("text") else "the click"
                self.say("ERROR", f"{what} on frame {frame} was refused: {_message(error)}")
            elif "instances" in reply:  # a text prompt: every instance found, and the union
                self.clear_notice()
                ids = watch.found(str(reply.get("object") or obj), int(reply["frame"]),
                                  str(fields.get("text", "")), list(reply["instances"] or []))
                if not ids:
                    self.say("WARNING", f"'{fields.get('text', '')}' found nothing on frame "
                             f"{reply['frame']}: try other words or a lower detection "
                             "threshold")
            else:
                self.clear_notice()
                watch.preview(obj, int(reply["frame"]), str(reply["path"]), reply.get("score"))
            callback(reply)

        if "preview_size" not in fields and watch.preview_size is not None:
            fields["preview_size"] = watch.preview_size  # the clip's size on screen
        self.request("session.prompt", then, session=watch.id, frame=int(frame), object=obj,
                     **fields)

    def propagate(self, output: dict[str, Any], target: dict[str, Any],
                  callback: Callable[[JobWatch | None], None], **fields: Any) -> None:
        """``session.propagate``: a job whose frame events move the overlay along."""
        watch = self.session
        if watch is None or watch.state != "open":
            raise ConnectionError("no session is open: press Start Session")
        self.active_job = ""
        self.clear_notice()
        watch.output = dict(output)

        def then(reply: dict | None, error: Exception | None) -> None:
            if error is not None:
                self.say("ERROR", f"the server refused to track: {_message(error)}")
                callback(None)
                return
            watch.job, watch.state, watch.propagated = reply["job"], "propagating", True
            callback(self._watch(reply["job"], target))

        self.request("session.propagate", then, session=watch.id, output=output, **fields)

    def close_session(self) -> None:
        watch, self.session = self.session, None
        if watch is not None and watch.id and self.client is not None:
            watch.state = "closed"
            self.request("session.close", lambda reply, error: None, session=watch.id)

    def shutdown_server(self, callback: Callable[[dict | None, Exception | None], None]) -> None:
        self.request("shutdown", callback)

    def cancel(self, job: str, callback: Callable[[dict | None, Exception | None], None]) -> None:
        self.request("cancel", callback, job=job)

    def refresh_engines(self) -> None:
        def then(reply: dict | None, error: Exception | None) -> None:
            if reply is not None:
                self.engines = list(reply.get("engines", []))
                from . import options_ui

                for entry in self.engines:
                    try:
                        options_ui.ensure(entry)
                    except (TypeError, ValueError, RuntimeError) as exc:
                        self.detail = f"options of {entry.get('name')}: {exc}"
            else:
                self.detail = f"cannot list engines: {error}"

        self.request("engines", then)

    def engine(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.engines if e.get("name") == name), None)

    # --- the UI-thread side ------------------------------------------------------

    def poll(self) -> bool:
        """Drain replies and events; True while something is still under way."""
        self._poll_spawn()
        if self.client is None:
            return self.spawned is not None and self.spawn_deadline > 0
        waiting, self._waiting = self._waiting, []
        for future, callback in waiting:
            if not future.done():
                self._waiting.append((future, callback))
                continue
            try:
                reply, error = future.result(), None
            except (ClientError, ConnectionError, OSError, RuntimeError) as exc:
                reply, error = None, exc
            try:
                callback(reply, error)
            except Exception as exc:  # a callback bug must not kill the timer
                self.detail = f"internal error: {exc}"
        if self.client is None:  # a callback disconnected
            return bool(self._waiting)
        for _ in range(10_000):
            try:
                event = self.client.events.get_nowait()
            except queue.Empty:
                break
            self._on_event(event)
        if self.state == "CONNECTING" and time.monotonic() - self.started_at > NO_ANSWER_S:
            self.detail = (f"no server answers at {self.address} (still trying); "
                           "start one with Start Server or `segmatte serve`")
        busy = bool(self._waiting) or self.state == "CONNECTING" or any(
            w.state in ("queued", "running") for w in self.jobs.values())
        return busy

    def _poll_spawn(self) -> None:
        if self.spawned is None or not self.spawn_deadline:
            return
        code = self.spawned.poll()
        info = paths.read_json(paths.endpoint_path())
        if info.get("pid") == self.spawned.pid:
            self.spawn_deadline = 0.0
            address, token = self._spawn_prefs
            self.connect(address, token)
        elif code is not None and info.get("address") and _alive(info.get("pid")):
            # Most likely a server was running already (a second one refuses its data folder).
            self.spawn_deadline = 0.0
            address, token = self._spawn_prefs
            self.connect(address, token)
        elif code is not None:
            self.spawn_deadline = 0.0
            self.state = "DISCONNECTED"
            self.detail = (f"the server command exited with code {code}; see "
                           f"{os.path.join(tempfile.gettempdir(), 'segmatte-serve.log')}")
        elif time.monotonic() > self.spawn_deadline:
            self.spawn_deadline = 0.0
            self.state, self.detail = "DISCONNECTED", "the server did not start in time"

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.Connection):
            if event.state == "connected":
                self.state, self.detail = "CONNECTED", f"connected to {self.address}"
                self.refresh_engines()
            elif event.state == "refused":
                self.state, self.detail = "REFUSED", f"refused: {event.detail}"
            else:
                self.state, self.detail = "CONNECTING", event.detail
                self.started_at = time.monotonic()
            return
        watch = self.jobs.get(event.job)
        if watch is None:
            if len(self._orphans) < 100:
                self._orphans.setdefault(event.job, []).append(event)
            return
        if isinstance(event, ev.JobState):
            watch.state, watch.done, watch.total = event.state, event.done, event.total
            watch.manifest = event.manifest or watch.manifest
            watch.reason = event.reason or watch.reason
        elif isinstance(event, ev.Accepted):
            watch.state, watch.total = "running", event.total
        elif isinstance(event, ev.Progress):
            watch.state = "running"
            watch.done, watch.total, watch.fps, watch.eta_s = (event.done, event.total,
                                                               event.fps, event.eta_s)
        elif isinstance(event, ev.FrameWritten):
            watch.frames[event.frame] = tuple(event.paths)
            if not event.skipped:
                watch.rewritten.add(event.frame)
            if self.session is not None and self.session.job == watch.job:
                self.session.written(event.frame, event.paths)
            if self.on_frame is not None:
                try:
                    self.on_frame(watch, event)
                except Exception as exc:  # the overlay must not stop the events
                    watch.messages.append(("ERROR", f"overlay: {exc}"))
        elif isinstance(event, ev.Done):
            watch.state, watch.manifest = "done", event.manifest
            watch.written, watch.skipped = event.written, event.skipped
            watch.done = max(watch.done, event.written + event.skipped)
        elif isinstance(event, ev.Failed):
            watch.state, watch.reason = "failed", event.reason
        elif isinstance(event, ev.Cancelled):
            watch.state = "cancelled"
        if watch.state in P.FINISHED_STATES and not watch.attached:
            watch.attached = True
            if self.session is not None and self.session.job == watch.job:
                self.session.state = "open"
            if watch.state == "failed":
                self.say("ERROR", f"job failed: {watch.reason}", watch.job)
            if self.on_finished is not None:
                try:
                    self.on_finished(watch)
                except Exception as exc:  # say it, never a traceback in the UI
                    watch.messages.append(("ERROR", f"attaching the mattes failed: {exc}"))


link = Link()


def _alive(pid: Any) -> bool:
    """Whether a process with this id runs (on Windows: assumed when there is an id)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# --- preferences → address and token ----------------------------------------------


def address_and_token(prefs: Any) -> tuple[str | None, str | None]:
    """From the add-on preferences: an explicit address (or None = find it) and token."""
    address = None
    if prefs is not None and prefs.use_custom_address:
        host = prefs.host.strip() or "127.0.0.1"
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        address = f"tcp://{host}:{prefs.port}"
    token = None
    if prefs is not None and prefs.token_path.strip():
        try:
            with open(bpy.path.abspath(prefs.token_path.strip()), encoding="utf-8") as fh:
                token = fh.read().strip() or None
        except OSError:
            token = None
    return address, token


def default_token_path() -> str:
    return str(paths.token_path())


# --- the timer ---------------------------------------------------------------------


def poll() -> float | None:
    """The ``bpy.app.timers`` function: returns the delay until the next call."""
    try:
        busy = link.poll()
    except Exception as exc:  # keep the timer alive, say what happened
        link.detail = f"internal error: {exc}"
        busy = False
    _push_status()
    _redraw()
    return POLL_BUSY_S if busy else POLL_IDLE_S


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(poll):
        bpy.app.timers.register(poll, first_interval=POLL_BUSY_S, persistent=True)


def stop_timer() -> None:
    if bpy.app.timers.is_registered(poll):
        bpy.app.timers.unregister(poll)


def _push_status() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    status = getattr(wm, "segmatte", None)
    if status is None:
        return
    status.connection = link.state
    status.detail = link.detail[:1000]
    status.notice_level, status.notice = link.notice[0], link.notice[1][:1000]
    session = link.session
    status.session = session.id if session else ""
    status.session_state = session.state if session else ""
    watch = link.jobs.get(link.active_job)
    if watch is None:
        # nothing under way: an older job's state must not replace a refusal
        status.job, status.job_state, status.reason, status.messages = "", "", "", ""
        status.done = status.total = 0
        status.progress = 0.0
        return
    status.job = watch.job
    status.job_state = watch.state
    status.done, status.total = watch.done, watch.total
    status.progress = watch.done / watch.total if watch.total else 0.0
    status.fps = watch.fps
    status.reason = watch.reason[:1000]
    status.messages = "\n".join(text for _, text in watch.messages)[:2000]


def _redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in ("CLIP_EDITOR", "SEQUENCE_EDITOR", "NODE_EDITOR"):
                area.tag_redraw()


def _message(error: Exception) -> str:
    """A server error's sentence (without the code tag the client adds)."""
    return str(getattr(error, "message", None) or error)


def report(level: str, text: str) -> None:
    """Say ``text`` where the artist looks (the status bar / Info log) and on the console."""
    print(f"segmatte: {level.lower()}: {text}")
    try:
        bpy.ops.segmatte.say(level=level, message=text[:1000])
    except (RuntimeError, AttributeError, TypeError):
        pass  # an ERROR report raises for a script: it is in the reports all the same


def shutdown() -> None:
    """On unregister: stop the timer and the client thread (a started server keeps running)."""
    stop_timer()
    link.session = None
    link.disconnect()
    link.jobs.clear()
    link.on_finished = None
    link.on_frame = None


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"
