"""The registry of engines: names to classes, and what is available here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .engine import Engine, EngineError


@dataclass(frozen=True)
class EngineEntry:
    name: str
    cls: type[Engine]
    description: str

    def options_schema(self) -> dict[str, Any]:
        return self.cls.Options.model_json_schema()


_ENGINES: dict[str, type[Engine]] = {}


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine known by its ``name``."""
    _ENGINES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # Importing the engine modules registers them.
    from .key import engine_key  # noqa: F401
    from .person import engine_person  # noqa: F401
    from .semantic import engine_semantic  # noqa: F401
    from .text import engine_text  # noqa: F401
    from .track import engine_track  # noqa: F401


def engines() -> list[EngineEntry]:
    _load_builtin()
    return [EngineEntry(n, c, c.description) for n, c in sorted(_ENGINES.items())]


def get(name: str) -> type[Engine]:
    _load_builtin()
    try:
        return _ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(_ENGINES)) or "none"
        raise EngineError(f"unknown engine {name!r}; known engines: {known}") from None
