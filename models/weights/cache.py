"""Offline lookup of pulled weights: never touches the network.

Hub models live in the standard Hugging Face cache layout
(``models--org--name/{blobs,snapshots/<commit>,refs/<revision>}``) under
``HF_HUB_CACHE`` (or ``HF_HOME/hub``, or ``~/.cache/huggingface/hub``), read at
call time so tests and users can point it elsewhere. URL models live under
``SEGMATTE_WEIGHTS`` (default ``~/.cache/segmatte/weights/<name>``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..engine import EngineError
from .catalog import ModelEntry, get

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def url_cache_dir() -> Path:
    base = os.environ.get("SEGMATTE_WEIGHTS")
    return Path(base).expanduser() if base else Path.home() / ".cache" / "segmatte" / "weights"


def repo_dir(repo: str) -> Path:
    return hub_cache_dir() / ("models--" + repo.replace("/", "--"))


def _commit_for(entry: ModelEntry) -> str | None:
    if _COMMIT.match(entry.revision):
        return entry.revision
    ref = repo_dir(entry.repo) / "refs" / entry.revision
    if not ref.is_file():
        return None
    return ref.read_text().strip() or None


def local_path(entry: ModelEntry | str) -> Path | None:
    """The folder holding the model's files, or None if it is not (completely) pulled."""
    entry = get(entry) if isinstance(entry, str) else entry
    if entry.repo:
        commit = _commit_for(entry)
        if commit is None:
            return None
        folder = repo_dir(entry.repo) / "snapshots" / commit
    else:
        folder = url_cache_dir() / entry.name
    for name in entry.required:
        if not (folder / name).is_file():  # follows the snapshot's symlink into blobs/
            return None
    return folder


def pull_command(entry: ModelEntry | str) -> str:
    entry = get(entry) if isinstance(entry, str) else entry
    flag = " --accept-licence" if entry.opt_in else ""
    return f"segmatte models pull {entry.name}{flag}"


def require(entry: ModelEntry | str) -> Path:
    """The model's folder, or an :class:`EngineError` that says how to fetch it."""
    entry = get(entry) if isinstance(entry, str) else entry
    path = local_path(entry)
    if path is None:
        raise EngineError(f"model {entry.name} is not in the local cache ({hub_cache_dir()}); "
                          f"fetch it first with: {pull_command(entry)}")
    return path
