"""The Blender extension's bpy-free parts, without Blender: prompt gathering, spec
building, option schemas, QC, session bookkeeping, the panel's wording, pulls.

The modules are imported the way the extension sees them: a package with the
vendored ``client`` sub-package (as server/installers/blender.py builds it),
from a temporary folder; nothing here imports bpy.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
BPY_FREE = ("prompts", "specs", "optionschema", "wording", "qc", "session", "pull")


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    pkg = tmp_path_factory.mktemp("ext") / "segmatte_ext"
    (pkg / "client").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name in BPY_FREE:
        shutil.copy(ROOT / "plugin" / "blender" / f"{name}.py", pkg / f"{name}.py")
    for path in (ROOT / "plugin" / "client").glob("*.py"):
        shutil.copy(path, pkg / "client" / path.name)
    sys.path.insert(0, str(pkg.parent))
    try:
        yield SimpleNamespace(**{n: importlib.import_module(f"segmatte_ext.{n}") for n in BPY_FREE},
                              jobspec=importlib.import_module("segmatte_ext.client.jobspec"),
                              manifest=importlib.import_module("segmatte_ext.client.manifest"))
    finally:
        sys.path.remove(str(pkg.parent))
        for name in [m for m in sys.modules if m.startswith("segmatte_ext")]:
            del sys.modules[name]


# --- stand-ins for the Blender data the gatherers read (plain attribute holders) ---------

def ns(**kw):
    return SimpleNamespace(**kw)


class Source:
    """A clip whose scene frame f shows source frame f + shift (clip_start 1)."""

    clip_start = 1

    def __init__(self, shift: int) -> None:
        self.shift = shift

    def to_source(self, f: int) -> int:
        return f + self.shift


def marker(frame, co, mute=False, keyed=True):
    return ns(frame=frame, co=co, mute=mute, is_keyed=keyed)


def clip_with(tracks):
    return ns(tracking=ns(objects=[ns(tracks=tracks)]))


def test_markers_on_every_frame_of_the_range_become_keyframes(ext):
    tracks = [ns(name="hero", hide=False, markers=[marker(2, (0.5, 0.5)), marker(6, (0.25, 0.75)),
                                                  marker(7, (0.1, 0.1), keyed=False),
                                                  marker(20, (0.5, 0.5))]),
              ns(name="-hero", hide=False, markers=[marker(6, (0.9, 0.1))]),
              ns(name="gone", hide=True, markers=[marker(2, (0.5, 0.5))])]
    found = ext.prompts.Prompts(160, 120)
    frames = ext.prompts.Frames(Source(999), range(1, 11), current=2)
    assert ext.prompts.add_markers(found, clip_with(tracks), frames) == 3
    hero = found.objects["hero"]
    assert sorted(hero.frames) == [1001, 1005]  # clip frame 20 is outside; 7 only tracked
    assert hero.frames[1005].points == [ext.jobspec.Point(40.0, 30.0, 1),
                                        ext.jobspec.Point(144.0, 108.0, 0)]
    assert "gone" not in found.objects
    every = ext.prompts.Prompts(160, 120)
    ext.prompts.add_markers(every, clip_with(tracks[:1]), frames, keyed_only=False)
    assert sorted(every.objects["hero"].frames) == [1001, 1005, 1006]


def test_annotations_prompt_on_the_frames_they_are_drawn(ext):
    def layer(name, drawn):
        return ns(info=name, annotation_hide=False, frames=[
            ns(frame_number=f, strokes=[ns(points=[ns(co=c) for c in coords])])
            for f, coords in drawn])

    data = ns(layers=[layer("car", [(2, [(0.5, 0.5)]), (8, [(0.25, 0.5)])]),
                      layer("held", [(1, [(0.75, 0.25)])])])
    found = ext.prompts.Prompts(100, 100)
    frames = ext.prompts.Frames(Source(0), range(3, 10), current=5)
    assert ext.prompts.add_annotations(found, data, frames) == 2
    assert sorted(found.objects["car"].frames) == [8]  # frame 2 is before the range
    # a layer drawn only before the range holds on the current frame
    assert found.objects["held"].frames[5].points == [ext.jobspec.Point(75.0, 75.0, 1)]


def _clicked(ext, obj, frame, *points, box=None):
    return ext.specs.Clicked(obj, frame, [ext.jobspec.Point(*p) for p in points],
                             ext.jobspec.Box(*box) if box else None)


def test_keyframes_on_two_frames_make_one_spec_with_both(ext):
    found = ext.prompts.Prompts(160, 120)
    found.point("hero", 1003, 10, 10, 1, "marker")
    found.box("hero", 1003, 5, 5, 50, 50, "mask")
    clicks = [_clicked(ext, "hero", 1007, (80, 60, 1), (20, 20, 0)),
              _clicked(ext, "hero", 1003, (12, 12, 1), box=(0, 0, 40, 40)),
              _clicked(ext, "prop", 1005, (1, 1, 1)), _clicked(ext, "empty", 1004)]
    objects = ext.specs.objects_of(found, clicks)
    assert [o.id for o in objects] == ["hero", "prop"]
    out = ext.jobspec.Output(folder="/tmp/m", name="shot")
    req = ext.specs.Request(source="/s/plate.####.exr", size=(160, 120), first=1001, last=1010,
                            engine="track", direction="both", output=out,
                            engine_info={"name": "track", "needs_objects": True})
    spec = ext.specs.build(req, objects).to_dict()
    hero = spec["objects"][0]
    assert [k["frame"] for k in hero["keyframes"]] == [1003, 1007]
    k3 = hero["keyframes"][0]
    assert k3["boxes"] == [{"x0": 0.0, "y0": 0.0, "x1": 40.0, "y1": 40.0}]  # one box: the click's
    assert k3["points"] == [{"x": 12.0, "y": 12.0, "label": 1}, {"x": 10.0, "y": 10.0, "label": 1}]
    assert hero["keyframes"][1]["points"][1]["label"] == 0
    assert spec["range"] == {"first": 1001, "last": 1010} and spec["direction"] == "both"
    only = ext.specs.objects_of(found, clicks, only={"prop"})
    assert [o.id for o in only] == ["prop"]


def test_spec_refusals_are_sentences_for_the_panel(ext):
    out = ext.jobspec.Output(folder="/tmp/m")
    req = ext.specs.Request(source="/s/a.mov", size=(160, 120), first=0, last=9, engine="track",
                            direction="forward", output=out, engine_info={"needs_objects": True})
    with pytest.raises(ext.jobspec.SpecError, match="needs prompts: click on the clip"):
        ext.specs.build(req, [])
    outside = ext.specs.objects_of(None, [_clicked(ext, "hero", 4, (500, 10, 1))])
    with pytest.raises(ext.jobspec.SpecError, match="outside the 160x120 picture"):
        ext.specs.build(req, outside)
    late = ext.specs.objects_of(None, [_clicked(ext, "hero", 40, (5, 5, 1))])
    with pytest.raises(ext.jobspec.SpecError, match="frame 40 is outside the range 0-9"):
        ext.specs.build(req, late)
    key = ext.specs.Request(**{**req.__dict__, "engine": "key", "engine_info": {}})
    assert "objects" not in ext.specs.build(key, late).to_dict()  # the key engine takes none


TRACK_SCHEMA = {"type": "object", "properties": {
    "model": {"type": "string", "default": "sam2.1-tiny"},
    "dtype": {"type": "string", "enum": ["float32", "bfloat16"], "default": "float32",
              "title": "Dtype"},
    "mask_threshold": {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1},
                                 {"type": "null"}], "default": None, "title": "Mask Threshold"},
    "absent_score": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5,
                     "title": "Absent Score"},
    "max_feature_cache": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1,
                          "title": "Max Feature Cache"},
    "torch_compile": {"type": "boolean", "default": False, "title": "Torch Compile"}}}


def test_option_widgets_and_checks_come_from_the_schema(ext):
    fields = ext.optionschema.fields_of(TRACK_SCHEMA)
    kinds = {f.key: (f.kind, f.nullable, f.minimum, f.maximum) for f in fields}
    assert kinds == {"dtype": ("enum", False, None, None), "mask_threshold": ("float", True, 0, 1),
                     "absent_score": ("float", False, 0, 1),
                     "max_feature_cache": ("int", False, 1, 64),
                     "torch_compile": ("bool", False, None, None)}  # model: its own field
    check = ext.optionschema.check
    assert check(fields, {"dtype": "float32", "absent_score": 0.3, "mask_threshold": None}) == \
        {"absent_score": 0.3}  # only what differs from the defaults is sent
    bad = [({"dtype": "int8"}, "Dtype must be one of float32, bfloat16"),
           ({"absent_score": 1.5}, "Absent Score must lie between 0 and 1"),
           ({"max_feature_cache": 2.5}, "Max Feature Cache must be a whole number"),
           ({"torch_compile": 1}, "Torch Compile is on or off"),
           ({"dtype": None}, "Dtype needs a value"), ({"nope": 1}, "no option 'nope'")]
    for values, message in bad:
        with pytest.raises(ext.jobspec.SpecError, match=message):
            check(fields, values)


def test_server_messages_name_the_panels_controls(ext):
    said = ext.wording.for_panel(
        "/m/a.0001.exr was written by a different segmatte job (other settings); pass "
        "--overwrite to replace it, or choose another folder or --name")
    assert "--" not in said and "turn on Overwrite" in said and "Output Name" in said
    pulled = ext.wording.for_panel("model sam2.1-tiny is not pulled: run `segmatte models pull "
                                   "sam2.1-tiny`")
    assert "the Pull button next to the model sam2.1-tiny" in pulled and "`" not in pulled


def _manifest(tmp_path, frames):
    folder = tmp_path / "m"
    folder.mkdir()
    records = []
    for n, score in frames:
        (folder / f"hero.{n:04d}.exr").write_bytes(b"x")
        rec = {"number": n, "files": {"hero": {"path": f"hero.{n:04d}.exr", "sha256": "0"}},
               "scores": {"hero": score}}
        if score < 0.1:
            rec["flags"] = {"hero": ["empty"]}
        records.append(rec)
    path = folder / "hero.manifest.json"
    path.write_text(json.dumps({"engine": "track", "layers": ["hero"], "frames": records}))
    return path


def test_qc_lists_low_scores_and_vanished_objects(ext, tmp_path):
    info = ext.manifest.read_manifest(str(_manifest(
        tmp_path, [(10, 0.9), (11, 0.45), (12, 0.05), (13, 0.8)])))
    doubts = ext.qc.doubts(info, 0.5)
    assert [(d.frame, d.empty) for d in doubts] == [(11, False), (12, True)]
    assert doubts[0].text == "hero: score 0.45" and doubts[1].text == "hero: empty"
    assert [d.frame for d in ext.qc.doubts(info, 0.85)] == [11, 12, 13]


def test_session_overlay_shows_the_newer_of_preview_and_matte(ext):
    s = ext.session.SessionWatch(clip="c", scene="S", source="/a.mov", shift=-1,
                                 output={"name": "shot"})
    s.preview("hero", 5, "/p/preview_hero.0005.exr", 0.9)
    assert s.path_at("hero", 5) == "/p/preview_hero.0005.exr" and s.correction is None
    s.propagated = True
    s.written(5, ["/out/shot.0005.exr"])  # one object: the file is its
    s.written(6, ["/out/shot.0006.exr"])
    assert s.path_at("hero", 5) == "/out/shot.0005.exr"
    s.preview("hero", 6, "/p/preview_hero.0006.exr", 0.4)  # a fix on a tracked frame
    assert s.path_at("hero", 6) == "/p/preview_hero.0006.exr" and s.correction == 6
    s.preview("prop", 2, "/p/preview_prop.0002.exr", 0.7)
    s.written(2, ["/out/shot_hero.0002.exr", "/out/shot_prop.0002.exr"])
    assert s.path_at("prop", 2) == "/out/shot_prop.0002.exr"
    assert s.path_at("hero", 2) == "/out/shot_hero.0002.exr"
    assert s.keyframes() == {"hero": [5, 6], "prop": [2]}


def test_text_session_instances_are_objects_and_the_union_is_no_ones(ext):
    s = ext.session.SessionWatch(clip="c", scene="S", source="/a.mov", shift=0,
                                 engine="text", output={"name": "shot"})
    ids = s.found("disc", 5, "green disc", [
        {"object": "disc_1", "path": "/p/preview_disc_1.0005.exr", "score": 0.9}])
    assert ids == ["disc_1"] and s.objects == ["disc_1"] and s.prompted == [("disc", 5)]
    assert s.path_at("disc_1", 5) == "/p/preview_disc_1.0005.exr"
    assert s.instance_label("disc_1") == "disc" and s.instance_label("hero") is None
    s.written(5, ["/out/shot_disc_1.0005.exr", "/out/shot_disc.0005.exr"])  # layer, union
    assert s.path_at("disc_1", 5) == "/out/shot_disc_1.0005.exr"
    assert ("disc", 5) not in s.mattes
    assert s.found("person", 2, "person", []) == [] and s.instances["person"] == []


def test_preview_size_is_the_clips_size_on_screen_never_above_source(ext):
    size = ext.session.preview_size
    assert size((0.0, 0.0), 1920, 1080) is None  # nothing drawn yet: source size
    assert size((959.2, 540.0), 1920, 1080) == 960  # the long side on screen, rounded up
    assert size((540.0, 960.0), 1080, 1920) == 960  # portrait: the long side is the height
    assert size((1920.0, 1080.0), 1920, 1080) is None  # at source size or zoomed in
    assert size((4000.0, 2250.0), 1920, 1080) is None
    assert size((20.0, 11.0), 1920, 1080) == ext.session.PREVIEW_MIN  # a thumbnail
    s = ext.session.SessionWatch(clip="c", scene="S", source="/a.mov", shift=0,
                                 width=1920, height=1080)
    s.display = (480.0, 270.0)
    assert s.preview_size == 480


def test_pull_command_and_progress(ext):
    assert ext.pull.pull_command("/opt/seg/bin/segmatte serve --port 6000", "sam2.1-tiny",
                                 False) == ["/opt/seg/bin/segmatte", "models", "pull",
                                            "sam2.1-tiny"]
    assert ext.pull.pull_command("python -m segmatte.server.cli serve", "x", True)[-4:] == \
        ["models", "pull", "x", "--accept-licence"]
    bar = "\x1b[2Kmodel.safetensors \x1b[32m━━━\x1b[0m 12.5/50.0 MB 3 MB/s\r" \
          "model.safetensors 25.0/50.0 MB"
    assert ext.pull.progress_of(bar) == pytest.approx(0.5)
    assert ext.pull.progress_of("nothing yet") is None
    assert ext.pull.last_line("a\rsegmatte: no such model\n") == "segmatte: no such model"
