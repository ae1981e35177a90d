"""Helpers for the server tests: a real ``segmatte serve`` subprocess on loopback.

Every server gets its own config and data folders (through
``SEGMATTE_CONFIG_DIR`` / ``SEGMATTE_DATA_DIR``), so tests never see the
user's token, journal or port. The port is 0 (any free one) unless a test
needs to restart on the same port; the address comes from the endpoint file
the server writes once it listens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from segmatte.client.client import Client

HERE = Path(__file__).resolve().parent

CLIP_W, CLIP_H = 64, 48
SHORT_FRAMES = 5
LONG_FRAMES = 40
START_TIMEOUT = 60.0
"""Bounds a hang, not a speed: the first start imports numpy and pyzmq on 2 busy cores."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """One ``segmatte serve --foreground`` subprocess with its own folders."""

    def __init__(self, root: Path, *, port: int = 0, workers: int = 1, heartbeat: float = 0.25,
                 slow: float | None = None, extra: list[str] | None = None,
                 max_files: int | None = None, config: dict[str, Any] | None = None) -> None:
        self.root = root
        self.config_dir = root / "config"
        self.data_dir = root / "data"
        self.port = port
        self.workers = workers
        self.heartbeat = heartbeat
        self.slow = slow
        self.extra = extra or []
        self.max_files = max_files
        """RLIMIT_NOFILE (soft and hard) of the server process: a flood test needs few connections."""
        self.config = config or {}
        """Written to the server's config.json before it starts."""
        self.proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.log = root / "server-stderr.log"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["SEGMATTE_CONFIG_DIR"] = str(self.config_dir)
        env["SEGMATTE_DATA_DIR"] = str(self.data_dir)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        env.pop("SEGMATTE_ADDRESS", None)
        # an empty model cache of its own unless a test brings one (never the user's)
        env.setdefault("HF_HUB_CACHE", str(self.root / "hf-hub"))
        if self.slow is not None:
            env["SEGMATTE_TEST_FRAME_DELAY"] = str(self.slow)
        return env

    def start(self) -> ServerProcess:
        endpoint = self.data_dir / "server.json"
        self.root.mkdir(parents=True, exist_ok=True)
        endpoint.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "segmatte.server.cli", "serve", "--foreground",
               "--port", str(self.port), "--workers", str(self.workers),
               "--heartbeat", str(self.heartbeat), *self.extra]
        if self.slow is not None:
            cmd += ["--runner", "slow_runner:SlowRunner"]
        if self.config:
            self.config_dir.mkdir(parents=True, exist_ok=True)
            (self.config_dir / "config.json").write_text(json.dumps(self.config))
        limit = self.max_files

        def lower_file_limit() -> None:  # in the child, before exec
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log,
                                         preexec_fn=lower_file_limit if limit else None)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                info = json.loads(endpoint.read_text())
                if info.get("pid") == self.proc.pid:
                    self.address = info["address"]
                    self.port = int(self.address.rsplit(":", 1)[1])
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start in {START_TIMEOUT} s:\n{self.stderr()}")

    def stderr(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    @property
    def token(self) -> str:
        return (self.config_dir / "token").read_text().strip()

    def client(self, **kwargs: Any) -> Client:
        client = Client(self.address, self.token, **kwargs)
        client.connect(timeout=20)
        return client

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (the crash case)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    @property
    def journal(self) -> Path:
        return self.data_dir / "journal.sqlite3"


def frames_in_order(events: list, start: int) -> int:
    """Check that the ``FrameWritten`` events count up by one from ``start``; return
    where the count ended. A client that reconnects (its heartbeats missed on a
    loaded machine) re-subscribes and gets the job's state (``JobState``) first:
    the count picks up from that state's ``written``, which never goes back."""
    from segmatte.client.events import FrameWritten, JobState

    expected = start
    for event in events:
        if isinstance(event, JobState):
            assert event.written >= expected, (event, expected, events)
            expected = event.written
        elif isinstance(event, FrameWritten):
            assert event.frame == expected, (event, expected, events)
            expected += 1
    return expected


def key_spec(source: str, folder: Path | str, **extra: Any) -> dict[str, Any]:
    """A job spec dict for the key engine (always available, no weights)."""
    return {"source": str(source), "engine": "key", "output": {"folder": str(folder)}, **extra}


class RawPeer:
    """A bare DEALER socket speaking the protocol by hand (for refusal and fuzz tests)."""

    def __init__(self, address: str) -> None:
        import zmq

        self.zmq = zmq
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    def send(self, message: dict[str, Any] | list[bytes]) -> None:
        from segmatte.client import protocol as P

        frames = message if isinstance(message, list) else [P.TAG, json.dumps(message).encode()]
        self.sock.send_multipart(frames)

    def recv(self, timeout: float = 10.0, skip: tuple[str, ...] = ("heartbeat", "event")) -> dict[str, Any]:
        """The next message that is not a heartbeat or an event; TimeoutError if none."""
        from segmatte.client import protocol as P

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise TimeoutError("no reply")
            msg = P.decode(self.sock.recv_multipart())
            if msg.get("type") not in skip:
                return msg

    def call(self, message: dict[str, Any] | list[bytes], timeout: float = 10.0) -> dict[str, Any]:
        self.send(message)
        return self.recv(timeout)

    def hello(self, token: str, id: str = "h") -> dict[str, Any]:
        return self.call({"type": "hello", "id": id, "protocol": 1, "client": "raw", "token": token})

    def close(self) -> None:
        self.sock.close(0)
