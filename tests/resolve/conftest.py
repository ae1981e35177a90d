"""Fixtures for the Resolve/Fusion script tests: one real server, one install, fake hosts.

The server is a real ``segmatte serve`` subprocess (tests/integration/serverkit.py)
with its own config and data folders; the scripts find it the way they do in
Resolve, through ``SEGMATTE_CONFIG_DIR`` / ``SEGMATTE_DATA_DIR`` (token and
endpoint file). The scripts run from a real ``segmatte install resolve`` into a
temporary home, so what is tested is what an artist gets. Helpers live in
resolvekit.py (a plain module: ``conftest`` names clash across test folders).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parent))

import clipgen  # noqa: E402
import fake_resolve as fr  # noqa: E402
from resolvekit import FRAMES, H, W  # noqa: E402
from serverkit import ServerProcess  # noqa: E402

from segmatte.server.installers import resolve as installer  # noqa: E402


@pytest.fixture(scope="session")
def green_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("resolve-media")
    return clipgen.write_green_screen_clip(folder / "green.mp4", FRAMES, W, H)


@pytest.fixture(scope="session")
def resolve_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("resolve-server")).start()
    saved = {k: os.environ.get(k) for k in ("SEGMATTE_CONFIG_DIR", "SEGMATTE_DATA_DIR",
                                             "SEGMATTE_ADDRESS")}
    os.environ["SEGMATTE_CONFIG_DIR"] = str(srv.config_dir)
    os.environ["SEGMATTE_DATA_DIR"] = str(srv.data_dir)
    os.environ.pop("SEGMATTE_ADDRESS", None)
    yield srv
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    srv.stop(10)


@pytest.fixture
def reading(request: pytest.FixtureRequest) -> Iterator[fr.Reading]:
    """One reading of the README's open points (``indirect`` parametrisation); reset after."""
    value = getattr(request, "param", fr.Reading())
    fr.use(value)
    yield value
    fr.use(fr.Reading())




@pytest.fixture(scope="session")
def track_server(tmp_path_factory: pytest.TempPathFactory, hub: Path) -> Iterator[ServerProcess]:
    """A real server that has the tiny track model (sessions) besides the key engine."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_CACHE", str(hub))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("SEGMATTE_TORCH_THREADS", "1")
        srv = ServerProcess(tmp_path_factory.mktemp("resolve-track-server")).start()
    yield srv
    srv.stop(30)


@pytest.fixture(scope="session")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user Scripts folder of a fresh Linux-layout install."""
    home = tmp_path_factory.mktemp("home")
    folder = installer.scripts_dir("linux", home)
    installer.install(folder)
    return folder
