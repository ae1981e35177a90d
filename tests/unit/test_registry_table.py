"""The engine registry is a static table: cards without torch, classes on build."""

from __future__ import annotations

import json
import subprocess
import sys

from segmatte.models import registry
from segmatte.models.engine import Engine, EngineCard


def test_every_card_agrees_with_its_engine_class() -> None:
    for entry in registry.TABLE.values():
        card, cls = entry.card, entry.cls
        assert issubclass(cls, Engine) and issubclass(cls, card), entry.name
        assert card.name == cls.name == entry.name
        for attr in ("description", "Options", "temporal", "needs_objects", "prompt_kinds"):
            assert getattr(card, attr) == getattr(cls, attr), (entry.name, attr)
        assert registry.get(entry.name) is cls and registry.card(entry.name) is card
        assert registry.engine_class(card) is cls


def test_cards_schemas_and_checks_load_without_torch() -> None:
    code = """
import json, sys
from segmatte.models import registry
out = {}
for e in registry.engines():
    c = registry.card(e.name)
    out[e.name] = [bool(e.options_schema()["properties"]), sorted(c.prompt_kinds), c.temporal]
from segmatte.server.pipeline import check_job  # the client's check, finishing included
print(json.dumps({"engines": out, "heavy": [m for m in ("torch", "transformers") if m in sys.modules]}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["engines"]) >= {"key", "person", "semantic", "text", "track"}
    assert data["heavy"] == []


def test_unknown_engine_names_the_known_ones() -> None:
    import pytest

    from segmatte.models.engine import EngineError

    with pytest.raises(EngineError, match="known engines: .*key.*track"):
        registry.card("nope")


def test_a_runtime_engine_is_its_own_card() -> None:
    class _Probe(Engine):
        name = "test-light-probe"

        def stream(self, frames):  # type: ignore[no-untyped-def]
            return iter(())

    registry.register(_Probe)
    assert registry.card("test-light-probe") is _Probe and registry.get("test-light-probe") is _Probe
    assert "test-light-probe" in {e.name for e in registry.engines()}
    entry = {e.name: e for e in registry.engines()}["test-light-probe"]
    assert entry.card is _Probe and entry.cls is _Probe and issubclass(_Probe, EngineCard)
