"""A thin, thread-safe ZeroMQ client for the segmatte server (stdlib + pyzmq only).

One background I/O thread owns the DEALER socket (ZeroMQ sockets must not be
shared between threads). Callers on any thread — a host's UI thread included —
talk to it through a command queue and get back :class:`concurrent.futures.Future`
objects, or block in :meth:`Client.request` with a timeout. Job events land in
``client.events`` (a :class:`queue.Queue` of :mod:`segmatte.client.events`
objects), which a UI timer can drain with ``get_nowait()``.

Reliability follows the ZeroMQ guide: heartbeats both ways, and when the
server is silent for ``liveness`` heartbeats the client drops the socket and
reconnects with exponential back-off (Lazy Pirate), says hello again,
re-subscribes to its jobs (the server first sends each job's current state,
then its new events; events already seen are dropped by sequence number) and
resends requests still waiting for a reply. Submits carry an idempotency key,
so a resent submit never makes a second job.

Typical host use::

    client = Client(name="blender 4.2")
    client.connect(timeout=5)
    job = client.submit(spec)                 # subscribed to its events
    ...                                       # in a UI timer:
    while True:
        try:
            event = client.events.get_nowait()
        except queue.Empty:
            break
        ...                                   # Progress, FrameWritten, Done, Failed, ...
    client.close()
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import zmq

from . import __version__, paths
from . import protocol as P
from .events import Connection, Event, Failed, JobState, event_from_dict

log = logging.getLogger("segmatte.client")

TERMINAL_TYPES = ("done", "failed", "cancelled")


class ClientError(Exception):
    """The server answered with an error (``code``, ``field``, ``message`` as in the protocol)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.message} [{self.code}{', ' + self.field if self.field else ''}]"


@dataclass
class _Pending:
    message: dict[str, Any]
    future: Future[dict[str, Any]]
    sent: bool = False


@dataclass
class _Link:
    """What the I/O thread knows about the current connection."""

    sock: zmq.Socket | None = None
    authed: bool = False
    hello_id: str | None = None
    heartbeat_s: float = P.HEARTBEAT_S
    liveness: int = P.LIVENESS
    last_recv: float = 0.0
    last_send: float = 0.0
    connected_at: float = 0.0
    backoff: float = 0.0
    retry_at: float = 0.0
    refused: ClientError | None = None
    ever_connected: bool = False
    subs: dict[str, int] = field(default_factory=dict)
    """Jobs followed → last event sequence number seen."""
    ended: dict[str, int] = field(default_factory=dict)
    """Jobs whose end was delivered → its sequence number (late duplicates are dropped)."""


