"""run_job: events in order, bounded frames in flight, failures that name their frame.

The engines here are real Engine subclasses registered for the test (the
pipeline cannot tell them from the built-in ones); they observe what the
pipeline feeds them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator

import clipgen
import numpy as np
import pytest

from segmatte.client.events import Accepted, Done, Failed, FrameWritten, Progress
from segmatte.models.engine import Engine
from segmatte.models.frames import Frame, Matte
from segmatte.models.registry import register
from segmatte.server.output.exr import read_matte
from segmatte.server.pipeline import check_job, run_job
from segmatte.server.spec import parse_spec


@register
class _CountingEngine(Engine):
    """Mean of the frame as its matte; tracks how many frames are alive at once."""

    name = "test-counting"
    temporal = False
    alive = 0
    peak = 0
    lock = threading.Lock()

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        cls = type(self)
        for frame in frames:
            with cls.lock:
                cls.alive += 1
                cls.peak = max(cls.peak, cls.alive)
            weakref.finalize(frame.image, cls._gone)
            alpha = np.full(frame.image.shape[:2], float(frame.image.mean()), np.float32)
            yield Matte(frame.number, {"matte": alpha})

    @classmethod
    def _gone(cls) -> None:
        with cls.lock:
            cls.alive -= 1


@register
class _FailingEngine(Engine):
    name = "test-failing"

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        for frame in frames:
            if frame.number == 6:
                raise RuntimeError("the model ran out of memory")
            yield Matte(frame.number, {"matte": np.ones(frame.image.shape[:2], np.float32)})


@register
class _TemporalEngine(Engine):
    """Matte = how many frames it has seen; proves a temporal engine gets every frame."""

    name = "test-temporal"
    temporal = True

    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        for i, frame in enumerate(frames, 1):
            yield Matte(frame.number, {"matte": np.full(frame.image.shape[:2], i / 100, np.float32)})


def spec(source, folder, engine="key", **extra):
    return parse_spec({"source": str(source), "engine": engine,
                       "output": {"folder": str(folder), "name": "m"}, **extra})


def test_events_in_order_and_complete(green_screen_clip, tmp_path):
    events = []
    result = run_job(spec(green_screen_clip, tmp_path), job_id="j1", emit=events.append)
    assert isinstance(result, Done) and events[-1] is result
    assert isinstance(events[0], Accepted) and events[0].total == green_screen_clip.frame_count
    frames = [e.frame for e in events if isinstance(e, FrameWritten)]
    assert frames == list(range(green_screen_clip.first, green_screen_clip.last + 1))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total == green_screen_clip.frame_count
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    assert all(e.job == "j1" for e in events)


def test_frames_in_flight_are_bounded_whatever_the_length(tmp_path):
    clip = clipgen.write_video(tmp_path / "long.mp4",
                               (clipgen.numbered_image(n, 64, 48) for n in range(400)), 25.0)
    _CountingEngine.alive = _CountingEngine.peak = 0
    result = run_job(spec(clip, tmp_path / "o", engine="test-counting"), job_id="b")
    assert isinstance(result, Done) and result.written == 400
    # reader queue (4) + the frame in hand + the one being decoded: never the clip
    assert _CountingEngine.peak <= 8, _CountingEngine.peak


def test_failure_names_the_frame_and_leaves_whole_frames(green_screen_clip, tmp_path):
    result = run_job(spec(green_screen_clip, tmp_path, engine="test-failing"), job_id="f")
    assert isinstance(result, Failed)
    assert "out of memory" in result.reason
    names = sorted(p.name for p in tmp_path.iterdir())
    assert all(not n.startswith(".") for n in names), "temporary files left behind"
    assert "m.0006.exr" not in names and not any(n.endswith(".manifest.json") for n in names)
    for n in names:
        read_matte(tmp_path / n)  # whole and readable


def test_backward_direction_feeds_frames_in_reverse(green_screen_clip, tmp_path):
    s = spec(green_screen_clip, tmp_path, engine="test-temporal", direction="backward",
             range={"first": 3, "last": 7})
    events = []
    assert isinstance(run_job(s, job_id="r", emit=events.append), Done)
    assert [e.frame for e in events if isinstance(e, FrameWritten)] == [7, 6, 5, 4, 3]
    first_seen, _ = read_matte(tmp_path / "m.0007.exr")
    assert first_seen[0, 0] == pytest.approx(0.01, abs=1e-3)


def test_temporal_engine_sees_every_frame_on_resume(green_screen_clip, tmp_path):
    s = spec(green_screen_clip, tmp_path, engine="test-temporal", range={"first": 0, "last": 5})
    assert isinstance(run_job(s, job_id="a"), Done)
    (tmp_path / "m.0003.exr").unlink()
    events = []
    result = run_job(s, job_id="b", emit=events.append)
    assert isinstance(result, Done) and (result.written, result.skipped) == (1, 5)
    rewritten, _ = read_matte(tmp_path / "m.0003.exr")
    # the engine was fed frames 0-2 again, so frame 3 is its 4th frame, as before
    assert rewritten[0, 0] == pytest.approx(0.04, abs=1e-3)


def test_check_job_rejects_before_anything_is_made(green_screen_clip, tmp_path):
    with pytest.raises(ValueError, match="outside"):
        check_job(spec(green_screen_clip, tmp_path / "o", range={"first": 0, "last": 999}))
    assert not (tmp_path / "o").exists()


def test_a_dead_writers_temporary_files_are_cleared_others_kept(green_screen_clip, tmp_path):
    # what a writer killed between create and rename leaves behind (create_temp's names)
    ours = tmp_path / ".segmatte-0123456789abcdef.m.0002.exr.tmp"
    ours.write_bytes(b"half a frame")
    theirs = tmp_path / ".notes.txt.0badc0de.tmp"
    theirs.write_bytes(b"not ours")
    lookalike = tmp_path / ".m.0001.exr.deadbeef.tmp"  # the user's, in the old temp pattern
    lookalike.write_bytes(b"the user's")
    result = run_job(spec(green_screen_clip, tmp_path, range={"first": 0, "last": 3}), job_id="t")
    assert isinstance(result, Done)
    assert not ours.exists() and theirs.read_bytes() == b"not ours"
    assert lookalike.read_bytes() == b"the user's"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".segmatte-")]
