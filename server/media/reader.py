"""Frame readers: exact source ranges, decoded ahead in a thread, bounded memory.

:func:`open_reader` returns a :class:`FrameReader` that yields
:class:`~segmatte.models.frames.Frame` objects (float32 RGB in [0, 1], see
colour.py) for the inclusive range ``first..last`` of source frame numbers,
forwards or reversed. A thread decodes ahead into a queue of ``queue_size``
frames, so decoding overlaps the engine and memory never depends on the
clip's length. :meth:`FrameReader.close` (also on leaving a ``with`` block)
stops the thread and kills ffmpeg at once: that is how a job is cancelled.

Reversed video is decoded in forward chunks from the end (a decoder cannot
run backwards): one chunk of raw frames, at most ``REVERSE_CHUNK_BYTES``, is
held on top of the queue.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from segmatte.models.frames import Frame

from .colour import to_display
from .info import MediaError, MediaInfo, check_range
from .sequence import read_raw
from .video import VideoDecode

REVERSE_CHUNK_BYTES = 192 * 1024 * 1024
"""Raw frames held while reversing a video chunk (about 32 frames of 1080p 8-bit)."""
REVERSE_CHUNK_MAX = 64
JOIN_TIMEOUT_S = 5.0


class _Source(Protocol):
    def __iter__(self) -> Iterator[Frame]: ...
    def close(self) -> None: ...


# --------------------------------------------------------------------------- sources

class _VideoSource:
    def __init__(self, info: MediaInfo, first: int, last: int, reverse: bool) -> None:
        self.info, self.first, self.last, self.reverse = info, first, last, reverse
        self._decode: VideoDecode | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def _start(self, first: int, last: int) -> VideoDecode | None:
        with self._lock:
            if self._closed.is_set():
                return None
            self._decode = VideoDecode(self.info, first, last)
            return self._decode

    def chunk_frames(self) -> int:
        itemsize = 1 if self.info.bit_depth <= 8 else 2
        frame = self.info.width * self.info.height * 3 * itemsize
        return max(1, min(REVERSE_CHUNK_MAX, REVERSE_CHUNK_BYTES // max(frame, 1)))

    def __iter__(self) -> Iterator[Frame]:
        if not self.reverse:
            dec = self._start(self.first, self.last)
            if dec is None:
                return
            for number, raw in dec:
                yield Frame(number, to_display(raw, linear=False))
            return
        size = self.chunk_frames()
        end = self.last
        while end >= self.first:
            start = max(self.first, end - size + 1)
            dec = self._start(start, end)
            if dec is None:
                return
            chunk = list(dec)
            if self._closed.is_set():
                return
            while chunk:
                number, raw = chunk.pop()
                yield Frame(number, to_display(raw, linear=False))
            end = start - 1

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            if self._decode is not None:
                self._decode.close()


class _ImageSource:
    def __init__(self, info: MediaInfo, first: int, last: int, reverse: bool,
                 hold_missing: bool) -> None:
        self.info, self.first, self.last = info, first, last
        self.reverse, self.hold_missing = reverse, hold_missing
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[Frame]:
        numbers = range(self.last, self.first - 1, -1) if self.reverse else range(self.first, self.last + 1)
        for number in numbers:
            if self._closed.is_set():
                return
            yield _named(number, read_image_frame, self.info, number, hold_missing=self.hold_missing)

    def close(self) -> None:
        self._closed.set()


def _named(number: int, read: Callable[..., Frame], *args: Any, **kwargs: Any) -> Frame:
    """``read(*args, **kwargs)``; a MediaError it raises names ``number`` as its frame."""
    try:
        return read(*args, **kwargs)
    except MediaError as exc:
        if exc.frame is None:
            exc.frame = number
        raise


def _stand_in(info: MediaInfo, number: int, hold_missing: bool) -> int:
    """The frame whose picture stands for ``number``: itself, or the held previous one."""
    if number not in info.missing:
        return number
    if not hold_missing:
        raise MediaError(
            f"frame {number} of {os.path.basename(info.path)} is missing; render it, or pass "
            "--hold-gaps (spec: \"hold_gaps\": true) to hold the previous frame over gaps",
            frame=number)
    gaps = set(info.missing)
    for candidate in range(number - 1, info.first - 1, -1):
        if candidate not in gaps:
            return candidate
    for candidate in range(number + 1, info.last + 1):  # a gap at the head holds the next frame
        if candidate not in gaps:
            return candidate
    raise MediaError(f"{os.path.basename(info.path)} has no frames")


def read_image_frame(info: MediaInfo, number: int, *, hold_missing: bool = False) -> Frame:
    """One frame of a sequence or still, converted for display."""
    source = _stand_in(info, number, hold_missing)
    what = f"frame {source} of {os.path.basename(info.path)}"
    raw = read_raw(info.frame_path(source), info.width, info.height, what=what, linear=info.linear,
                   part=info.part)
    return Frame(number, to_display(raw, linear=info.linear))


# ---------------------------------------------------------------------------- reader

class _End:
    pass


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue[object], stop: threading.Event, item: object) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _decode_ahead(source: _Source, q: queue.Queue[object], stop: threading.Event) -> None:
    """The decode thread. It holds no reference to its FrameReader, so an abandoned
    reader is garbage-collected and its finalizer stops this thread and ffmpeg."""
    try:
        for frame in source:
            if not _put(q, stop, frame):
                return
        _put(q, stop, _End())
    except BaseException as exc:  # re-raised in the consumer
        _put(q, stop, _Failure(exc))


def _shutdown(source: _Source, q: queue.Queue[object], stop: threading.Event) -> None:
    stop.set()
    source.close()
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


class FrameReader:
    """Iterate to get the range's Frames in order; ``close()`` to stop early.

    Errors raised while decoding (in the thread) re-raise here as MediaError.
    Iterating after close() ends at once. A reader dropped without close()
    is shut down when it is garbage-collected.
    """

    def __init__(self, info: MediaInfo, source: _Source, queue_size: int) -> None:
        self.info = info
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=_decode_ahead, args=(source, self._queue, self._stop), daemon=True,
            name=f"segmatte-read-{os.path.basename(info.path)}")
        self._finalizer = weakref.finalize(self, _shutdown, source, self._queue, self._stop)
        self._thread.start()

    def __iter__(self) -> FrameReader:
        return self

    def __next__(self) -> Frame:
        while not self._done:
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._done = True
                    raise MediaError(f"reading {os.path.basename(self.info.path)} stopped "
                                     "unexpectedly") from None
                continue
            if isinstance(item, Frame):
                return item
            self._done = True
            self.close()
            if isinstance(item, _Failure):
                exc = item.exc
                if isinstance(exc, MediaError):
                    raise exc
                raise MediaError(f"reading {os.path.basename(self.info.path)} failed: {exc}") from exc
            break
        raise StopIteration

    @property
    def alive(self) -> bool:
        """Whether the decode thread is still running."""
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop decoding now: end the thread, kill ffmpeg, drop queued frames."""
        self._done = True
        self._finalizer()  # runs _shutdown once
        if threading.current_thread() is not self._thread:
            self._thread.join(JOIN_TIMEOUT_S)

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_reader(info: MediaInfo, first: int, last: int, *, reverse: bool = False,
                queue_size: int = 4, hold_missing: bool | None = None) -> FrameReader:
    """Start reading source frames ``first..last`` (inclusive), reversed if asked.

    ``hold_missing`` repeats the previous existing frame over gaps in a
    sequence (the first existing frame for a gap at the head) instead of
    raising MediaError naming the missing frame.
    """
    check_range(info, first, last)
    hold_missing = info.hold_gaps if hold_missing is None else hold_missing
    source: _Source
    if info.kind == "video":
        source = _VideoSource(info, first, last, reverse)
    else:
        source = _ImageSource(info, first, last, reverse, hold_missing)
    return FrameReader(info, source, queue_size)


def read_frame(info: MediaInfo, number: int, *, hold_missing: bool | None = None) -> Frame:
    """Random access to one source frame (engines use it for clean plates and keyframes)."""
    check_range(info, number, number)
    if info.kind == "video":
        dec = VideoDecode(info, number, number)
        try:
            for n, raw in dec:
                return Frame(n, to_display(raw, linear=False))
        finally:
            dec.close()
        raise MediaError(f"frame {number} of {os.path.basename(info.path)} could not be decoded",
                         frame=number)
    return _named(number, read_image_frame, info, number,
                  hold_missing=info.hold_gaps if hold_missing is None else hold_missing)
