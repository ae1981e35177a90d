"""The writer pool: bounded in-flight work, results, error propagation.

Assertions are on counts and states, never on elapsed time; waits use
events with generous timeouts that only matter when something is broken.
"""

from __future__ import annotations

import threading

import pytest

from segmatte.server.output.writer_pool import WriteError, WriterPool

WAIT = 30.0  # only reached when the code under test is broken


class Gate:
    """A slow write: blocks until released; counts what runs at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.started = threading.Semaphore(0)

    def __call__(self, value: int) -> int:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.started.release()
        assert self.release.wait(WAIT)
        with self.lock:
            self.running -= 1
        return value * 10


def test_results_come_back():
    with WriterPool(workers=2, max_pending=3) as pool:
        futures = [pool.submit(lambda x, y=1: x + y, i, y=2) for i in range(10)]
    assert [f.result() for f in futures] == [i + 2 for i in range(10)]


def test_submit_blocks_while_max_pending_are_in_flight():
    gate = Gate()
    pool = WriterPool(workers=2, max_pending=4)
    try:
        for i in range(4):
            pool.submit(gate, i)
        for _ in range(2):  # both workers busy, two queued
            assert gate.started.acquire(timeout=WAIT)
        assert pool.pending == 4

        fifth_in = threading.Event()

        def fifth():
            pool.submit(gate, 4)
            fifth_in.set()

        t = threading.Thread(target=fifth, daemon=True)
        t.start()
        assert not fifth_in.wait(0.3)  # still blocked: nothing has finished
        assert pool.pending == 4

        gate.release.set()
        assert fifth_in.wait(WAIT)
        t.join(WAIT)
        pool.drain()
        assert pool.pending == 0
        assert gate.max_running <= 2
    finally:
        gate.release.set()
        pool.close()


def test_in_flight_never_exceeds_max_pending():
    seen = []
    lock = threading.Lock()
    pool = WriterPool(workers=2, max_pending=3)

    def work(i):
        with lock:
            seen.append(pool.pending)
        return i

    with pool:
        for i in range(50):
            pool.submit(work, i)
            assert pool.pending <= 3
    assert max(seen) <= 3 and len(seen) == 50


def test_failure_surfaces_at_drain_with_the_frame_number():
    def fail(n):
        raise OSError(f"disk full at {n}")

    pool = WriterPool(workers=1, max_pending=2)
    pool.submit(fail, 7, frame=1007)
    with pytest.raises(WriteError) as info:
        pool.drain()
    assert info.value.frame == 1007
    assert isinstance(info.value.__cause__, OSError)
    assert "frame 1007" in str(info.value) and "disk full" in str(info.value)
    pool.close()


def test_failure_surfaces_at_the_next_submit_and_stays():
    done = threading.Event()

    def fail():
        try:
            raise ValueError("bad array")
        finally:
            done.set()

    pool = WriterPool(workers=1, max_pending=2)
    fut = pool.submit(fail, frame=12)
    assert done.wait(WAIT)
    with pytest.raises(ValueError):
        fut.result(WAIT)  # the future carries the original error too
    for _ in range(2):
        with pytest.raises(WriteError, match="frame 12"):
            pool.submit(lambda: None, frame=13)
    pool.close()


def test_only_the_first_failure_is_reported():
    pool = WriterPool(workers=1, max_pending=4)

    def fail(n):
        raise OSError(str(n))

    for n in (1, 2, 3):
        try:
            pool.submit(fail, n, frame=n)
        except WriteError:
            break
    with pytest.raises(WriteError) as info:
        pool.drain()
    assert info.value.frame == 1
    pool.close()


def test_frame_number_from_the_exception():
    class FrameFailed(RuntimeError):
        frame = 42

    def fail():
        raise FrameFailed("nope")

    pool = WriterPool()
    pool.submit(fail)
    with pytest.raises(WriteError) as info:
        pool.drain()
    assert info.value.frame == 42
    pool.close()


def test_context_manager_drains_and_raises():
    def fail():
        raise OSError("no space")

    with pytest.raises(WriteError, match="frame 5"):
        with WriterPool() as pool:
            pool.submit(fail, frame=5)


def test_context_manager_does_not_mask_the_callers_error():
    with pytest.raises(KeyError):
        with WriterPool() as pool:
            pool.submit(lambda: 1 / 0, frame=1)
            raise KeyError("caller")


def test_close_with_cancel_drops_queued_work():
    gate = Gate()
    pool = WriterPool(workers=1, max_pending=3)
    running = pool.submit(gate, 1)
    assert gate.started.acquire(timeout=WAIT)
    queued = [pool.submit(gate, i) for i in (2, 3)]
    gate.release.set()
    pool.close(cancel=True)
    assert running.result() == 10
    assert all(f.cancelled() or f.done() for f in queued)
    assert pool.pending == 0


def test_closed_pool_refuses_work():
    pool = WriterPool()
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(print)


@pytest.mark.parametrize("kw", [{"workers": 0}, {"max_pending": 0}])
def test_bad_sizes(kw):
    with pytest.raises(ValueError, match="at least 1"):
        WriterPool(**kw)
