"""Video files through the ffmpeg binary that imageio-ffmpeg ships.

No system ffmpeg or ffprobe is assumed, so probing parses ``ffmpeg -i``'s
report and indexes the frames with a stream-copy pass (``-c copy -f
framecrc``: no decoding, one line per packet with its timestamp). The index
gives the exact frame count and every frame's presentation time, so frame N
means the N-th picture in presentation order even for variable frame rates.

Decoding seeks fast (``-ss`` before ``-i``) to just before the first wanted
frame, then *selects* frames by their decoded timestamps (``showinfo`` with
``-copyts``) against the index: frames before the range are dropped, and a
seek that lands late is detected and redone from the start of the file. So
the reader returns exactly the asked frames or raises, never a neighbour.
"""

from __future__ import annotations

import bisect
import collections
import functools
import os
import re
import subprocess
import threading
from collections.abc import Iterator

import ffmpeg
import numpy as np

from .info import MediaError, MediaInfo, check_range, check_size

PROBE_TIMEOUT_S = 600.0
"""The index pass reads the whole file; a network share may be slow."""

NOPTS = -9223372036854775808


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled by imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _name(path: str) -> str:
    return os.path.basename(path)


# --------------------------------------------------------------------------- probe

_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+\S*: Video: (?P<rest>.*)$", re.M)
_SIZE_RE = re.compile(r"(?<![\w:])(\d{1,6})x(\d{1,6})(?![\w:])")
_FPS_RE = re.compile(r"([\d.]+)(k?) fps")
_TBR_RE = re.compile(r"([\d.]+)(k?) tbr")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_START_RE = re.compile(r"start: (-?[\d.]+)")
_TC_RE = re.compile(r"^\s*timecode\s*:\s*(\S+)\s*$", re.M)
_ROT_RE = re.compile(r"rotation of (-?[\d.]+) degrees")
_PTS_RE = re.compile(r"\bn:\s*\d+\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.e+-]+)")


def _snap_rate(rate: float) -> float:
    """ffmpeg prints rates with 2 decimals; restore the NTSC fractions (30000/1001...)."""
    if rate <= 0:
        return rate
    ntsc = rate * 1.001
    if abs(ntsc - round(ntsc)) < 0.02 and abs(rate - round(rate)) > 0.01:
        return round(ntsc) * 1000 / 1001
    return rate


def _bit_depth(pix_fmt: str) -> int:
    """Bits per sample of an ffmpeg pixel format name (yuv422p10le → 10)."""
    m = re.search(r"(?:p|le|be|gray|rgb|bgr|yuv|gbr)?(\d{2})(?:le|be)$", pix_fmt)
    if m and 9 <= int(m.group(1)) <= 16:
        return int(m.group(1))
    for name, bits in (("rgb48", 16), ("bgr48", 16), ("rgba64", 16), ("bgra64", 16),
                       ("p010", 10), ("p012", 12), ("p016", 16), ("y210", 10), ("x2rgb10", 10),
                       ("gray16", 16), ("ya16", 16), ("grayf32", 32), ("gbrpf32", 32)):
        if pix_fmt.startswith(name):
            return bits
    return 8


def _diagnose(path: str, text: str) -> MediaError:
    """One sentence for why ffmpeg could not open a file."""
    low = text.lower()
    if os.path.getsize(path) == 0:
        return MediaError(f"{_name(path)} is empty (0 bytes); copy or export it again")
    if "moov atom not found" in low and _looks_like_mp4(path):
        return MediaError(f"{_name(path)} is truncated (its index is missing); copy or export it again")
    if "permission denied" in low:
        return MediaError(f"{_name(path)} cannot be read: permission denied")
    if "moov atom not found" in low or "invalid data found" in low or "could not find codec parameters" in low \
            or "unknown format" in low or "end of file" in low:
        return MediaError(f"{_name(path)} is not a video ffmpeg can read, or it is damaged")
    return MediaError(f"{_name(path)} could not be opened as a video")


