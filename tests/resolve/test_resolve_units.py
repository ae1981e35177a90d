"""The scripts' pure parts: prompts, spec, source paths, frame arithmetic, matte grouping."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fake_resolve as fr
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugin" / "resolve"))

from segmatte_resolve import fusion_nodes, jobspec, resolve_clip  # noqa: E402

from segmatte.server.spec import parse_spec  # noqa: E402


def test_prompts_parse_and_refuse_with_the_line_number() -> None:
    got = jobspec.parse_prompts("# hero\n+ 10 20\n- 30.5, 40\nbox 1 2 50 60\n\n12 13", (64, 64))
    assert got.points == [{"x": 10.0, "y": 20.0, "label": 1}, {"x": 30.5, "y": 40.0, "label": 0},
                          {"x": 12.0, "y": 13.0, "label": 1}]
    assert got.boxes == [{"x0": 1.0, "y0": 2.0, "x1": 50.0, "y1": 60.0}]
    with pytest.raises(jobspec.PromptError, match="line 2: a box needs"):
        jobspec.parse_prompts("+ 1 1\nbox 50 2 10 60")
    with pytest.raises(jobspec.PromptError, match="line 1: 'click here' is not a prompt"):
        jobspec.parse_prompts("click here")
    assert jobspec.centre_prompt((1920, 1080)) == "+ 960 540"


def test_built_specs_pass_the_servers_validation(tmp_path: Path) -> None:
    prompts = jobspec.parse_prompts("+ 5 5\nbox 1 1 9 9")
    spec = jobspec.build_spec(source="/a/b.mov", first=10, last=20, engine="track",
                              output_folder=str(tmp_path), name="b mov/track", model="tiny",
                              prompts=prompts, keyframe=12, direction="both")
    parsed = parse_spec(json.loads(json.dumps(spec)))
    assert parsed.output.name == "b_mov_track" and parsed.model == "tiny"
    assert parsed.objects[0].keyframes[0].frame == 12
    bare = jobspec.build_spec(source="/a/b.mov", first=0, last=0, engine="key",
                              output_folder=str(tmp_path), name="b")
    assert "objects" not in bare and parse_spec(bare).range.count == 1
    with pytest.raises(ValueError, match="outside the range"):
        jobspec.build_spec(source="s", first=0, last=5, engine="k", output_folder="o", name="n",
                           prompts=prompts, keyframe=9)


@pytest.mark.parametrize("path, expected", [
    ("/s/shot.[1001-1100].exr", ("/s/shot.####.exr", 1001, True)),
    ("/s/shot_[0005-0010].dpx", ("/s/shot_####.dpx", 5, True)),
    ("/s/clip.mov", ("/s/clip.mov", 0, False)),
])
def test_resolve_file_paths(path: str, expected: tuple) -> None:
    src = jobspec.source_from_resolve(path)
    assert (src.path, src.first_number, src.is_sequence) == expected


def test_loader_clip_paths() -> None:
    assert jobspec.source_from_frame_file("/s/plate.0101.exr") == jobspec.Source(
        "/s/plate.####.exr", 101, True)
    assert jobspec.source_from_frame_file("/s/take2.mov") == jobspec.Source("/s/take2.mov")


def test_sequence_item_ranges_accept_both_numberings() -> None:
    """GetSourceStartFrame of a sequence: relative (2) or file-numbered (1003) read the same."""
    src = jobspec.source_from_resolve("/s/gs.[1001-1012].exr")
    item = fr.TimelineItem("gs", None, 0, 5, 2, 1, 12)
    assert resolve_clip.source_range(item, src) == (1003, 1007)
    item.left_offset = 1003
    assert resolve_clip.source_range(item, src) == (1003, 1007)


def test_timecode_and_playhead() -> None:
    assert resolve_clip.timecode_frames("01:00:01:05", 24) == 86400 + 29
    assert resolve_clip.timecode_frames("garbage", 24) is None
    tl = fr.Timeline("t", fps=25, start_frame=90000)
    tl.playhead = 90037
    assert resolve_clip.playhead_record_frame(tl) == 90037
    assert resolve_clip.parse_resolution("3840x2160") == (3840, 2160)
    assert resolve_clip.parse_resolution(None) is None


def test_mattes_group_by_layer_and_read_from_the_manifest(tmp_path: Path) -> None:
    names = [f"hero_{layer}.{n:04d}.exr" for layer in ("a", "b") for n in (7, 8, 9)]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    frames = [{"number": n, "files": {layer: {"path": f"hero_{layer}.{n:04d}.exr", "sha256": ""}
                                      for layer in ("a", "b")}} for n in (7, 8, 9)]
    manifest = tmp_path / "hero.manifest.json"
    manifest.write_text(json.dumps({"frames": frames}))
    seqs = jobspec.sequences_from_manifest(str(manifest))
    assert [(s.layer, s.pattern, s.first, s.last) for s in seqs] == [
        ("a", str(tmp_path / "hero_a.%04d.exr"), 7, 9),
        ("b", str(tmp_path / "hero_b.%04d.exr"), 7, 9)]
    assert jobspec.sequences_from_paths([str(tmp_path / n) for n in names])[1].files[0] == str(
        tmp_path / "hero_b.0007.exr")
    assert jobspec.sequences_from_manifest(str(tmp_path / "missing.json")) == []


def test_loader_range_maps_comp_time_to_source_numbers() -> None:
    """A sequence Loader starting at file 1001, trimmed by 4, placed at comp time 50."""
    comp = fr.Comp(render=(60, 200))
    loader = comp._add("Loader")
    loader.inputs.update({"Clip": "/s/plate.1001.exr", "GlobalIn": 50, "GlobalOut": 69,
                          "ClipTimeStart": 4, "ClipTimeEnd": 23})
    comp.CurrentTime = 0  # before the render range: the prompt frame is clamped
    src = fusion_nodes.read_loader(comp, loader)
    assert (src.first, src.last, src.comp_start, src.keyframe) == (1015, 1024, 60, 1015)
    assert src.source.path == "/s/plate.####.exr"
    comp.render = (100, 120)
    with pytest.raises(fusion_nodes.FusionError, match="not in the render range"):
        fusion_nodes.read_loader(comp, loader)


def test_nothing_selected_in_fusion() -> None:
    comp = fr.Comp()
    comp._add("Background").selected = True
    with pytest.raises(fusion_nodes.FusionError, match="select a Loader or MediaIn"):
        fusion_nodes.selected_source(comp)


def test_every_host_call_the_scripts_make_is_in_the_fake_and_its_citations() -> None:
    """The scripts call nothing the fake (and so the README) does not have."""
    import re

    root = Path(__file__).resolve().parents[2] / "plugin" / "resolve"
    modules = {"queue", "threading", "logging", "jobspec", "fusion_nodes", "resolve_clip",
               "attach", "job", "json", "os", "re", "sys", "subprocess"}
    called = set()
    for path in root.rglob("*.py"):
        for receiver, name in re.findall(r"(\w+)\.([A-Z][A-Za-z]+)\(", path.read_text()):
            if receiver not in modules:
                called.add(name)
        called |= set(re.findall(r"\)\.([A-Z][A-Za-z]+)\(", path.read_text()))
        called |= set(re.findall(r"_call\([^,]+, \"([A-Z][A-Za-z]+)\"", path.read_text()))
    called |= {"GetResolve"}  # looked up with getattr() on app / fu
    classes = [getattr(fr, n) for n in dir(fr) if isinstance(getattr(fr, n), type)]
    missing = {name for name in called if not any(hasattr(c, name) for c in classes)}
    assert len(called) > 50 and "GetCurrentVideoItem" in called and "GetConnectedOutput" in called
    assert missing == set()
    uncited = {name for name in called if name not in (fr.__doc__ or "")}
    assert uncited == set()
