"""Limits on who holds a connection to the ROUTER, so a flood cannot starve the server.

Every TCP connection costs the server a file descriptor, and libzmq accepts
them all: 1,100 idle DEALERs (no token needed) would take a desktop's 1,024
descriptors, and then a running job could not open its next temp file. libzmq
has no call to close one accepted connection, but its socket monitor reports
each one's descriptor, and each message names the descriptor it came in on
(``ZMQ_SRCFD``). So the :class:`Doorman` knows which connections said a good
``hello`` and shuts down (``shutdown(2)``; libzmq then closes the connection
itself) the ones that did not within the hello timeout, and the oldest
unauthenticated ones when there are too many. The total is capped below the
descriptor limit so running jobs keep descriptors of their own.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import parse_monitor_message

log = logging.getLogger("segmatte.server.connections")

FD_RESERVE_MIN = 64
"""Descriptors kept for jobs (decoder pipes, temp files, the journal) at the least."""
LOG_EVERY_S = 10.0
"""Refusals and accept failures are logged at most this often (with a count)."""


def open_descriptors() -> int:
    """How many file descriptors this process holds now (0 where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def raise_fd_limit(cap: int = 65536) -> tuple[int, int]:
    """Raise the soft descriptor limit to the hard one (at most ``cap``); return (soft, hard).

    Where the OS has no such limit (Windows) or refuses, the limit stays.
    """
    try:
        import resource
    except ImportError:  # Windows
        return (8192, 8192)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return (soft, hard)


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_unauthenticated: int
    hello_timeout_s: float

    @classmethod
    def for_fd_limit(cls, fd_limit: int, max_connections: int, max_unauthenticated: int,
                     hello_timeout_s: float, in_use: int = 0) -> Limits:
        """The configured caps, lowered to leave a quarter of the descriptors (64 at least)
        free beyond the ``in_use`` ones the server already holds (plus as many again for
        what its warm-up and first jobs open: torch's threads, the journal, readers)."""
        reserve = max(FD_RESERVE_MIN, fd_limit // 4) + 2 * in_use
        room = max(4, fd_limit - reserve)
        total = max(1, min(max_connections, room))
        return cls(total, max(1, min(max_unauthenticated, total)), hello_timeout_s)


class _Throttled:
    """A warning logged at most every LOG_EVERY_S, saying how often it happened meanwhile."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.count = 0
        self.last = 0.0

    def hit(self, now: float, detail: str = "") -> None:
        self.count += 1
        if now - self.last >= LOG_EVERY_S:
            log.warning("%s%s (%d time%s since the last report)", self.text, detail, self.count,
                        "" if self.count == 1 else "s")
            self.count = 0
            self.last = now


class Doorman:
    """Tracks the ROUTER's connections by descriptor and drops those over the limits.

    Call :meth:`events` before reading the ROUTER (so a connection's accept is
    known before its first message), :meth:`authenticated` on a good hello,
    and :meth:`tick` on the heartbeat.
    """

    EVENTS = (zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
              | zmq.EVENT_ACCEPT_FAILED)

    def __init__(self, sock: zmq.Socket, port: int, limits: Limits) -> None:
        self.limits = limits
        self.port = port
        self.monitor = sock.get_monitor_socket(self.EVENTS)
        self._sock = sock
        self.open: dict[int, float] = {}
        """descriptor → when it was accepted (monotonic), oldest first."""
        self.authed: set[int] = set()
        self.dropped = 0
        self._refused = _Throttled("dropping connections over the limit")
        self._accept_failed = _Throttled("cannot accept a connection")

    def events(self) -> None:
        """Read the monitor's queued events; enforce the caps on new connections."""
        now = time.monotonic()
        while True:
            try:
                frames = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                event = parse_monitor_message(frames)
            except Exception:  # a malformed monitor message: libzmq's, not a peer's
                continue
            kind, value = event["event"], int(event["value"])
            if kind == zmq.EVENT_ACCEPTED:
                self.open.pop(value, None)
                self.open[value] = now
                self.authed.discard(value)
                self._enforce(now)
            elif kind in (zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED):
                self.open.pop(value, None)
                self.authed.discard(value)
            elif kind == zmq.EVENT_ACCEPT_FAILED:
                what = os.strerror(value) if value else "unknown error"
                hint = ("; too many connections or open files — the oldest unauthenticated "
                        "connections are being dropped") if value in (errno.EMFILE,
                                                                      errno.ENFILE) else ""
                self._accept_failed.hit(now, f": {what}{hint}")
                if value in (errno.EMFILE, errno.ENFILE):
                    self._drop_oldest_unauthed(now, len(self.open), "out of file descriptors")

    def authenticated(self, fd: int | None) -> None:
        if fd is not None and fd >= 0:
            self.authed.add(fd)

    def tick(self, now: float | None = None) -> None:
        """Drop connections that did not say a good hello within the timeout."""
        now = time.monotonic() if now is None else now
        limit = self.limits.hello_timeout_s
        for fd, since in list(self.open.items()):
            if fd not in self.authed and now - since > limit:
                self._drop(fd, now, "no hello in time")

    def _unauthed(self) -> list[int]:
        return [fd for fd in self.open if fd not in self.authed]  # oldest first

    def _enforce(self, now: float) -> None:
        over = len(self.open) - self.limits.max_connections
        if over > 0:
            self._drop_oldest_unauthed(now, over, "connection limit reached")
        over = len(self.open) - self.limits.max_connections
        if over > 0:  # every connection has logged in: refuse the newest
            self._drop(next(reversed(self.open)), now, "connection limit reached")
        extra = len(self._unauthed()) - self.limits.max_unauthenticated
        if extra > 0:
            self._drop_oldest_unauthed(now, extra, "too many connections without a hello")

    def _drop_oldest_unauthed(self, now: float, count: int, why: str) -> None:
        for fd in self._unauthed()[:count]:
            self._drop(fd, now, why)

    def _drop(self, fd: int, now: float, why: str) -> None:
        """Shut the connection on ``fd`` down, if it still is one of our listener's."""
        self.open.pop(fd, None)
        self.authed.discard(fd)
        try:
            copy = os.dup(fd)
        except OSError:
            return  # already closed by libzmq
        try:
            probe = socket.socket(fileno=copy)
        except OSError:  # not a socket any more: the number was reused
            os.close(copy)
            return
        try:
            # Only ever a TCP connection to our own port: a descriptor number
            # that libzmq closed may have been reused by something else.
            if probe.family in (socket.AF_INET, socket.AF_INET6) \
                    and probe.type == socket.SOCK_STREAM and probe.getsockname()[1] == self.port:
                probe.shutdown(socket.SHUT_RDWR)
                self.dropped += 1
                self._refused.hit(now, f": {why}")
        except OSError:
            pass
        finally:
            probe.close()

    def close(self) -> None:
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(0)
