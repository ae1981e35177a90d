"""Where segmatte keeps its per-user files: one function per folder or file.

Standard library only and shared by both ends: the server creates the token
and the endpoint file here, and a client inside Blender or Resolve reads them
from the very same places. Environment variables come first so tests (and
users with unusual setups) can point everything at temporary folders:

- ``SEGMATTE_CONFIG_DIR`` > ``XDG_CONFIG_HOME/segmatte`` > the platform's
  config folder (``%APPDATA%``, ``~/Library/Application Support``, ``~/.config``)
- ``SEGMATTE_DATA_DIR`` > ``XDG_DATA_HOME/segmatte`` > the platform's data
  folder (``%LOCALAPPDATA%``, ``~/Library/Application Support``, ``~/.local/share``)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

APP = "segmatte"


def _platform_config_home() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path.home() / ".config"


def _platform_data_home() -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path.home() / ".local" / "share"


def config_dir() -> Path:
    """The user's segmatte config folder (token, ``config.json``)."""
    if os.environ.get("SEGMATTE_CONFIG_DIR"):
        return Path(os.environ["SEGMATTE_CONFIG_DIR"])
    if os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ["XDG_CONFIG_HOME"]) / APP
    return _platform_config_home() / APP


def data_dir() -> Path:
    """The server's data folder (journal, log, endpoint file)."""
    if os.environ.get("SEGMATTE_DATA_DIR"):
        return Path(os.environ["SEGMATTE_DATA_DIR"])
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]) / APP
    return _platform_data_home() / APP


def token_path() -> Path:
    """The per-user auth token the server creates on first start (mode 0600)."""
    return config_dir() / "token"


def config_path() -> Path:
    """Optional user settings (port, workers, allowed roots) as JSON."""
    return config_dir() / "config.json"


def endpoint_path() -> Path:
    """Written by a running server: its address and pid; removed when it stops."""
    return data_dir() / "server.json"


def read_token() -> str | None:
    """The token text, or None when the server has never been started."""
    try:
        return token_path().read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or ``{}`` when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def server_address(default_port: int) -> str:
    """Where a client should look for the server, without asking anyone.

    ``SEGMATTE_ADDRESS`` wins; then the endpoint file of a running server;
    then the port in ``config.json``; then the default port on loopback.
    """
    if os.environ.get("SEGMATTE_ADDRESS"):
        return os.environ["SEGMATTE_ADDRESS"]
    running = read_json(endpoint_path()).get("address")
    if isinstance(running, str) and running.startswith("tcp://"):
        return running
    port = read_json(config_path()).get("port", default_port)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        port = default_port
    return f"tcp://127.0.0.1:{port}"
