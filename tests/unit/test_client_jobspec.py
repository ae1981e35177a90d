"""The hosts' stdlib spec builder, manifest reader and pattern parser (plugin/client)."""

from __future__ import annotations

import json

import pytest

from segmatte.client import jobspec as J
from segmatte.client import manifest as M
from segmatte.client import patterns as P
from segmatte.server.spec import parse_spec


def _spec(**kw) -> J.JobSpec:
    base = dict(source="/media/shot.mov", first=5, last=29, engine="track",
                output=J.Output(folder="/out", name="hero shot"), size=(640, 360))
    base.update(kw)
    return J.JobSpec(**base)


def test_keyframes_on_two_frames_become_one_object_the_server_accepts():
    spec = _spec(direction="both")
    car = spec.object("car")
    car.add(20, [J.Point(100, 50, 0)])
    car.add(5, [J.Point(10, 20)], [J.Box(0, 0, 64, 64)])
    car.add(20, [J.Point(110, 60)])
    body = spec.to_dict()
    frames = [kf["frame"] for kf in body["objects"][0]["keyframes"]]
    assert frames == [5, 20]
    assert len(body["objects"][0]["keyframes"][1]["points"]) == 2
    assert body["output"]["name"] == "hero_shot"
    parsed = parse_spec(body)  # the server's pydantic door takes the same shape
    assert parsed.objects[0].keyframes[1].points[0].label == 0
    assert parsed.direction == "both"


def test_prompt_outside_picture_or_range_is_refused_naming_it():
    spec = _spec()
    spec.object("car").add(7, [J.Point(700, 10)])
    with pytest.raises(J.SpecError, match=r"\(700, 10\) on frame 7 is outside the 640x360"):
        spec.to_dict()
    spec = _spec()
    spec.object("car").add(40, [J.Point(1, 1)])
    with pytest.raises(J.SpecError, match="frame 40 is outside the range 5-29"):
        spec.to_dict()
    with pytest.raises(J.SpecError, match="object name"):
        J.ObjectPrompts("bad name")
    with pytest.raises(J.SpecError, match="x1 > x0"):
        J.Box(10, 10, 5, 20)


def test_retrack_range_goes_into_the_spec_and_is_checked():
    spec = _spec(retrack=(12, 18))
    spec.object("car").add(5, [J.Point(1, 1)])
    assert spec.to_dict()["retrack"] == {"first": 12, "last": 18}
    with pytest.raises(J.SpecError, match="re-track 2-18"):
        _spec(retrack=(2, 18)).to_dict()


@pytest.mark.parametrize("name, hashes, first", [
    ("/a/shot.[1001-1100].exr", "/a/shot.####.exr", 1001),
    ("/a/shot.%04d.exr", "/a/shot.####.exr", None),
    ("/a/shot_v2.@@@.dpx", "/a/shot_v2.###.dpx", None),
])
def test_patterns(name, hashes, first):
    seq, rng = P.parse_pattern(name)
    assert seq.hashes == hashes
    assert (rng[0] if rng else None) == first


def test_pattern_helpers():
    assert P.hashes_of_file("/x/shot_v2.1001.exr") == "/x/shot_v2.####.exr"
    assert P.file_number("/x/shot_v2.1001.exr") == 1001
    assert P.name_of_file("/x/a.0007.exr").printf == "/x/a.%04d.exr"
    assert P.clip_stem("shot.[1001-1100].exr") == "shot"
    assert P.clip_stem("green.mp4") == "green"
    with pytest.raises(P.PatternError, match="no frame number"):
        P.name_of_file("/x/plate.exr")
    groups = P.group_frame_files(["/o/a.0002.exr", "/o/a.0001.exr", "/o/a_b.0001.exr", "/o/x.txt"])
    assert [(g.stem, g.first, g.last) for g in groups] == [("a", 1, 2), ("a_b", 1, 1)]


def test_manifest_reader_gives_sequences_gaps_and_doubtful_frames(tmp_path):
    frames = []
    for n in (10, 11, 13):
        frames.append({"number": n, "files": {"car": {"path": f"m_car.{n:04d}.exr", "sha256": "x"},
                                              "dog": {"path": f"m_dog.{n:04d}.exr", "sha256": "y"}},
                       "scores": {"car": 0.9 if n != 11 else 0.2, "dog": 0.99},
                       "flags": {"dog": ["empty"]} if n == 13 else {}})
    path = tmp_path / "m.manifest.json"
    path.write_text(json.dumps({"engine": "track", "layers": ["car", "dog"], "channels": "y",
                                "frames": frames}))
    info = M.read_manifest(str(path))
    car = info.sequence("car")
    assert (car.first, car.last, car.gaps) == (10, 13, [12])
    assert car.pattern == str(tmp_path / "m_car.%04d.exr")
    assert car.channels == "y"
    assert info.doubtful() == {11: ["car"], 13: ["dog"]}
    bad = tmp_path / "bad.manifest.json"
    bad.write_text("{")
    with pytest.raises(M.ManifestError, match="cannot read the manifest"):
        M.read_manifest(str(bad))


def test_text_prompts_and_shapes_go_into_the_spec():
    from segmatte.client.jobspec import JobSpec, ObjectPrompts, Output, SpecError, text_label
    from segmatte.models.text.concepts import label_for
    from segmatte.server.spec import parse_spec

    for text in ("red car", "Green Disc!", "a-b c_d", "  "):
        assert text_label(text) == label_for(text)  # the host names objects as the server does
    obj = ObjectPrompts(text_label("red car"))
    obj.add(1004, text="red car")
    spec = JobSpec("/clips/a.mov", 1001, 1010, "text", Output("/out"), objects=[obj],
                   shapes=("fusion", "json"))
    body = spec.to_dict()
    assert body["objects"] == [{"id": "car", "keyframes": [{"frame": 1004, "text": "red car"}]}]
    assert body["shapes"] == ["fusion", "json"]
    parsed = parse_spec(body)
    assert parsed.shapes == ("fusion", "json")
    # shapes are made from the mattes: they are not part of the job's identity
    plain = parse_spec({k: v for k, v in body.items() if k != "shapes"})
    assert parsed.digest() == plain.digest()
    assert parsed.settings_digest() == plain.settings_digest()
    with pytest.raises(SpecError, match="'maya' is not a format"):
        JobSpec("/a.mov", 1, 2, "key", Output("/o"), shapes=("maya",)).to_dict()
    empty = ObjectPrompts("car")
    empty.add(1, text=" ")
    with pytest.raises(SpecError, match="the text prompt on frame 1 is empty"):
        JobSpec("/a.mov", 1, 2, "text", Output("/o"), objects=[empty]).to_dict()