def _looks_like_mp4(path: str) -> bool:
    """An ISO media file starts with a box, usually ``ftyp`` (or ``mdat``/``wide`` for old .mov)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return head[4:8] in (b"ftyp", b"mdat", b"wide", b"free", b"skip", b"moov", b"pnot")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffmpeg took longer than {timeout:.0f} s to read {_name(args[-1])}") from None
    except OSError as exc:
        raise MediaError(f"the bundled ffmpeg could not be started ({exc.strerror}); "
                         "reinstall imageio-ffmpeg") from None


def _index(path: str, fps: float) -> tuple[tuple[float, ...], str]:
    """Presentation times (s) of every video frame, by a stream-copy pass; and ffmpeg's log."""
    # Global flags go in as input options: ffmpeg-python puts global_args()
    # after the output, where ffmpeg ignores them.
    # -copyts: the container's own timestamps, the ones showinfo reports when decoding.
    cmd = ffmpeg.input(path, hide_banner=None, nostdin=None, nostats=None, copyts=None).output(
        "-", map="0:v:0", c="copy", f="framecrc").compile(cmd=ffmpeg_exe())
    out = _run(cmd, PROBE_TIMEOUT_S)
    log = out.stderr.decode("utf-8", "replace")
    tb = 1.0
    stamps: list[int] = []
    dts_stamps: list[int] = []
    for line in out.stdout.decode("ascii", "replace").splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":", 1)[1].strip().split("/")
            tb = int(num) / int(den)
            continue
        if not line or line[0] == "#":
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            continue
        flags = next((int(p[2:], 16) for p in parts[6:] if p.startswith("F=")), 1)
        if flags & 0x4:  # AV_PKT_FLAG_DISCARD: decoded only as a reference, never shown
            continue
        dts_stamps.append(int(parts[1]))
        stamps.append(int(parts[2]))
    if stamps and all(s != NOPTS for s in stamps):
        return tuple(s * tb for s in sorted(stamps)), log
    # No presentation times in the container (AVI with packed B-frames): the
    # decoder stamps pictures itself, usually a frame after the packets' dts.
    # Take the spacing from dts (or the rate) and the origin from a decode.
    if dts_stamps and all(s != NOPTS for s in dts_stamps):
        times = [s * tb for s in dts_stamps]
    else:
        times = [i / fps for i in range(len(stamps))]
    if times:
        shift = _first_decoded_time(path)
        if shift is not None:
            times = [t - times[0] + shift for t in times]
    return tuple(times), log


def _first_decoded_time(path: str) -> float | None:
    """The timestamp ffmpeg gives the first picture it decodes (with -copyts)."""
    cmd = ffmpeg.input(path, hide_banner=None, nostdin=None, nostats=None, copyts=None).output(
        "-", map="0:v:0", vf="showinfo=checksum=0", fps_mode="passthrough",
        **{"frames:v": 1}, f="null").compile(cmd=ffmpeg_exe())
    out = _run(cmd, 60.0)
    m = _PTS_RE.search(out.stderr.decode("utf-8", "replace"))
    return float(m.group(2)) if m else None


