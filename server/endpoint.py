"""The sidecar's front door: one ROUTER socket, one thread, a poll loop with a timeout.

Everything that touches the socket, the peers, the job table and the journal
runs on this thread. Slow work (checking a spec against the disk, listing
engines) goes to a small thread pool, and workers report job events; both
come back through the :class:`~segmatte.server.jobs.Mailbox`, whose wake-up
socket is polled next to the ROUTER. Heartbeats go both ways (the ZeroMQ
guide's Paranoid Pirate): a peer silent for ``liveness`` intervals is
forgotten — its jobs run on, and it may hello and subscribe again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import zmq

from segmatte.client import __version__
from segmatte.client import protocol as P
from segmatte.client.events import Cancelled, Event, Failed
from segmatte.client.protocol import Code, ProtocolError, Request

from .auth import PathGuard, ensure_token, token_matches
from .config import ServerConfig
from .connections import Doorman, Limits, open_descriptors, raise_fd_limit
from .jobs import Job, JobQueue, JobTable, Mailbox, PipelineRunner, Runner, Workers
from .journal import Journal, journal_path
from .sessions import Propagation, SessionManager

log = logging.getLogger("segmatte.server")

MAX_SOCKET_MESSAGE = 4 * P.MAX_MESSAGE
"""ZeroMQ drops (and disconnects) anything larger; between this and
``MAX_MESSAGE`` the sender still gets a structured ``too_large`` error."""


class ServerError(RuntimeError):
    """The server cannot start (port taken, folder unwritable); one sentence."""


@dataclass
class Peer:
    """A connected client, known by its ROUTER identity."""

    identity: bytes
    last_seen: float
    last_sent: float = 0.0
    authed: bool = False
    fd: int | None = None
    """The connection (descriptor) the good hello came in on: the login is bound to it."""
    client: str = ""
    subs: set[str] = field(default_factory=set)


_SPEC_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")


def _error_code(exc: BaseException) -> str:
    """The protocol code for an exception from ``check_job`` (by class, no imports needed)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "MediaError" in names:
        return Code.BAD_MEDIA
    if "EngineError" in names:
        return Code.BAD_ENGINE
    if "SpecError" in names or isinstance(exc, ValueError):
        return Code.BAD_SPEC
    return Code.INTERNAL


def _option_paths(engine: str) -> dict[str, bool | str]:
    """The engine's options that name files (empty for an unknown engine: the check says so)."""
    from segmatte.models import registry
    from segmatte.models.engine import EngineError, path_options

    try:
        return path_options(registry.card(engine).Options)
    except EngineError:
        return {}


def _source_fd(frame: zmq.Frame) -> int | None:
    """The descriptor of the connection a message came in on (libzmq's ZMQ_SRCFD)."""
    try:
        fd = frame.get(zmq.SRCFD)
    except (zmq.ZMQError, AttributeError, TypeError):
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None


def _spec_field(exc: BaseException) -> str | None:
    named = getattr(exc, "field", None)
    if isinstance(named, str) and named:
        return f"spec.{named}"
    m = _SPEC_FIELD.match(str(exc))
    return f"spec.{m.group(1)}" if m else "spec"


