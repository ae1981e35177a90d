"""The security suite: each attack or bad input runs against a real ``segmatte serve``
subprocess (loopback, own folders, bounded loops) or the real CLI.

It shares the server helper with the integration tests (``tests/integration/serverkit.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE.parent))

import clipgen  # noqa: E402
from serverkit import CLIP_H, CLIP_W, LONG_FRAMES, SHORT_FRAMES, ServerProcess  # noqa: E402


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Make servers under this test's tmp_path; all are stopped at the end."""
    made: list[ServerProcess] = []

    def make(**kwargs: Any) -> ServerProcess:
        srv = ServerProcess(tmp_path / f"srv{len(made)}", **kwargs)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop(10)


@pytest.fixture
def server(server_factory: Any) -> ServerProcess:
    return server_factory().start()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny green-screen clips for the key engine (no weights): short and long."""
    folder = tmp_path_factory.mktemp("security-clips")
    return {
        "short": clipgen.write_green_screen_clip(folder / "short.mp4", SHORT_FRAMES, CLIP_W, CLIP_H),
        "long": clipgen.write_green_screen_clip(folder / "long.mp4", LONG_FRAMES, CLIP_W, CLIP_H),
    }
