"""Fixtures for the server tests (see serverkit.py for the subprocess helper)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import clipgen  # noqa: E402
from serverkit import CLIP_H, CLIP_W, LONG_FRAMES, SHORT_FRAMES, ServerProcess  # noqa: E402

from segmatte.client.client import Client  # noqa: E402


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Make servers under this test's tmp_path; all are stopped at the end."""
    made: list[ServerProcess] = []

    def make(**kwargs: Any) -> ServerProcess:
        srv = ServerProcess(tmp_path / "srv", **kwargs)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop(10)


@pytest.fixture
def server(server_factory: Any) -> ServerProcess:
    return server_factory().start()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    c = server.client(name="pytest")
    yield c
    c.close()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny green-screen clips for the key engine: short (5 frames) and long (40)."""
    folder = tmp_path_factory.mktemp("server-clips")
    return {
        "short": clipgen.write_green_screen_clip(folder / "short.mp4", SHORT_FRAMES, CLIP_W, CLIP_H),
        "long": clipgen.write_green_screen_clip(folder / "long.mp4", LONG_FRAMES, CLIP_W, CLIP_H),
    }
