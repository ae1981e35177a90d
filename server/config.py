"""The server's settings: defaults, ``config.json`` in the config folder, then the command line.

Paths come from :mod:`segmatte.client.paths` so the server and a client
inside a host agree on where the token and the endpoint file live.
"""

from __future__ import annotations

import ipaddress
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from segmatte.client import paths
from segmatte.client.protocol import DEFAULT_PORT, HEARTBEAT_S, LIVENESS


class ConfigError(ValueError):
    """A setting that cannot work; the message says which and why."""


def default_roots() -> tuple[Path, ...]:
    """Folders a job may read from and write to unless the user adds more."""
    return (Path.home(), Path(tempfile.gettempdir()))


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    allow_remote: bool = False
    workers: int = 1
    checkers: int = 2
    """Threads that validate submitted specs against the disk (probing media is slow)."""
    allowed_roots: tuple[Path, ...] = field(default_factory=default_roots)
    heartbeat_s: float = HEARTBEAT_S
    liveness: int = LIVENESS
    queue_limit: int = 10_000
    max_connections: int = 512
    """Connections at once; lowered at start to leave a quarter of the file descriptors free."""
    max_unauthenticated: int = 64
    """Connections that have not said a good hello yet; the oldest go first."""
    hello_timeout_s: float = 5.0
    """A connection that has not said a good hello by then is dropped."""
    warm_engine: str = "key"
    """The engine warmed at start, in the background (torch imported, one tiny frame when it
    needs no weights), so the first job does not wait; "" turns warm-up off."""
    config_dir: Path = field(default_factory=paths.config_dir)
    data_dir: Path = field(default_factory=paths.data_dir)

    @property
    def bind_address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def connect_address(self, port: int | None = None) -> str:
        """An address a local client can connect to (loopback even when bound to all)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "*", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"tcp://{host}:{port if port is not None else self.port}"

    def check(self) -> ServerConfig:
        """Refuse settings that would expose the server or cannot work."""
        if not self.allow_remote and not is_loopback(self.host):
            raise ConfigError(f"host {self.host!r} is not a loopback address; the server has no "
                              "encryption, so binding beyond this machine needs --allow-remote")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is not between 0 and 65535")
        if not 1 <= self.workers <= 64:
            raise ConfigError(f"workers must be between 1 and 64, not {self.workers}")
        if not 0.05 <= self.heartbeat_s <= 60:
            raise ConfigError(f"heartbeat must be between 0.05 and 60 seconds, not {self.heartbeat_s}")
        if not 1 <= self.max_connections <= 100_000:
            raise ConfigError(f"max_connections must be between 1 and 100000, not {self.max_connections}")
        if not 1 <= self.max_unauthenticated <= 100_000:
            raise ConfigError("max_unauthenticated must be between 1 and 100000, not "
                              f"{self.max_unauthenticated}")
        if not 0.1 <= self.hello_timeout_s <= 600:
            raise ConfigError(f"hello_timeout_s must be between 0.1 and 600 seconds, not "
                              f"{self.hello_timeout_s}")
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load(**overrides: Any) -> ServerConfig:
    """Defaults, then ``config.json`` (keys: port, host, workers, allowed_roots,
    heartbeat_s, max_connections, max_unauthenticated, hello_timeout_s, warm_engine), then
    ``overrides`` that are not None. ``extra_roots`` adds to the allowed roots
    instead of replacing them."""
    cfg = ServerConfig()
    stored = paths.read_json(paths.config_path())
    updates: dict[str, Any] = {}
    for key, kind in (("port", int), ("host", str), ("workers", int), ("heartbeat_s", (int, float)),
                      ("max_connections", int), ("max_unauthenticated", int),
                      ("hello_timeout_s", (int, float)), ("warm_engine", str)):
        if key in stored:
            if not isinstance(stored[key], kind) or isinstance(stored[key], bool):
                raise ConfigError(f"{paths.config_path()}: {key} has the wrong type")
            updates[key] = stored[key]
    if "allowed_roots" in stored:
        roots = stored["allowed_roots"]
        if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
            raise ConfigError(f"{paths.config_path()}: allowed_roots must be a list of folders")
        updates["allowed_roots"] = tuple(Path(r).expanduser() for r in roots)
    extra = overrides.pop("extra_roots", None) or ()
    updates.update({k: v for k, v in overrides.items() if v is not None})
    cfg = replace(cfg, **updates)
    if extra:
        cfg = replace(cfg, allowed_roots=cfg.allowed_roots + tuple(Path(p).expanduser() for p in extra))
    return cfg.check()
