"""Pulling a model from the panel (no bpy): ``segmatte models pull`` in the background.

The protocol has no pull request (weights are never fetched inside a job or
session, and the server may run as another process the artist did not
start), so the panel runs the same command the server's messages name, with
the server command of the preferences, and reads its progress bar
(``12.3/156.0 MB``) from the log.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field

_AMOUNT = re.compile(r"([\d.]+)/([\d.]+)\s*(bytes|kB|MB|GB)")
_SCALE = {"bytes": 1e-6, "kB": 1e-3, "MB": 1.0, "GB": 1e3}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def pull_command(server_command: str, model: str, accept_licence: bool) -> list[str]:
    """``segmatte serve …`` → ``segmatte models pull MODEL [--accept-licence]``."""
    args = shlex.split(server_command, posix=os.name != "nt")
    if "serve" in args:
        args = args[:args.index("serve")]
    args = args or ["segmatte"]
    return [*args, "models", "pull", model, *(["--accept-licence"] if accept_licence else [])]


def progress_of(text: str) -> float | None:
    """The last ``done/total`` amount of a rich download bar as a fraction, or None."""
    found = _AMOUNT.findall(_ANSI.sub("", text))
    if not found:
        return None
    done, total, unit = found[-1]
    total_mb = float(total) * _SCALE[unit]
    return min(1.0, float(done) * _SCALE[unit] / total_mb) if total_mb > 0 else None


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in _ANSI.sub("", text).replace("\r", "\n").splitlines()]
    lines = [ln for ln in lines if ln]
    return lines[-1] if lines else ""


@dataclass
class Pull:
    model: str
    command: list[str]
    log: str = ""
    proc: subprocess.Popen | None = None
    state: str = "running"
    """running, done, failed."""
    progress: float = 0.0
    message: str = ""
    said: list[str] = field(default_factory=list)

    def start(self) -> Pull:
        fd, self.log = tempfile.mkstemp(prefix=f"segmatte-pull-{self.model}-", suffix=".log")
        env = dict(os.environ, FORCE_COLOR="1", COLUMNS="120")
        with os.fdopen(fd, "wb") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL, env=env)
        return self

    def poll(self) -> str:
        """Read the log; the state (``running``, ``done``, ``failed``)."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            text = ""
        got = progress_of(text)
        if got is not None:
            self.progress = got
        code = self.proc.poll() if self.proc else 1
        if code is None:
            self.message = f"pulling {self.model}: {self.progress:.0%}"
            return self.state
        if code == 0:
            self.state, self.progress = "done", 1.0
            self.message = f"{self.model} is pulled"
        else:
            self.state = "failed"
            line = last_line(text).removeprefix("segmatte: ")
            self.message = f"pulling {self.model} failed: {line or f'exit code {code}'}"
        return self.state