class Server:
    """The ``segmatte serve`` process: bind, resume, loop until told to stop."""

    def __init__(self, config: ServerConfig, runner: Runner | None = None) -> None:
        self.config = config
        self.runner = runner or PipelineRunner()
        self.token = ensure_token(config.config_dir / "token")
        self.guard = PathGuard(config.allowed_roots)
        self.mailbox = Mailbox()
        self.queue = JobQueue()
        self.journal = Journal(journal_path(config.data_dir))
        self.table = JobTable(self.journal)
        self.workers = Workers(config.workers, self.queue, self.runner, self.mailbox,
                               on_event=self._on_event, on_start=self.table.started)
        self.pool = ThreadPoolExecutor(max_workers=max(1, config.checkers),
                                       thread_name_prefix="segmatte-check")
        self.peers: dict[bytes, Peer] = {}
        self.subs: dict[str, dict[bytes, str | None]] = {}
        """job id → {peer identity → id of the request that subscribed}."""
        self.pending_keys: dict[str, list[tuple[bytes, Request]]] = {}
        self.sessions = SessionManager(config.data_dir, self.guard, self.mailbox, self._offload)
        self.ctx = zmq.Context.instance()
        self.sock: zmq.Socket | None = None
        self.doorman: Doorman | None = None
        self.address = ""
        self._stop = threading.Event()
        self.warmup: Any = None
        """The background warm-up (:mod:`.warmup`), None when off."""
        self._handlers: dict[str, Callable[[Peer, Request], None]] = {
            "ping": self._ping, "engines": self._engines, "submit": self._submit,
            "status": self._status, "cancel": self._cancel, "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe, "jobs": self._jobs, "shutdown": self._shutdown,
            "session.open": self._session, "session.prompt": self._session,
            "session.propagate": self._session, "session.close": self._session,
        }

    # --- life cycle -----------------------------------------------------------

    def bind(self) -> str:
        """Bind the ROUTER; return the address clients connect to (port 0 = any free port)."""
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_SOCKET_MESSAGE)
        # Handover off: a second connection that claims a routing id already in
        # use is not served (libzmq keeps it anonymous and drops what it sends),
        # so nobody can step into a logged-in client's place by copying its id.
        sock.setsockopt(zmq.ROUTER_HANDOVER, 0)
        sock.setsockopt(zmq.HANDSHAKE_IVL, int(self.config.hello_timeout_s * 1000))
        sock.setsockopt(zmq.SNDHWM, 100_000)
        bind = self.config.bind_address
        if self.config.port == 0:
            bind = bind.rsplit(":", 1)[0] + ":*"
        try:
            sock.bind(bind)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise ServerError(f"cannot listen on {self.config.bind_address}: {exc.strerror} "
                              "(is another segmatte server running? see `segmatte doctor`)") from None
        endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        port = int(endpoint.rsplit(":", 1)[1])
        soft, _hard = raise_fd_limit()
        limits = Limits.for_fd_limit(soft, self.config.max_connections,
                                     self.config.max_unauthenticated, self.config.hello_timeout_s,
                                     in_use=open_descriptors())
        self.doorman = Doorman(sock, port, limits)
        log.info("file descriptors: %d; at most %d connections, %d without a hello (dropped "
                 "after %.1f s)", soft, limits.max_connections, limits.max_unauthenticated,
                 limits.hello_timeout_s)
        self.sock = sock
        self.address = self.config.connect_address(port)
        return self.address

    def start(self) -> None:
        """Resume unfinished jobs from the journal, start the workers, publish the endpoint."""
        if self.sock is None:
            self.bind()
        self._resume()
        self.workers.start()
        self._write_endpoint()
        log.info("listening on %s (workers: %d, data: %s)", self.address, self.config.workers,
                 self.config.data_dir)
        if self.config.warm_engine:  # after the endpoint: clients connect while torch loads
            from . import warmup

            self.warmup = warmup.start(self.config.warm_engine)

    def request_stop(self) -> None:
        """Thread- and signal-safe: the loop stops at its next turn."""
        self._stop.set()
        self.mailbox.post(lambda: None)

    def serve_forever(self) -> None:
        self.start()
        try:
            self._loop()
        finally:
            self.close()

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking work, let running jobs stop between frames (they stay resumable), close."""
        self.table.stopping = True
        self.workers.stop()
        self.sessions.close_all()
        for job in self.table.jobs.values():  # incl. one a worker took but has not started
            if not job.finished:
                job.cancel.set()
        deadline = time.monotonic() + timeout
        while (self.workers.alive() or self.sessions.alive()) and time.monotonic() < deadline:
            time.sleep(0.02)
            self.mailbox.drain()
        self.mailbox.drain()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.doorman is not None:
            self.doorman.close()
            self.doorman = None
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None
        self.journal.close()
        self.mailbox.close()
        self._remove_endpoint()
        log.info("stopped")

    def _write_endpoint(self) -> None:
        path = self.config.data_dir / "server.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".server.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"address": self.address, "pid": os.getpid(),
                                   "version": __version__, "protocol": P.PROTOCOL,
                                   "started": time.time()}), encoding="utf-8")
        os.replace(tmp, path)

    def _remove_endpoint(self) -> None:
        path = self.config.data_dir / "server.json"
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    def _resume(self) -> None:
        from .spec import SpecError, parse_spec

        for row in self.journal.unfinished():
            job = Job.from_row(row)
            job.state = "queued"
            self.table.add(job)
            if "session" in row.spec:  # a session's propagation: its session died with the server
                self.table.apply(job.id, Failed(job=job.id, reason="the server stopped during "
                                                "this session propagation; open the session again"))
                continue
            try:
                job.spec = parse_spec(row.spec)
            except SpecError as exc:  # written by an older version that read specs differently
                self.table.apply(job.id, Failed(job=job.id, reason=f"cannot resume: {exc}"))
                continue
            self.journal.set_state(job.id, "queued")
            self.queue.put(job.id, job.priority, (job.spec, job.cancel))
            log.info("resuming job %s", job.id)

    # --- the loop -------------------------------------------------------------

    def _loop(self) -> None:
        assert self.sock is not None
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.mailbox.fileno(), zmq.POLLIN)
        if self.doorman is not None:
            poller.register(self.doorman.monitor, zmq.POLLIN)
        tick = self.config.heartbeat_s / 2
        next_tick = time.monotonic() + tick
        while not self._stop.is_set():
            wait_ms = max(0, int((next_tick - time.monotonic()) * 1000))
            try:
                ready = dict(poller.poll(wait_ms))
            except zmq.ZMQError as exc:
                if exc.errno == zmq.EINTR:
                    continue
                raise
            if self.doorman is not None:
                self.doorman.events()  # before the ROUTER: a connection is known before it speaks
            if self.sock in ready:
                self._receive_batch()
            self.mailbox.drain()
            now = time.monotonic()
            if now >= next_tick:
                self._heartbeat(now)
                next_tick = now + tick

    def _receive_batch(self, limit: int = 1000) -> None:
        assert self.sock is not None
        for _ in range(limit):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            fd = _source_fd(parts[-1])
            frames = [p.bytes for p in parts[: P.MAX_FRAMES + 2]]
            try:
                self._handle(frames[0], frames[1:], fd)
            except Exception:  # one message must never take the server down
                log.exception("handling a message failed")
                self._send(frames[0], P.error_reply(None, Code.INTERNAL,
                                                    "the server failed on this message"))

    def _heartbeat(self, now: float) -> None:
        hb = self.config.heartbeat_s
        dead_after = hb * self.config.liveness
        for identity, peer in list(self.peers.items()):
            if now - peer.last_seen > dead_after:
                self._forget(identity)
            elif peer.authed and now - peer.last_sent >= hb:
                self._send(identity, P.heartbeat(time.time()))
        self.sessions.reap(now, lambda identity: identity in self.peers)
        if self.doorman is not None:
            self.doorman.tick(now)

    def _forget(self, identity: bytes) -> None:
        peer = self.peers.pop(identity, None)
        if peer is None:
            return
        for job in peer.subs:
            self.subs.get(job, {}).pop(identity, None)
        if peer.authed:
            log.info("client %s (%s) went quiet; forgotten (its jobs go on)",
                     identity.hex(), peer.client)

    # --- sending --------------------------------------------------------------

    def _send(self, identity: bytes, message: dict[str, Any]) -> None:
        if self.sock is None:
            return
        try:
            frames = P.encode(message)
        except (ProtocolError, ValueError) as exc:
            # never the message's own id unchecked: it may be what failed to encode
            frames = P.encode(P.error_reply(P.read_id(message), Code.INTERNAL,
                                            f"reply could not be encoded: {str(exc)[:200]!r}"))
        try:
            self.sock.send_multipart([identity, *frames], zmq.NOBLOCK)
        except zmq.ZMQError:
            return  # peer gone or its queue full: ROUTER drops, and so do we
        peer = self.peers.get(identity)
        if peer is not None:
            peer.last_sent = time.monotonic()

    def _reply(self, peer: Peer, req: Request, kind: str, **fields: Any) -> None:
        self._send(peer.identity, P.reply(kind, req.id, **fields))

    def _error(self, peer: Peer | bytes, req_id: str | None, code: str, message: str,
               field: str | None = None) -> None:
        identity = peer.identity if isinstance(peer, Peer) else peer
        self._send(identity, P.error_reply(req_id, code, message, field))

    # --- dispatch -------------------------------------------------------------

    def _handle(self, identity: bytes, frames: list[bytes], fd: int | None = None) -> None:
        now = time.monotonic()
        peer = self.peers.get(identity)
        if peer is None:
            peer = self.peers[identity] = Peer(identity, last_seen=now)
        peer.last_seen = now
        if peer.authed and fd is not None and peer.fd is not None and fd != peer.fd:
            # Same routing id, another connection: the login stays with the first.
            log.warning("client %s (%s): a message came over another connection; it must say "
                        "hello again", identity.hex(), peer.client)
            peer.authed = False
        message: dict[str, Any] = {}
        try:
            message = P.decode(frames)
            req = P.validate_request(message)
        except ProtocolError as exc:
            self._error(identity, exc.id if exc.id is not None else P.read_id(message), exc.code,
                        exc.message, exc.field)
            return
        if req.type == "heartbeat":
            return
        if req.type == "hello":
            self._hello(peer, req, fd)
            return
        if not peer.authed:
            self._error(peer, req.id, Code.HELLO_REQUIRED,
                        "say hello (with the token) before any other request", "type")
            return
        if self._stop.is_set() and req.type in ("submit", "session.open", "session.propagate"):
            self._error(peer, req.id, Code.SHUTTING_DOWN, "the server is stopping")
            return
        self._handlers[req.type](peer, req)

    def _hello(self, peer: Peer, req: Request, fd: int | None = None) -> None:
        if req["protocol"] not in P.SUPPORTED_PROTOCOLS:
            peer.authed = False
            self._error(peer, req.id, Code.BAD_VERSION,
                        f"this server speaks protocol {', '.join(map(str, P.SUPPORTED_PROTOCOLS))}; "
                        f"the client speaks {req['protocol']} — update the older of the two",
                        "protocol")
            return
        if not token_matches(self.token, req["token"]):
            peer.authed = False
            self._error(peer, req.id, Code.BAD_TOKEN, "wrong token: a client must read it from "
                        f"{self.config.config_dir / 'token'} (same user as the server)", "token")
            return
        peer.authed = True
        peer.fd = fd
        if self.doorman is not None:
            self.doorman.authenticated(fd)
        peer.client = f"{req['client']} {req['name']}".strip()
        self._reply(peer, req, "welcome", protocol=P.PROTOCOL, server=__version__,
                    heartbeat_s=self.config.heartbeat_s, liveness=self.config.liveness,
                    max_message=P.MAX_MESSAGE)

    def _offload(self, fn: Callable[[], Any], then: Callable[[Future[Any]], None]) -> None:
        """Run ``fn`` on the pool; ``then(future)`` runs back on this thread."""
        future = self.pool.submit(fn)
        future.add_done_callback(lambda f: self.mailbox.post(then, f))

    # --- requests -------------------------------------------------------------

    def _ping(self, peer: Peer, req: Request) -> None:
        self._reply(peer, req, "pong", time=time.time(), jobs=len(self.queue),
                    running=len(self.table.running()),
                    warm=self.warmup.state if self.warmup is not None else "off")

    def _engines(self, peer: Peer, req: Request) -> None:
        def listing() -> list[dict[str, Any]]:
            from segmatte.models import registry
            from segmatte.models.weights import cache, catalog

            def models(engine: str) -> list[dict[str, Any]]:
                # What the hosts' model pickers offer: every catalogued model of
                # the engine, and whether it is pulled (usable now, offline).
                return [{"name": m.name, "description": m.description, "licence": m.licence,
                         "size_mb": m.size_mb, "pulled": cache.local_path(m) is not None}
                        for m in catalog.entries(engine)]

            return [{"name": e.name, "description": e.description,
                     "temporal": e.card.temporal, "needs_objects": e.card.needs_objects,
                     "prompts": sorted(e.card.prompt_kinds),
                     "options": e.options_schema(), "models": models(e.name)}
                    for e in registry.engines()]

        def then(f: Future[Any]) -> None:
            if f.exception() is not None:
                self._error(peer, req.id, Code.INTERNAL, f"cannot list engines: {f.exception()}")
            else:
                self._reply(peer, req, "engines", engines=f.result())

        self._offload(listing, then)

    def _submit(self, peer: Peer, req: Request) -> None:
        from .spec import SpecError, parse_spec

        key = req["key"]
        if key is not None:
            known = self.table.by_key(key)
            if known is not None:  # a resent submit (after a reconnect): same job
                self._accept(peer, req, known)
                return
            if key in self.pending_keys:
                self.pending_keys[key].append((peer.identity, req))
                return
        raw = req["spec"]
        try:
            spec = parse_spec(raw)
        except SpecError as exc:
            self._error(peer, req.id, Code.BAD_SPEC, f"job spec: {exc}", _spec_field(exc))
            return
        try:  # the fixed path fields at once; engine options that name files below
            self.guard.check_spec(raw, req.id)
        except ProtocolError as exc:
            self._error(peer, exc.id, exc.code, exc.message, exc.field)
            return
        if len(self.queue) >= self.config.queue_limit:
            self._error(peer, req.id, Code.BUSY, f"{len(self.queue)} jobs are queued; try later")
            return
        if key is not None:
            self.pending_keys[key] = []

        def then(f: Future[Any]) -> None:
            waiting = self.pending_keys.pop(key, []) if key is not None else []
            exc = f.exception()
            if isinstance(exc, ProtocolError):  # the path guard, on the engine's options
                for identity, r in [(peer.identity, req), *waiting]:
                    self._error(identity, r.id, exc.code, exc.message, exc.field)
                return
            if exc is not None:
                code = _error_code(exc)
                field = (_spec_field(exc) if code == Code.BAD_SPEC or getattr(exc, "field", None)
                         else "spec")
                if code == Code.INTERNAL:
                    log.error("checking a spec failed: %r", exc)
                for identity, r in [(peer.identity, req), *waiting]:
                    self._error(identity, r.id, code, str(exc), field)
                return
            job = Job(id=uuid.uuid4().hex[:12], spec=spec, spec_dict=raw,
                      priority=req["priority"], key=key)
            self.journal.add_job(job.id, raw, job.priority, key)
            self.table.add(job)
            self._accept(peer, req, job)
            for identity, r in waiting:
                other = self.peers.get(identity)
                if other is not None:
                    self._accept(other, r, job)
            self.queue.put(job.id, job.priority, (job.spec, job.cancel))
            log.info("job %s queued (priority %d) from %s", job.id, job.priority, peer.client)

        def check() -> Any:
            # Every option the engine declares as a path passes the guard before
            # the runner's check opens anything.
            self.guard.check_spec(raw, req.id, _option_paths(spec.engine))
            return self.runner.check(spec)

        self._offload(check, then)

    def _accept(self, peer: Peer, req: Request, job: Job) -> None:
        self._reply(peer, req, "submitted", job=job.id, state=job.summary())
        if req["subscribe"]:
            self._add_subscriber(peer, req, job, replay=job.seq > 0)

    def _find(self, peer: Peer, req: Request) -> Job | None:
        job = self.table.get(req["job"])
        if job is None:
            self._error(peer, req.id, Code.NOT_FOUND, f"no job {req['job']!r}", "job")
        return job

    def _status(self, peer: Peer, req: Request) -> None:
        job = self._find(peer, req)
        if job is not None:
            self._reply(peer, req, "status", job=job.id, state=job.summary(), spec=job.spec_dict,
                        priority=job.priority)

    def _cancel(self, peer: Peer, req: Request) -> None:
        job = self._find(peer, req)
        if job is None:
            return
        if not job.finished:
            job.user_cancelled = True
            job.cancel.set()
            if self.queue.remove(job.id):  # never started: it ends here
                self._on_event(job.id, Cancelled(job=job.id, written=0))
        self._reply(peer, req, "cancelling", job=job.id, state=job.summary())

    def _subscribe(self, peer: Peer, req: Request) -> None:
        job = self._find(peer, req)
        if job is not None:
            self._reply(peer, req, "subscribed", job=job.id, state=job.summary())
            self._add_subscriber(peer, req, job, replay=True)

    def _add_subscriber(self, peer: Peer, req: Request, job: Job, replay: bool) -> None:
        """Subscribe; with ``replay`` first send the job's state, and its end if it has one.

        A finished job's state carries ``seq`` one below its terminal event, so
        a client that drops events it has seen still takes the replayed end.
        """
        self.subs.setdefault(job.id, {})[peer.identity] = req.id
        peer.subs.add(job.id)
        if not replay:
            return
        snap = job.snapshot()
        if job.terminal is not None:
            seq, end = job.terminal
            self._send(peer.identity, P.event_message(req.id, job.id, seq - 1,
                                                      {**snap.to_dict(), "seq": seq - 1}))
            self._send(peer.identity, P.event_message(req.id, job.id, seq, end))
        else:
            self._send(peer.identity, P.event_message(req.id, job.id, job.seq, snap.to_dict()))

    def _unsubscribe(self, peer: Peer, req: Request) -> None:
        self.subs.get(req["job"], {}).pop(peer.identity, None)
        peer.subs.discard(req["job"])
        self._reply(peer, req, "unsubscribed", job=req["job"])

    def _jobs(self, peer: Peer, req: Request) -> None:
        rows = self.journal.jobs(req["state"], req["limit"])
        self._reply(peer, req, "jobs", jobs=[r.summary() for r in rows])

    def _session(self, peer: Peer, req: Request) -> None:
        """session.* requests: the manager checks and works; errors at the door come back here."""
        def reply(message: dict[str, Any]) -> None:
            self._send(peer.identity, message)

        manager = self.sessions
        try:
            if req.type == "session.open":
                manager.open(req, peer.identity, reply)
            elif req.type == "session.prompt":
                manager.prompt(req, peer.identity, reply)
            elif req.type == "session.propagate":
                manager.propagate(req, peer.identity, reply,
                                  lambda prop: self._session_job(peer.identity, req, prop))
            else:
                manager.close(req, peer.identity, reply)
        except ProtocolError as exc:
            self._send(peer.identity, exc.reply())

    def _session_job(self, identity: bytes, req: Request, prop: Propagation) -> None:
        """A checked propagation becomes a job: table, journal, subscribers, cancel as usual."""
        job = Job(id=uuid.uuid4().hex[:12], spec=None, spec_dict=prop.spec_dict(), resumable=False)
        self.journal.add_job(job.id, job.spec_dict, job.priority, None)
        self.table.add(job)
        peer = self.peers.get(identity)
        if peer is not None:
            self._reply(peer, req, "session.propagating", session=prop.session.id, job=job.id,
                        state=job.summary())
            if prop.subscribe:
                self._add_subscriber(peer, req, job, replay=False)
        log.info("session %s: propagation job %s", prop.session.id, job.id)
        self.sessions.start(prop, job.id, job.cancel,
                            emit=lambda event: self.mailbox.post(self._on_event, job.id, event),
                            started=lambda: self.mailbox.post(self.table.started, job.id))

    def _shutdown(self, peer: Peer, req: Request) -> None:
        log.info("shutdown requested by %s", peer.client)
        self._reply(peer, req, "ok", message="stopping; unfinished jobs resume at the next start")
        self._stop.set()

    # --- job events -----------------------------------------------------------

    def _on_event(self, job_id: str, event: Event) -> None:
        """A worker's event, on this thread: journal it, then fan it out."""
        seq = self.table.apply(job_id, event)
        if seq is None:
            return
        data = event.to_dict()
        subscribers = self.subs.get(job_id, {})
        for identity, sub_id in list(subscribers.items()):
            self._send(identity, P.event_message(sub_id, job_id, seq, data))
        if self.table.jobs[job_id].finished:
            for identity in subscribers:
                peer = self.peers.get(identity)
                if peer is not None:
                    peer.subs.discard(job_id)
            self.subs.pop(job_id, None)

