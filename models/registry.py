"""The registry of engines: a static table of names, cards and classes.

Listing engines, reading an engine's options schema or checking a job needs
only the engine's *card* (:class:`~.engine.EngineCard`: name, options, prompt
kinds, cheap checks), in a module that imports no torch. The engine class,
which does, is imported only when a job builds it (:func:`get`), as
``transformers``' lazy ``__init__`` does: a client that checks a batch through
a server never loads torch.

Engines defined at run time (tests) still join with :func:`register`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .engine import Engine, EngineCard, EngineError


@dataclass(frozen=True)
class EngineEntry:
    """One engine of the table: where its card and its class live (``module:Name``)."""

    name: str
    card_path: str
    engine_path: str
    defined: type[Engine] | None = None
    """An engine registered at run time (a test's): its own card and class."""

    @property
    def card(self) -> type[EngineCard]:
        """The torch-free card (imports only the card's module)."""
        return self.defined or _load(self.card_path)

    @property
    def cls(self) -> type[Engine]:
        """The engine class (imports its module, and with it torch for most engines)."""
        return self.defined or _load(self.engine_path)

    @property
    def description(self) -> str:
        return self.card.description

    def options_schema(self) -> dict[str, Any]:
        return self.card.Options.model_json_schema()


_M = "segmatte.models"
TABLE: dict[str, EngineEntry] = {e.name: e for e in (
    EngineEntry("key", f"{_M}.key.options:KeyCard", f"{_M}.key.engine_key:KeyEngine"),
    EngineEntry("person", f"{_M}.person.options:PersonCard",
                f"{_M}.person.engine_person:PersonEngine"),
    EngineEntry("semantic", f"{_M}.semantic.options:SemanticCard",
                f"{_M}.semantic.engine_semantic:SemanticEngine"),
    # The track and text engines' modules import torch only inside open(): each is its own card.
    EngineEntry("text", f"{_M}.text.engine_text:TextEngine", f"{_M}.text.engine_text:TextEngine"),
    EngineEntry("track", f"{_M}.track.engine_track:TrackEngine",
                f"{_M}.track.engine_track:TrackEngine"),
)}
"""The built-in engines. tests/unit/test_registry_table.py checks each card against its class."""

_RUNTIME: dict[str, type[Engine]] = {}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def register(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine known by its ``name``.

    Built-in engines are in :data:`TABLE` already (the decorator checks they
    agree); an engine defined elsewhere (a test's) is its own card.
    """
    entry = TABLE.get(cls.name)
    if entry is not None:
        if entry.engine_path != f"{cls.__module__}:{cls.__qualname__}":
            raise EngineError(f"engine name {cls.name!r} is taken by {entry.engine_path}")
        return cls
    _RUNTIME[cls.name] = cls
    return cls


def engines() -> list[EngineEntry]:
    """Every engine known here, by name (imports the cards, not the engines)."""
    runtime = {n: EngineEntry(n, _path(c), _path(c), c) for n, c in _RUNTIME.items()}
    return [e for _, e in sorted({**runtime, **TABLE}.items())]


def _path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _unknown(name: str) -> EngineError:
    known = ", ".join(sorted({*TABLE, *_RUNTIME})) or "none"
    return EngineError(f"unknown engine {name!r}; known engines: {known}")


def card(name: str) -> type[EngineCard]:
    """What the door checks a job against, without loading the engine (EngineError if unknown)."""
    if name in TABLE:
        return TABLE[name].card
    if name in _RUNTIME:
        return _RUNTIME[name]
    raise _unknown(name)


def get(name: str) -> type[Engine]:
    """The engine class, to build one (imports its module: torch, for most)."""
    if name in TABLE:
        return TABLE[name].cls
    if name in _RUNTIME:
        return _RUNTIME[name]
    raise _unknown(name)


def engine_class(card_or_cls: type[EngineCard]) -> type[Engine]:
    """The engine class of a card (the card itself when it is one)."""
    if isinstance(card_or_cls, type) and issubclass(card_or_cls, Engine):
        return card_or_cls
    return get(card_or_cls.name)
