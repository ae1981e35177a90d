"""The reader thread: bounded queue, prompt close (no ffmpeg left behind), errors re-raised."""

from __future__ import annotations

import os

import clipgen
import pytest

from segmatte.server.media import MediaError, open_reader, probe


def _ffmpeg_children() -> list[tuple[int, str]]:
    """(pid, state) of this process's ffmpeg children, zombies included (Linux /proc)."""
    me = os.getpid()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == me and "ffmpeg" in name:
            found.append((int(pid), fields[0]))
    return found


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Long enough that ffmpeg is still running when the test closes the reader."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    clipgen.write_video(path, (clipgen.numbered_image(n % 4000, 160, 120) for n in range(600)), 24)
    return probe(str(path))


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")


def test_close_mid_stream_kills_ffmpeg(long_clip):
    assert _ffmpeg_children() == []
    reader = open_reader(long_clip, 10, 599, queue_size=2)
    frames = [next(reader), next(reader)]
    assert [f.number for f in frames] == [10, 11]
    assert _ffmpeg_children(), "ffmpeg should still be decoding ahead"
    reader.close()
    assert not reader.alive, "the decode thread outlived close()"
    assert _ffmpeg_children() == [], "ffmpeg was left running (or as a zombie) after close()"
    assert list(reader) == []  # iterating after close ends at once


def test_context_manager_closes_on_break(long_clip):
    with open_reader(long_clip, 0, 599, reverse=True) as reader:
        for frame in reader:
            assert clipgen.decode_number(frame.image) == frame.number
            if frame.number == 590:
                break
    assert not reader.alive
    assert _ffmpeg_children() == []


def test_queue_is_bounded(long_clip):
    with open_reader(long_clip, 0, 599, queue_size=3) as reader:
        first = next(reader)
        assert first.number == 0
        reader._thread.join(0.5)  # give it time to fill the queue, then check it stopped there
        assert reader._queue.qsize() <= 3
        assert reader.alive  # blocked on the full queue, not finished
    assert _ffmpeg_children() == []


def test_reading_to_the_end_leaves_nothing_behind(h264_clip):
    info = probe(h264_clip.path)
    with open_reader(info, 40, 47, queue_size=1) as reader:
        assert [f.number for f in reader] == list(range(40, 48))
    assert not reader.alive
    assert _ffmpeg_children() == []


def test_errors_in_thread_reraise_as_media_error(tmp_path):
    numbers = [1, 2, 3, 4]
    clipgen.write_sequence(tmp_path, "bad", numbers, [clipgen.numbered_image(n) for n in numbers],
                           ext="png", dtype="uint8")
    info = probe(str(tmp_path / "bad.####.png"))
    (tmp_path / "bad.0003.png").write_bytes(b"not a png at all")
    got = []
    with pytest.raises(MediaError, match="frame 3 of bad.####.png"), open_reader(info, 1, 4) as reader:
        for frame in reader:
            got.append(frame.number)
    assert got == [1, 2]
    assert not reader.alive


def test_abandoned_reader_is_shut_down(long_clip):
    import gc

    reader = open_reader(long_clip, 0, 599, queue_size=2)
    assert next(reader).number == 0
    thread = reader._thread
    del reader
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()
    assert _ffmpeg_children() == []
