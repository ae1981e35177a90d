"""The catalog is consistent with the engines and honest about licences."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmatte.models.engine import EngineError
from segmatte.models.track.loader import FAMILIES
from segmatte.models.weights import catalog

PERMISSIVE = {"Apache-2.0", "MIT", "BSD-3-Clause"}


def test_names_and_sources_are_unique():
    names = [e.name for e in catalog.CATALOG]
    assert len(names) == len(set(names))
    # one checkpoint may serve two engines (facebook/sam3: the tracker and the text engine)
    sources = [(e.engine, e.repo or e.url) for e in catalog.CATALOG]
    assert all(s for _e, s in sources) and len(sources) == len(set(sources))


def test_text_models_are_sam3_checkpoints_transformers_documents():
    import transformers
    import transformers.models.sam3 as sam3

    from segmatte.models.text.loader import CLASSES

    text = catalog.entries("text")
    assert [e.name for e in text] == ["sam3"]
    assert all(hasattr(transformers, name) for name in CLASSES)
    docs = "".join(p.read_text() for p in Path(sam3.__file__).parent.glob("*.py"))
    for e in text:
        assert e.family == "sam3_video" and f'"{e.repo}"' in docs
        assert e.opt_in and e.gated and "SAM" in e.licence
        assert "*.json" in e.files and "config.json" in e.required


def test_track_models_map_to_transformers_classes():
    import transformers

    track = catalog.entries("track")
    assert {"sam2.1-tiny", "sam2.1-small", "sam2.1-base-plus", "sam2.1-large", "edgetam",
            "sam3-tracker"} <= {e.name for e in track}
    for e in track:
        model_cls, proc_cls = FAMILIES[e.family]
        assert hasattr(transformers, model_cls) and hasattr(transformers, proc_cls)
        assert e.repo


def test_repo_ids_are_the_ones_transformers_documents():
    import transformers.models.edgetam_video as edgetam
    import transformers.models.sam2_video as sam2
    import transformers.models.sam3_tracker_video as sam3

    text = "".join(p.read_text() for mod in (sam2, edgetam, sam3)
                   for p in Path(mod.__file__).parent.glob("*.py"))
    for name in ("sam2.1-tiny", "edgetam", "sam3-tracker"):
        assert catalog.get(name).repo in text


def test_non_permissive_licences_are_opt_in():
    for e in catalog.CATALOG:
        assert e.opt_in == (e.licence not in PERMISSIVE), e.name
        if e.gated:
            assert e.opt_in


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(EngineError, match="sam2.1-tiny"):
        catalog.get("sam9")
