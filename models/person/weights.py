"""Where the person engine finds its weights, and what it says when it cannot.

Order (first hit wins):

1. the path the job gives (``PersonOptions.weights``): a file (``rvm.json``
   or a ``.pth``) or a folder holding one;
2. the weights cache, catalog entry ``rvm-mobilenetv3`` (``segmatte models
   pull rvm-mobilenetv3 --accept-licence``; folder
   ``$SEGMATTE_WEIGHTS/rvm-mobilenetv3``, see :mod:`segmatte.models.weights.cache`);
3. the test assets: ``$SEGMATTE_TEST_ASSETS`` > ``~/.cache/segmatte/test-assets``,
   sub-folder ``rvm/`` (what ``install/test_assets.py`` fetches).

In each folder the PyTorch checkpoint (``rvm_mobilenetv3.pth``, the learned
deep guided filter) is preferred over the TF.js export (``rvm.json`` +
``rvm.bin``, the parameter-free fast guided filter).

Weights are never fetched here: a job must not download silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine import EngineError
from ..weights import cache

if TYPE_CHECKING:  # torch loads with the network, not when the door reads the licence
    from .modeling_rvm import RVMModel

CATALOG_NAME = "rvm-mobilenetv3"
CHECKPOINT = "rvm_mobilenetv3.pth"
TFJS = "rvm.json"
NAMES = (CHECKPOINT, TFJS)
LICENCE = "GPL-3.0"


def models_cache_dir() -> Path:
    """The catalog entry's folder in the weights cache (it may not exist)."""
    return cache.url_cache_dir() / CATALOG_NAME


def assets_root() -> Path:
    env = os.environ.get("SEGMATTE_TEST_ASSETS")
    return Path(env) if env else Path.home() / ".cache" / "segmatte" / "test-assets"


def candidate_dirs() -> list[Path]:
    return [models_cache_dir(), assets_root() / "rvm"]


def _in_folder(folder: Path) -> Path | None:
    for name in NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def missing_weights_message(looked: list[Path]) -> str:
    return (
        "the person engine needs the Robust Video Matting weights (licence "
        f"{LICENCE}, opt-in) and found none in "
        + ", ".join(str(p) for p in looked)
        + f". Fetch them with: {cache.pull_command(CATALOG_NAME)}"
        " (or, for the TF.js export the tests use: python3 install/test_assets.py),"
        " or pass the engine option weights=PATH."
    )


def resolve_weights(explicit: str | Path | None = None) -> Path:
    """The weights file to load, or :class:`EngineError` saying how to get one."""
    looked: list[Path] = []
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path
        if path.is_dir() and (found := _in_folder(path)):
            return found
        raise EngineError(f"person weights not found at {path} (expected a file, or a folder "
                          f"holding {' or '.join(NAMES)})")
    for folder in candidate_dirs():
        looked.append(folder)
        if found := _in_folder(folder):
            return found
    raise EngineError(missing_weights_message(looked))


def load_weights(path: str | Path) -> RVMModel:
    """Load either published format into an :class:`RVMModel` (eval mode)."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            from .convert_tfjs import load_tfjs
            return load_tfjs(path)
        if path.suffix in (".pth", ".pt"):
            from .convert_torch import load_torch_checkpoint
            return load_torch_checkpoint(path)
    except (OSError, ValueError, KeyError) as exc:
        raise EngineError(f"could not load person weights from {path}: {exc}") from exc
    raise EngineError(f"unknown person weights format {path.name!r} (expected {' or '.join(NAMES)})")