def probe_video(path: str) -> MediaInfo:
    """Probe a video file: ``ffmpeg -i`` for the stream facts, a copy pass for the frames."""
    res = _run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], 60.0)
    text = res.stderr.decode("utf-8", "replace")
    streams = [m for m in _STREAM_RE.finditer(text) if "attached pic" not in m.group("rest")]
    if not streams:
        if "Input #0" in text:
            raise MediaError(f"{_name(path)} has no video stream")
        raise _diagnose(path, text)
    rest = streams[0].group("rest")
    parts = _split_top(rest)
    codec = parts[0].split()[0] if parts else "unknown"
    pix_fmt = parts[1].split("(")[0].strip() if len(parts) > 1 else "unknown"
    size = _SIZE_RE.search(rest)
    if not size:
        raise MediaError(f"{_name(path)} does not say its picture size; it may be damaged")
    width, height = int(size.group(1)), int(size.group(2))
    block = text[streams[0].end():]  # this stream's metadata and side data, up to the next
    next_stream = re.search(r"^\s*Stream #", block, re.M)
    block = block[: next_stream.start()] if next_stream else block
    rot = _ROT_RE.search(block)
    if rot and round(abs(float(rot.group(1)))) % 180 == 90:
        width, height = height, width  # ffmpeg auto-rotates, so frames come out turned
    check_size(width, height, _name(path))
    fps = 0.0
    for rx in (_FPS_RE, _TBR_RE):
        m = rx.search(rest)
        if m:
            fps = float(m.group(1)) * (1000 if m.group(2) else 1)
            break
    fps = _snap_rate(fps)
    start = _START_RE.search(text)
    seek_origin = float(start.group(1)) if start else 0.0
    tc = _TC_RE.search(text)

    times, log = _index(path, fps or 24.0)
    if _damaged(log) and not _complete(times, _duration(text), fps):
        where = f" after frame {len(times) - 1}" if times else ""
        raise MediaError(f"{_name(path)} is truncated or damaged{where}; copy or export it again")
    if not times:
        raise MediaError(f"{_name(path)} holds no video frames; it may be truncated")
    if fps <= 0 and len(times) > 1:
        fps = (len(times) - 1) / (times[-1] - times[0])
    declared = _declared_frames(path, block, fps)
    if declared is not None and len(times) < declared - max(2, declared // 50):
        raise MediaError(f"{_name(path)} is truncated: its header declares {declared} frames but "
                         f"only {len(times)} can be read (frames 0-{len(times) - 1}); copy or "
                         "export it again", frame=len(times))
    return MediaInfo(
        path=path, kind="video", width=width, height=height, fps=float(fps),
        first=0, last=len(times) - 1, frame_count=len(times), codec=codec,
        pix_fmt=pix_fmt, bit_depth=_bit_depth(pix_fmt), linear=False,
        timecode=tc.group(1) if tc else None, frame_times=times, seek_origin=seek_origin)


_STREAM_DURATION_RE = re.compile(r"^\s*DURATION\s*:\s*(\d+):(\d+):([\d.]+)", re.M)


def _declared_frames(path: str, stream_block: str, fps: float) -> int | None:
    """The frame count the container's header declares for the video, if it says one.

    The stream copy pass counts the frames that are really there; a file cut
    short (a copy that stopped half way) still carries its header, so the two
    disagree. AVI headers count frames; Matroska tags each stream's duration.
    Other containers (MP4, MOV) keep their index at the end and fail to open
    when cut, which the probe already reports.
    """
    frames = _avi_declared_frames(path)
    if frames is not None:
        return frames
    m = _STREAM_DURATION_RE.search(stream_block)
    if m and fps > 0:
        h, mi, sec = m.groups()
        return round((int(h) * 3600 + int(mi) * 60 + float(sec)) * fps)
    return None


def _avi_declared_frames(path: str) -> int | None:
    """Frames of the first video stream by its AVI header (``strh.dwLength``;
    OpenDML's ``dmlh`` total when the file has one), or None if not an AVI."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return None
    video_length = odml_total = None
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if cid == b"LIST":
            pos += 12  # descend: LIST size type, then its chunks
            continue
        data = head[pos + 8:pos + 8 + size]
        if cid == b"strh" and len(data) >= 36 and data[:4] == b"vids" and video_length is None:
            video_length = int.from_bytes(data[32:36], "little")
        elif cid == b"dmlh" and len(data) >= 4:
            odml_total = int.from_bytes(data[:4], "little")
        elif cid == b"movi" or cid == b"idx1":
            break
        pos += 8 + size + (size & 1)
    best = odml_total or video_length
    return best if best else None


def _duration(text: str) -> float | None:
    m = _DURATION_RE.search(text)
    if not m:
        return None
    h, mi, sec = m.groups()
    return int(h) * 3600 + int(mi) * 60 + float(sec)


def _complete(times: tuple[float, ...], duration: float | None, fps: float) -> bool:
    """Whether the indexed frames span the duration the container declares.

    A read error with every frame present (an audio packet cut short at the
    end of a camera file) is no reason to refuse the video.
    """
    if not times or duration is None or fps <= 0:
        return False
    return len(times) >= round(duration * fps) - 1


def _damaged(log: str) -> bool:
    low = log.lower()
    return any(s in low for s in ("partial file", "invalid data found", "error reading",
                                  "truncat", "packet too small", "stream ends prematurely"))


def _split_top(text: str) -> list[str]:
    """Split ffmpeg's stream description on commas that are not inside brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


# -------------------------------------------------------------------------- decode

class _StderrPump:
    """Reads one ffmpeg's log: frame timestamps from ``showinfo``, and the last other lines.

    showinfo logs a frame before ffmpeg writes it to stdout, so the n-th
    stamp belongs to the n-th frame read from the pipe.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.stamps: collections.deque[float] = collections.deque()
        self.log: collections.deque[str] = collections.deque(maxlen=40)
        self.done = False
        self.cond = threading.Condition()
        threading.Thread(target=self._run, args=(proc,), daemon=True,
                         name="segmatte-ffmpeg-log").start()

    def _run(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        with proc.stderr:
            for raw in iter(proc.stderr.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                m = _PTS_RE.search(line) if "showinfo" in line else None
                with self.cond:
                    if m:
                        self.stamps.append(float(m.group(2)))
                    elif "showinfo" not in line:
                        self.log.append(line)
                    self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def next_stamp(self, stop: threading.Event) -> float | None:
        with self.cond:
            while not self.stamps and not self.done and not stop.is_set():
                self.cond.wait(0.2)
            return self.stamps.popleft() if self.stamps else None


class VideoDecode:
    """Decode source frames ``first..last`` of a video, exactly, in order.

    Iterate to get ``(number, raw)`` with ``raw`` an H×W×3 uint8 (8-bit
    sources, ffmpeg ``rgb24``) or uint16 (deeper sources, ``rgb48le``) array.
    :meth:`close` may be called from any thread: it kills ffmpeg, which ends
    the iteration at once.
    """

    def __init__(self, info: MediaInfo, first: int, last: int) -> None:
        if info.kind != "video":
            raise MediaError(f"{_name(info.path)} is not a video")
        check_range(info, first, last)
        self.info = info
        self.first = first
        self.last = last
        self.dtype = np.uint8 if info.bit_depth <= 8 else np.dtype("<u2")
        self.pix_fmt = "rgb24" if info.bit_depth <= 8 else "rgb48le"
        self.frame_bytes = info.width * info.height * 3 * np.dtype(self.dtype).itemsize
        self.proc: subprocess.Popen[bytes] | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._pump: _StderrPump | None = None

    # The seek point: half a frame before the wanted frame, relative to the
    # container start (that is what -ss counts from), so rounding in either
    # direction still lands before it; exact selection does the rest.
    def _seek_seconds(self, number: int) -> float:
        times = self.info.frame_times
        if number == 0:
            return 0.0
        half = (times[number] - times[number - 1]) / 2
        return max(0.0, times[number] - half - self.info.seek_origin)

    def _spawn(self, seek: float) -> subprocess.Popen[bytes]:
        kwargs: dict[str, object] = {"copyts": None, "nostdin": None, "hide_banner": None,
                                     "nostats": None}
        if seek > 0:
            kwargs["ss"] = f"{seek:.6f}"
        cmd = ffmpeg.input(self.info.path, **kwargs).output(
            "pipe:", map="0:v:0", vf="showinfo=checksum=0", fps_mode="passthrough",
            f="rawvideo", pix_fmt=self.pix_fmt, sws_flags="bicubic+full_chroma_int",
            an=None, sn=None, dn=None,
        ).compile(cmd=ffmpeg_exe())
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0, start_new_session=True)
        self._pump = _StderrPump(proc)
        return proc

    def _read_exact(self, proc: subprocess.Popen[bytes]) -> np.ndarray | None:
        assert proc.stdout is not None
        buf = bytearray(self.frame_bytes)
        view = memoryview(buf)
        got = 0
        while got < self.frame_bytes:
            n = proc.stdout.readinto(view[got:])
            if not n:
                return None
            got += n
        return np.frombuffer(buf, dtype=self.dtype).reshape(self.info.height, self.info.width, 3)

    def _number_of(self, t: float) -> int | None:
        """The frame number whose indexed time is nearest ``t``, if within half a frame."""
        times = self.info.frame_times
        i = bisect.bisect_left(times, t)
        best = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t))
        lo = times[best] - times[best - 1] if best > 0 else None
        hi = times[best + 1] - times[best] if best + 1 < len(times) else None
        step = min(x for x in (lo, hi, 1.0) if x is not None and x > 0)
        return best if abs(times[best] - t) <= step / 2 + 1e-6 else None

    RETRY_BACKOFF_S = (2.0, 10.0, 60.0)
    """How much earlier to seek again when a fast seek lands late (then from the top)."""

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        first_try = self._seek_seconds(self.first)
        tries = [first_try] + [first_try - b for b in self.RETRY_BACKOFF_S if first_try - b > 0] + [0.0]
        for seek in dict.fromkeys(tries):  # ordered, without repeats
            restart = yield from self._decode_from(seek)
            if not restart:
                return
            # The fast seek landed after the frame (some demuxers seek by byte
            # position, not keyframe): seek earlier; the selection stays exact.

    def _decode_from(self, seek: float) -> Iterator[tuple[int, np.ndarray]]:
        with self._lock:
            if self._closed.is_set():
                return False
            self.proc = proc = self._spawn(seek)
            pump = self._pump
            assert pump is not None
        expected = self.first
        try:
            while expected <= self.last:
                raw = self._read_exact(proc)
                if raw is None:
                    if self._closed.is_set():
                        return False
                    proc.wait()
                    if expected == self.first and seek > 0:
                        return True  # nothing at all after the seek point: seek earlier
                    raise self._ended_early(expected)
                stamp = pump.next_stamp(self._closed)
                if stamp is None:
                    if self._closed.is_set():
                        return False
                    raise MediaError(f"ffmpeg stopped reporting frames of {_name(self.info.path)} "
                                     f"at frame {expected}", frame=expected)
                number = self._number_of(stamp)
                if number is None or number < expected:
                    continue  # before the range (seek pre-roll), or a picture not in the index
                if number > expected:
                    if expected == self.first and seek > 0:
                        return True
                    raise MediaError(f"frame {expected} of {_name(self.info.path)} could not be "
                                     "decoded; the file is damaged there", frame=expected)
                yield number, raw
                expected += 1
            return False
        finally:
            self._kill(proc)

    def _ended_early(self, expected: int) -> MediaError:
        name = _name(self.info.path)
        if not os.path.exists(self.info.path):
            return MediaError(f"{name} is no longer there; it was moved or deleted while being "
                              "read", frame=expected)
        if expected == self.first:
            return MediaError(f"ffmpeg could not decode frame {expected} of {name}; the file may "
                              "have changed since it was probed, or be damaged", frame=expected)
        return MediaError(f"{name} ended at frame {expected - 1}, before frame {self.last}; "
                          "it may be truncated", frame=expected)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a wedged kernel, not ffmpeg
            pass
        if proc.stdout is not None:
            proc.stdout.close()  # stderr is closed by its pump thread

    def close(self) -> None:
        """Stop decoding now: kill ffmpeg (safe from any thread, idempotent)."""
        with self._lock:
            self._closed.set()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()

