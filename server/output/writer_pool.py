"""A small bounded pool that writes matte frames while the engine computes.

Threads, not processes: the costly parts of writing a frame — numpy, zlib
and OpenImageIO's encoder — release the GIL, so two threads keep two cores
busy without pickling 8 MB frames across processes.

``submit`` blocks while ``max_pending`` writes are queued or running: that,
not the clip length, bounds the frames held in memory. A failed write is
remembered and raised (as :class:`WriteError`, carrying the frame number) by
the next ``submit`` or ``drain``; a pool that failed stays failed, since a job
with a missing frame should stop rather than write on.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

FD_RETRY_S = 30.0
"""How long a write waits for a file descriptor when the process is out of them."""


def _out_of_descriptors(exc: BaseException) -> bool:
    """EMFILE/ENFILE, as an OSError or in the text of a library's error (OpenImageIO)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            return True
        if "Too many open files" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def _patient(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run a write; while the process is out of file descriptors (a connection
    flood on the server, say) wait and try again instead of failing the job.
    A write is a temp file and a rename, so running it again is safe."""
    deadline = time.monotonic() + FD_RETRY_S
    pause = 0.01
    while True:
        try:
            return fn(*args, **kw)
        except Exception as exc:
            if not _out_of_descriptors(exc) or time.monotonic() > deadline:
                raise
            log.warning("out of file descriptors while writing; trying again in %.2f s", pause)
            time.sleep(pause)
            pause = min(0.5, pause * 2)


class WriteError(RuntimeError):
    """A frame could not be written; ``frame`` says which (None if unknown)."""

    def __init__(self, frame: int | None, cause: BaseException):
        self.frame = frame
        self.cause = cause
        where = f"frame {frame}" if frame is not None else "a frame"
        super().__init__(f"writing {where} failed: {cause}")


class WriterPool:
    """``workers`` threads, at most ``max_pending`` writes in flight."""

    def __init__(self, workers: int = 2, max_pending: int = 4):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending}")
        self.workers = workers
        self.max_pending = max_pending
        self._slots = threading.BoundedSemaphore(max_pending)
        self._lock = threading.Lock()
        self._futures: set[Future[Any]] = set()
        self._error: WriteError | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="segmatte-writer"
        )

    @property
    def pending(self) -> int:
        """Writes queued or running now."""
        with self._lock:
            return len(self._futures)

    @property
    def error(self) -> WriteError | None:
        """The first failure, if any (also raised by submit and drain)."""
        return self._error

    def submit(
        self, fn: Callable[..., T], *args: Any, frame: int | None = None, **kw: Any
    ) -> Future[T]:
        """Queue ``fn(*args, **kw)``; blocks while ``max_pending`` are in flight.

        ``frame`` (keyword, not passed to ``fn``) names the frame for errors;
        without it, an exception's own ``frame`` attribute is used.
        Raises the pool's first failure instead of queueing more work.
        """
        self._raise_if_failed()
        if self._closed:
            raise RuntimeError("the writer pool is closed")
        self._slots.acquire()
        try:
            self._raise_if_failed()  # a write may have failed while we waited
            fut = self._executor.submit(_patient, fn, *args, **kw)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._futures.add(fut)
        fut.add_done_callback(lambda f: self._done(f, frame))
        return fut

    def drain(self) -> None:
        """Wait for every queued write; raise the first failure, if any."""
        while True:
            with self._lock:
                futures = list(self._futures)
            if not futures:
                break
            for fut in futures:
                try:
                    fut.result()
                except BaseException:  # recorded by _done; reported below
                    pass
        self._raise_if_failed()

    def close(self, cancel: bool = False) -> None:
        """Stop the threads after the running writes end (and the queued
        ones too, unless ``cancel``). Does not raise write failures."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> WriterPool:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.drain()
        finally:
            self.close(cancel=exc_type is not None)

    def _done(self, fut: Future[Any], frame: int | None) -> None:
        with self._lock:
            self._futures.discard(fut)
            if not fut.cancelled() and self._error is None:
                cause = fut.exception()
                if cause is not None:
                    number = frame if frame is not None else getattr(cause, "frame", None)
                    self._error = WriteError(number, cause)
                    self._error.__cause__ = cause
        self._slots.release()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
