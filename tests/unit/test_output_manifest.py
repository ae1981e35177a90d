"""The sequence manifest: contents, round trip, atomic replacement, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segmatte.server.output.exr import sequence_path, write_matte
from segmatte.server.output.manifest import (
    FORMAT,
    FrameFile,
    FrameRecord,
    Manifest,
    ManifestError,
    load_manifest,
    manifest_path,
    write_manifest,
)
from segmatte.server.spec import parse_spec


def make_manifest(folder, frames=(1001, 1002)) -> Manifest:
    spec = parse_spec(
        {
            "source": "/shots/a.mov",
            "range": {"first": 1001, "last": 1002},
            "engine": "key",
            "model": "chroma",
            "output": {"folder": str(folder), "name": "hero", "channels": "rgba"},
        }
    )
    records = []
    for n in frames:
        files = {}
        for layer in ("person", "car"):
            path = sequence_path(folder, "hero", n, layer=layer)
            digest = write_matte(path, np.full((8, 8), 0.5, np.float32))
            files[layer] = (path, digest)
        records.append(FrameRecord.make(folder, n, files, {"person": 0.9}, {"car": ["absent"]}))
    return Manifest.make(
        spec=spec,
        job_id="job-1",
        digest=spec.digest(),
        first=1001,
        last=1002,
        layers=["person", "car"],
        frames=records,
    )


def test_make_takes_settings_from_the_spec(tmp_path):
    m = make_manifest(tmp_path)
    assert (m.source, m.engine, m.model, m.first, m.last) == (
        "/shots/a.mov",
        "key",
        "chroma",
        1001,
        1002,
    )
    assert (m.name, m.channels, m.compression, m.datatype, m.padding) == (
        "hero",
        "rgba",
        "zip",
        "half",
        4,
    )
    assert m.spec["output"]["name"] == "hero"
    assert m.version and m.format == FORMAT
    assert m.frames[0].files["person"] == FrameFile(
        "hero_person.1001.exr", m.frames[0].files["person"].sha256
    )
    assert m.frames[0].scores == {"person": 0.9}
    assert m.frames[0].flags == {"car": ["absent"]}


def test_round_trip(tmp_path):
    m = make_manifest(tmp_path)
    path = write_manifest(tmp_path, "hero", m)
    assert path == tmp_path / "hero.manifest.json" == manifest_path(tmp_path, "hero")
    assert load_manifest(path) == m
    assert json.loads(path.read_text())["job_digest"] == m.job_digest


def test_write_to_an_explicit_path(tmp_path):
    m = make_manifest(tmp_path)
    path = write_manifest(tmp_path / "sub" / "x.json", m)
    assert load_manifest(path) == m


def test_checksums_match_the_files(tmp_path):
    from segmatte.server.output.exr import file_sha256

    m = make_manifest(tmp_path)
    for rec in m.frames:
        for f in rec.files.values():
            assert file_sha256(tmp_path / f.path) == f.sha256


def test_add_replaces_and_orders(tmp_path):
    m = make_manifest(tmp_path, frames=(1002,))
    m.add(FrameRecord(number=1001, files={}))
    m.add(FrameRecord(number=1002, files={}, scores={"person": 0.1}))
    assert [f.number for f in m.frames] == [1001, 1002]
    assert m.frame(1002).scores == {"person": 0.1}
    assert m.frame(5) is None


def test_rewrite_is_atomic_and_leaves_no_temporary_file(tmp_path):
    m = make_manifest(tmp_path)
    path = write_manifest(tmp_path, "hero", m)
    m.add(FrameRecord(number=1003, files={}))
    write_manifest(tmp_path, "hero", m)
    assert [f.number for f in load_manifest(path).frames] == [1001, 1002, 1003]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_write_keeps_the_old_manifest(tmp_path):
    m = make_manifest(tmp_path)
    target = tmp_path / "busy.manifest.json"
    target.mkdir()  # the rename onto it fails after the temporary file is written
    with pytest.raises(OSError):
        write_manifest(tmp_path, "busy", m)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    good = write_manifest(tmp_path, "hero", m)
    before = good.read_text()
    m.spec = {"bad": object()}  # cannot be JSON
    with pytest.raises(TypeError):
        write_manifest(tmp_path, "hero", m)
    assert good.read_text() == before


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        load_manifest(tmp_path / "none.manifest.json")


def test_not_json(tmp_path):
    p = tmp_path / "x.manifest.json"
    p.write_text("{oops")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(p)


def test_not_an_object(tmp_path):
    p = tmp_path / "x.manifest.json"
    p.write_text("[1, 2]")
    with pytest.raises(ManifestError, match="not a JSON object"):
        load_manifest(p)


def test_missing_field(tmp_path):
    data = make_manifest(tmp_path).to_json()
    del data["engine"]
    p = tmp_path / "x.manifest.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="'engine'"):
        load_manifest(p)


def test_other_format(tmp_path):
    data = make_manifest(tmp_path).to_json()
    data["format"] = 99
    p = tmp_path / "x.manifest.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="format 99"):
        load_manifest(p)


def test_malformed_frame(tmp_path):
    data = make_manifest(tmp_path).to_json()
    data["frames"][0]["files"] = ["not", "a", "mapping"]
    p = tmp_path / "x.manifest.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="malformed frame"):
        load_manifest(p)