class Client:
    """Connect, say hello, then make requests and follow jobs; see the module doc."""

    def __init__(self, address: str | None = None, token: str | None = None, *,
                 name: str = "", context: zmq.Context | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 backoff: tuple[float, float] = (0.25, 4.0)) -> None:
        self.address = address or paths.server_address(P.DEFAULT_PORT)
        self._token = token
        self.name = name
        self.events: queue.Queue[Event] = queue.Queue()
        """Job and connection events for the UI thread (``get_nowait()`` in a timer)."""
        self.on_event = on_event
        """Optional callback, run on the I/O thread for each event (keep it short)."""
        self.server_info: dict[str, Any] = {}
        self._ctx = context or zmq.Context.instance()
        self._backoff = backoff
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._rwake, self._wwake = socket.socketpair()
        self._rwake.setblocking(False)
        self._wwake.setblocking(False)
        self._pending: dict[str, _Pending] = {}
        self._link = _Link()
        self._welcome = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------

    def start(self) -> Client:
        """Start the I/O thread (connects and says hello in the background)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="segmatte-client", daemon=True)
            self._thread.start()
        return self

    def connect(self, timeout: float = 5.0) -> dict[str, Any]:
        """Start and wait until the server welcomed us; return its welcome.

        Raises ClientError when the server refuses (wrong token or protocol),
        TimeoutError when no server answers in time (the client keeps trying in
        the background until :meth:`close`).
        """
        self.start()
        if not self._welcome.wait(timeout):
            if self._link.refused is not None:
                raise self._link.refused
            raise TimeoutError(f"no segmatte server answered at {self.address} within {timeout:g} s "
                               "(start one with `segmatte serve`)")
        if self._link.refused is not None:
            raise self._link.refused
        return self.server_info

    @property
    def connected(self) -> bool:
        """True while the server has welcomed us on the current socket."""
        return self._link.authed

    def close(self, timeout: float = 2.0) -> None:
        """Stop the I/O thread and close the socket; pending requests fail."""
        self._closed.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._rwake.close()
        self._wwake.close()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests -------------------------------------------------------------

    def request_async(self, kind: str, **fields: Any) -> Future[dict[str, Any]]:
        """Queue a request; the future resolves to the reply dict or raises ClientError."""
        if self._closed.is_set():
            raise RuntimeError("client is closed")
        self.start()
        msg = P.request(kind, f"{self._prefix}-{next(self._ids)}", **fields)
        future: Future[dict[str, Any]] = Future()
        self._commands.put(("send", _Pending(msg, future)))
        self._wake()
        return future

    def request(self, kind: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Send a request and wait at most ``timeout`` seconds for its reply.

        Raises ClientError on an error reply, TimeoutError when none came.
        """
        future = self.request_async(kind, **fields)
        try:
            return future.result(timeout)
        except FutureTimeout:
            self._commands.put(("forget", future))
            self._wake()
            raise TimeoutError(f"{kind}: no reply from {self.address} within {timeout:g} s") from None

    def ping(self, timeout: float = 5.0) -> dict[str, Any]:
        return self.request("ping", timeout)

    def engines(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        return self.request("engines", timeout)["engines"]

    def submit(self, spec: dict[str, Any], *, priority: int = 0, subscribe: bool = True,
               timeout: float = 30.0) -> str:
        """Submit a job spec (a dict as in ``docs/protocol.md``); return the job id.

        With ``subscribe`` its events arrive in :attr:`events` from the first.
        """
        reply = self.request("submit", timeout, spec=spec, priority=priority,
                             subscribe=subscribe, key=uuid.uuid4().hex)
        return reply["job"]

    def status(self, job: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.request("status", timeout, job=job)

    def cancel(self, job: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.request("cancel", timeout, job=job)

    def subscribe(self, job: str, timeout: float = 10.0) -> dict[str, Any]:
        """Follow a job: its current state arrives first in :attr:`events`, then new events."""
        return self.request("subscribe", timeout, job=job)

    def unsubscribe(self, job: str, timeout: float = 10.0) -> dict[str, Any]:
        self._commands.put(("unfollow", job))
        return self.request("unsubscribe", timeout, job=job)

    def jobs(self, state: str | None = None, limit: int = 100, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self.request("jobs", timeout, state=state, limit=limit)["jobs"]

    def shutdown(self, timeout: float = 10.0) -> dict[str, Any]:
        return self.request("shutdown", timeout)

    def session_open(self, source: str, engine: str = "track", model: str | None = None,
                     options: dict[str, Any] | None = None, range: dict[str, int] | None = None,
                     frame: int | None = None, timeout: float = 120.0) -> dict[str, Any]:
        """Open an interactive session on ``source``; the reply has ``session``, ``width``,
        ``height``, ``first``, ``last`` and ``fps``. Loading the model can take a while.
        ``frame`` (the host's current frame) is embedded before the reply: a first click
        there costs the mask decoder only."""
        extra = {"frame": frame} if frame is not None else {}
        return self.request("session.open", timeout, source=source, engine=engine, model=model,
                            options=options, range=range, **extra)

    def session_prompt(self, session: str, frame: int, object: str | None = None, *,
                       text: str | None = None,
                       points: list[dict[str, Any]] | None = None,
                       boxes: list[dict[str, Any]] | None = None, mask: str | None = None,
                       replace: bool | None = None, keyframe: bool | None = None,
                       preview_size: int | None = None, timeout: float = 60.0) -> dict[str, Any]:
        """Prompt ``object`` on ``frame``; the reply names the preview EXR (``path``) and ``score``.
        ``preview_size``: the preview's long side in pixels (the host's display), else source size.
        ``text`` (a ``text`` session): find every instance on ``frame``; the reply's
        ``instances`` name each one's preview (``object`` defaults to the text's label)."""
        extra: dict[str, Any] = {"preview_size": preview_size} if preview_size is not None else {}
        if text is not None:
            extra["text"] = text
        return self.request("session.prompt", timeout, session=session, frame=frame,
                            object=object, points=points, boxes=boxes, mask=mask,
                            replace=replace, keyframe=keyframe, **extra)

    def session_propagate(self, session: str, output: dict[str, Any],
                          range: dict[str, int] | None = None, direction: str | None = None,
                          start: int | None = None, subscribe: bool = True,
                          finish: dict[str, Any] | None = None, timeout: float = 60.0) -> str:
        """Propagate as a job writing into ``output``; return the job id (events follow
        in :attr:`events` like a submitted job's when ``subscribe``). ``finish`` is a
        job spec's finishing (choke, feather, chatter …)."""
        reply = self.request("session.propagate", timeout, session=session, output=output,
                             range=range, direction=direction, start=start, subscribe=subscribe,
                             finish=finish)
        return reply["job"]

    def session_close(self, session: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.request("session.close", timeout, session=session)

    def wait(self, job: str, timeout: float) -> Event:
        """Block (at most ``timeout``) until ``job`` ends, taking events off :attr:`events`.

        For scripts and tests with a single job in flight; a UI should drain the
        queue itself instead. Other jobs' events taken meanwhile are put back.
        """
        deadline = time.monotonic() + timeout
        others: list[Event] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"job {job} did not finish within {timeout:g} s")
                try:
                    event = self.events.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                if event.job == job and event.type in TERMINAL_TYPES:
                    return event
                if event.job != job:
                    others.append(event)
        finally:
            for event in others:
                self.events.put(event)

    # --- the I/O thread -------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wwake.send(b"\x01")
        except OSError:
            pass

    def _token_now(self) -> str:
        return self._token or paths.read_token() or ""

    def _run(self) -> None:
        link = self._link
        poller = zmq.Poller()
        poller.register(self._rwake.fileno(), zmq.POLLIN)
        try:
            while not self._closed.is_set():
                now = time.monotonic()
                if link.sock is None and now >= link.retry_at and link.refused is None:
                    self._open(poller)
                wait = link.heartbeat_s / 2 if link.sock is not None else max(0.0, link.retry_at - now)
                ready = dict(poller.poll(int(min(wait, 0.5) * 1000) + 1))
                if self._rwake.fileno() in ready:
                    self._drain_wake()
                self._run_commands()
                if link.sock is not None and link.sock in ready:
                    self._receive()
                self._keepalive(time.monotonic(), poller)
        except Exception:  # never die silently: fail what waits, tell the UI
            log.exception("segmatte client I/O thread failed")
            self._emit(Connection(state="lost", detail="client I/O thread failed"))
        finally:
            self._close_socket(poller)
            for pending in self._pending.values():
                if not pending.future.done():
                    pending.future.set_exception(ConnectionError("client closed"))
            while True:
                try:
                    kind, item = self._commands.get_nowait()
                except queue.Empty:
                    break
                if kind == "send" and not item.future.done():
                    item.future.set_exception(ConnectionError("client closed"))

    def _drain_wake(self) -> None:
        try:
            while self._rwake.recv(4096):
                pass
        except OSError:
            pass

    def _open(self, poller: zmq.Poller) -> None:
        link = self._link
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, 4 * P.MAX_MESSAGE)
        sock.connect(self.address)
        poller.register(sock, zmq.POLLIN)
        link.sock = sock
        link.authed = False
        link.connected_at = link.last_recv = time.monotonic()
        link.hello_id = f"{self._prefix}-hello-{next(self._ids)}"
        self._send_raw(P.request("hello", link.hello_id, protocol=P.PROTOCOL, client=__version__,
                                 token=self._token_now(), name=self.name or f"pid {os.getpid()}"))

    def _close_socket(self, poller: zmq.Poller) -> None:
        link = self._link
        if link.sock is not None:
            try:
                poller.unregister(link.sock)
            except KeyError:
                pass
            link.sock.close(0)
            link.sock = None
        link.authed = False

    def _send_raw(self, message: dict[str, Any]) -> bool:
        link = self._link
        if link.sock is None:
            return False
        try:
            link.sock.send_multipart(P.encode(message), zmq.NOBLOCK)
        except zmq.Again:
            return False
        link.last_send = time.monotonic()
        return True

    def _run_commands(self) -> None:
        while True:
            try:
                kind, item = self._commands.get_nowait()
            except queue.Empty:
                return
            if kind == "send":
                pending: _Pending = item
                if self._link.refused is not None:
                    pending.future.set_exception(self._link.refused)
                    continue
                try:
                    P.encode(pending.message)
                except (P.ProtocolError, ValueError) as exc:
                    pending.future.set_exception(
                        ClientError(P.Code.TOO_LARGE if isinstance(exc, P.ProtocolError)
                                    else P.Code.BAD_JSON, str(exc)))
                    continue
                self._pending[pending.message["id"]] = pending
                if self._link.authed:
                    pending.sent = self._send_raw(pending.message)
            elif kind == "forget":
                for key, pending in list(self._pending.items()):
                    if pending.future is item:
                        del self._pending[key]
            elif kind == "unfollow":
                self._link.subs.pop(item, None)

    def _receive(self) -> None:
        link = self._link
        assert link.sock is not None
        for _ in range(1000):
            try:
                frames = link.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            link.last_recv = time.monotonic()
            try:
                msg = P.validate_reply(P.decode(frames))
            except P.ProtocolError as exc:
                log.warning("ignoring a bad message from the server: %s", exc)
                continue
            self._dispatch(msg)
            if link.sock is None:
                return

    def _dispatch(self, msg: dict[str, Any]) -> None:
        link = self._link
        kind, msg_id = msg["type"], msg.get("id")
        if kind == "heartbeat":
            return
        if kind == "event":
            self._on_job_event(msg)
            return
        if msg_id is not None and msg_id == link.hello_id:
            self._on_hello_reply(msg)
            return
        if kind == "error" and msg.get("code") == P.Code.HELLO_REQUIRED:
            # The server forgot us (restart, or we were quiet too long): hello again;
            # the refused request goes out again after the welcome.
            if link.authed:
                link.authed = False
                link.hello_id = f"{self._prefix}-hello-{next(self._ids)}"
                self._send_raw(P.request("hello", link.hello_id, protocol=P.PROTOCOL,
                                         client=__version__, token=self._token_now(),
                                         name=self.name or f"pid {os.getpid()}"))
            pending = self._pending.get(msg_id or "")
            if pending is not None:
                pending.sent = False
            elif msg_id and "-resub-" in msg_id:
                pass  # re-subscribed again after the welcome anyway
            return
        if kind in ("submitted", "session.propagating") and msg.get("job"):
            pending = self._pending.get(msg_id or "")
            if pending is not None and pending.message.get("subscribe", True):
                link.subs.setdefault(msg["job"], 0)
        if kind == "subscribed" and msg.get("job"):
            if msg_id in self._pending:  # asked for by the caller: replay the end too
                link.ended.pop(msg["job"], None)
            if msg["job"] not in link.ended:
                link.subs.setdefault(msg["job"], 0)
        pending = self._pending.pop(msg_id or "", None)
        if pending is None:
            if kind == "error" and msg.get("code") == P.Code.NOT_FOUND and msg_id and "-resub-" in msg_id:
                job = msg_id.split("-resub-", 1)[1]
                link.subs.pop(job, None)
                self._emit(Failed(job=job, reason="the server no longer knows this job"))
            return
        if kind == "error":
            pending.future.set_exception(ClientError(msg.get("code") or P.Code.INTERNAL,
                                                     str(msg.get("message", "")), msg.get("field")))
        else:
            pending.future.set_result(msg)

    def _on_hello_reply(self, msg: dict[str, Any]) -> None:
        link = self._link
        if msg["type"] == "error":
            message = str(msg.get("message", ""))
            if not self._token_now() and msg.get("field") == "token":
                # the server's field error ("token length must be at least 1")
                # would not tell the user what to do
                message = (f"no token at {paths.token_path()}: start the server once "
                           "(`segmatte serve`) to create your token, as the same user")
            link.refused = ClientError(msg.get("code") or P.Code.BAD_TOKEN, message,
                                       msg.get("field"))
            self._emit(Connection(state="refused", detail=str(link.refused.message)))
            for pending in self._pending.values():
                if not pending.future.done():
                    pending.future.set_exception(link.refused)
            self._pending.clear()
            self._welcome.set()
            return
        if msg["type"] != "welcome":
            return
        link.authed = True
        link.backoff = 0.0
        hb = msg.get("heartbeat_s")
        if isinstance(hb, (int, float)) and 0.01 <= hb <= 60:
            link.heartbeat_s = float(hb)
        lv = msg.get("liveness")
        if isinstance(lv, int) and 1 <= lv <= 100:
            link.liveness = lv
        self.server_info = msg
        for job in list(link.subs):  # follow our jobs again (state first, then new events)
            self._send_raw(P.request("subscribe", f"{self._prefix}-resub-{job}", job=job))
        for pending in self._pending.values():
            if not pending.sent:
                pending.sent = self._send_raw(pending.message)
        self._emit(Connection(state="connected",
                              detail="reconnected" if link.ever_connected else self.address))
        link.ever_connected = True
        self._welcome.set()

    def _on_job_event(self, msg: dict[str, Any]) -> None:
        link = self._link
        job, seq = msg["job"], msg["seq"]
        try:
            event = event_from_dict({**msg["event"], "job": job})
        except ValueError as exc:
            log.warning("ignoring a bad event for job %s: %s", job, exc)
            return
        if job in link.ended:
            if seq <= link.ended[job]:
                return  # this job's end was delivered already
        elif isinstance(event, JobState):
            link.subs[job] = seq
        elif seq <= link.subs.get(job, 0):
            return  # seen before a reconnect
        else:
            if 0 < link.subs.get(job, 0) < seq - 1:
                # A gap: the server dropped events (our queue was full). Ask for the state.
                self._send_raw(P.request("subscribe", f"{self._prefix}-resub-{job}", job=job))
            link.subs[job] = seq
        if event.type in TERMINAL_TYPES:
            link.subs.pop(job, None)
            link.ended[job] = seq
            if len(link.ended) > 10_000:
                link.ended.pop(next(iter(link.ended)))
        self._emit(event)

    def _emit(self, event: Event) -> None:
        self.events.put(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event callback failed")

    def _keepalive(self, now: float, poller: zmq.Poller) -> None:
        link = self._link
        if link.sock is None:
            return
        if now - link.last_recv > link.heartbeat_s * link.liveness:
            # Lazy Pirate: the server is gone or stuck; drop the socket and retry later.
            lo, hi = self._backoff
            link.backoff = min(hi, link.backoff * 2 if link.backoff else lo)
            link.retry_at = now + link.backoff
            self._close_socket(poller)
            for pending in self._pending.values():
                pending.sent = False
            if link.ever_connected:
                self._emit(Connection(state="lost", detail=f"no answer from {self.address}; "
                                      f"retrying in {link.backoff:g} s"))
            return
        if link.authed and now - link.last_send >= link.heartbeat_s:
            self._send_raw(P.request("heartbeat"))
