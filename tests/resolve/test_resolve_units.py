"""The scripts' parts without a server: prompts, rates and timecode, the clip's source frames
under every reading of GetSourceStartFrame, the pages, Fusion frame maths, and the fake itself."""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

import fake_resolve as fr
import pytest
from resolvekit import DURATION, FRAMES, LEFT_OFFSET, Host

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugin" / "resolve"))

from segmatte_resolve import (  # noqa: E402
    fusion_nodes,
    prompts,
    rates,
    resolve_clip,
    roto,
    sources,
)

from segmatte.client.jobspec import JobSpec, Output  # noqa: E402
from segmatte.server.spec import parse_spec  # noqa: E402

FIRST = LEFT_OFFSET
RATES = ["16", "18", "23.976", "24", "25", "29.97", "29.97 DF", "30", "47.952", "48", "50",
         "59.94", "59.94 DF", "60", "72", "95.904", "96", "100", "119.88", "120"]
"""Timeline rates Resolve's project settings offer (README: GetSetting("timelineFrameRate"))."""


def test_prompts_parse_and_refuse_with_the_line_number() -> None:
    got = prompts.parse_prompts("# hero\n+ 10 20\n- 30.5, 40\nbox 1 2 50 60\n\n12 13", (64, 64))
    assert [p.to_dict() for p in got.points] == [
        {"x": 10.0, "y": 20.0, "label": 1}, {"x": 30.5, "y": 40.0, "label": 0},
        {"x": 12.0, "y": 13.0, "label": 1}]
    assert [b.to_dict() for b in got.boxes] == [{"x0": 1.0, "y0": 2.0, "x1": 50.0, "y1": 60.0}]
    assert got.describe() == "3 points, 1 box"
    with pytest.raises(prompts.PromptError, match="line 2: a box needs"):
        prompts.parse_prompts("+ 1 1\nbox 50 2 10 60")
    with pytest.raises(prompts.PromptError, match="line 1: 'click here' is not a prompt"):
        prompts.parse_prompts("click here")
    with pytest.raises(prompts.PromptError, match=r"line 1: \(70, 5\) is outside the 64x48"):
        prompts.parse_prompts("+ 70 5", (64, 48))
    assert prompts.centre_prompt((1920, 1080)) == "+ 960 540"


def test_prompts_on_several_frames_make_one_object_with_keyframes(tmp_path: Path) -> None:
    keys = roto.KeyList("hero")
    keys.set(12, prompts.parse_prompts("+ 5 5"))
    keys.set(15, prompts.parse_prompts("box 1 1 9 9\n- 2 2"))
    keys.set(13, prompts.Prompts())  # an empty frame is no keyframe
    assert keys.lines() == ["frame 12: 1 point", "frame 15: 1 point, 1 box"]
    spec = JobSpec(source="/a/b.mov", first=10, last=20, engine="track",
                   output=Output(str(tmp_path), "b mov/track"), objects=[keys.to_object()],
                   direction="both", size=(64, 48)).to_dict()
    parsed = parse_spec(json.loads(json.dumps(spec)))
    assert parsed.output.name == "b_mov_track"
    assert [k.frame for k in parsed.objects[0].keyframes] == [12, 15]
    assert keys.remove(12) and not keys.remove(12) and keys.lines() == ["frame 15: 1 point, 1 box"]


@pytest.mark.parametrize("path, expected", [
    ("/s/shot.[1001-1100].exr", ("/s/shot.####.exr", 1001, True)),
    ("/s/shot_[0005-0010].dpx", ("/s/shot_####.dpx", 5, True)),
    ("/s/clip.mov", ("/s/clip.mov", 0, False)),
])
def test_resolve_file_paths(path: str, expected: tuple) -> None:
    src = sources.from_resolve(path)
    assert (src.path, src.first_number, src.is_sequence) == expected


def test_loader_clip_paths() -> None:
    assert sources.from_frame_file("/s/plate.0101.exr") == sources.Source("/s/plate.####.exr", 101,
                                                                          True)
    assert sources.from_frame_file("/s/take2.mov") == sources.Source("/s/take2.mov")


# --- rates and timecode -------------------------------------------------------


@pytest.mark.parametrize("text", RATES)
def test_every_timeline_rate_is_read(text: str) -> None:
    rate = rates.parse_rate(text)
    assert rate.nominal == int(round(float(text.split()[0])))
    assert rate.drop == text.endswith("DF")
    assert abs(rate.fps - float(text.split()[0])) < 0.001
    if "." in text and text.split()[0] not in ("23.976", "29.97", "47.952", "59.94", "95.904",
                                                "119.88"):
        pytest.fail(f"{text} is not an x/1.001 rate")


def test_bad_rates_say_so() -> None:
    with pytest.raises(rates.RateError, match="not a number of frames"):
        rates.parse_rate("")
    with pytest.raises(rates.RateError, match="29.97 and 59.94 only"):
        rates.parse_rate("25 DF")


@pytest.mark.parametrize("text", ["29.97 DF", "59.94 DF", "29.97", "23.976", "25", "119.88"])
def test_timecode_counts_like_the_fakes_label_enumeration(text: str) -> None:
    """Frames ↔ labels agree with the fake's independent minute-by-minute counting,
    across minute and ten-minute boundaries (where drop-frame skips labels)."""
    rate = rates.parse_rate(text)
    _, nominal, drop = fr._rate(text)
    for n in [0, 1, 1799, 1800, 1801, 17981, 17982, 17983, 107892, 3599 * nominal, 215784]:
        label = fr._label(n, nominal, drop)
        assert rates.frames_to_timecode(n, rate) == label
        assert rates.timecode_to_frames(label, rate) == n


def test_drop_frame_counting_is_not_non_drop() -> None:
    df = rates.parse_rate("29.97 DF")
    assert rates.timecode_to_frames("01:00:00;00", df) == 107892  # 108000 non-drop
    assert rates.timecode_to_frames("00:01:00;02", df) == 1800
    with pytest.raises(rates.RateError, match="does not exist in drop-frame"):
        rates.timecode_to_frames("00:01:00;01", df)
    # a ';' timecode on a timeline whose rate text says no DF is counted drop-frame
    assert rates.is_drop_timecode("00:01:00;02") and not rates.is_drop_timecode("00:01:00:02")


@pytest.mark.parametrize("rate", RATES)
def test_prompt_frame_follows_the_playhead_at_every_rate(rate: str, tmp_path: Path) -> None:
    """The item starts just before a minute boundary, so drop-frame labels are skipped
    between its start and the playhead: counted non-drop, the frame would be 2 (4) off."""
    host = Host(str(tmp_path / "c.mov"), rate=rate, playhead_offset=4)
    start = host.timeline.start_frame
    nominal = int(round(float(rate.split()[0])))
    host.item.start = start + 60 * nominal - 2
    host.timeline.playhead = host.item.start + 4
    clip = resolve_clip.current_clip(host.resolve)
    assert (clip.first, clip.last, clip.keyframe) == (FIRST, FIRST + DURATION - 1, FIRST + 4)
    assert clip.notes == [] and clip.rate.text == rate


# --- the source frames under every reading --------------------------------------


@pytest.mark.parametrize("reading", fr.readings("source_base"), ids=str, indirect=True)
@pytest.mark.parametrize("left", [0, 2, 7])
def test_sequence_source_frames_under_every_source_start_base(reading, left: int) -> None:
    host = Host("/s/gs.[1001-1012].exr", first=1001)
    host.item.left_offset, host.item.duration = left, 5
    clip = resolve_clip.current_clip(host.resolve)
    assert (clip.first, clip.last) == (1001 + left, 1005 + left)
    assert clip.source.path == "/s/gs.####.exr"
    assert clip.source_base == (1001 if reading.source_base == "clip" else 0)


@pytest.mark.parametrize("reading", fr.readings("source_base"), ids=str, indirect=True)
def test_mixed_rate_item_is_reported_and_counted_in_source_frames(reading) -> None:
    """A 25 fps sequence on a 24 fps timeline: 24 timeline frames show 25 source frames."""
    host = Host("/s/gs.[1001-1100].exr", first=1001, frames=100)
    host.source.props["FPS"] = "25"
    host.item.scale, host.item.left_offset, host.item.duration = 25 / 24, 50, 24
    clip = resolve_clip.current_clip(host.resolve)
    assert clip.mixed_rate and (clip.first, clip.last) == (1051, 1075)
    assert clip.source_base == (1001 if reading.source_base == "clip" else 0)
    assert any("mixed rates: the clip runs at 25.000 fps on a 24 fps timeline" in n
               for n in clip.notes)
    assert not any("frames off the left offset" in n for n in clip.notes)


def test_mixed_rate_source_start_one_frame_low_is_said(monkeypatch) -> None:
    host = Host("/s/gs.[1001-1100].exr", first=1001, frames=100)
    host.source.props["FPS"] = "25"
    host.item.scale, host.item.left_offset, host.item.duration = 25 / 24, 50, 24
    real = fr.TimelineItem.GetSourceStartFrame
    monkeypatch.setattr(fr.TimelineItem, "GetSourceStartFrame", lambda self: real(self) - 1)
    clip = resolve_clip.current_clip(host.resolve)
    assert clip.first == 1050
    assert any("GetSourceStartFrame (49) is -1.0 frames off" in n for n in clip.notes), clip.notes


@pytest.mark.parametrize("reading", fr.readings("append_start", "append_end"), ids=str,
                         indirect=True)
def test_mixed_rate_matte_track_is_retimed_like_its_source(reading, tmp_path: Path) -> None:
    """25 mattes of a 25 fps clip on a 24 fps timeline: the matte clip gets the source's FPS,
    so Resolve retimes it the same way and it covers the item's 24 timeline frames."""
    from segmatte_resolve import attach

    from segmatte.client.manifest import MatteSequence

    host = Host("/s/gs.[1001-1100].exr", first=1001, frames=100)
    host.source.props["FPS"] = "25"
    host.item.scale, host.item.left_offset, host.item.duration = 25 / 24, 50, 24
    clip = resolve_clip.current_clip(host.resolve)
    files = {}
    for n in range(clip.first, clip.last + 1):
        files[n] = str(tmp_path / f"gs_track.{n:04d}.exr")
        Path(files[n]).write_bytes(b"")
    assert attach.attach(clip, [MatteSequence("gs_track", files)], "track") == [
        "gs_track: on a new track above gs.[1001-1100].exr"]
    (placed,) = host.timeline.tracks[1]
    assert (placed.start, placed.duration, placed.left_offset) == (host.item.start, 24, 0)
    assert placed.media.props["FPS"] == "25"


def test_no_reading_fits_leaves_nothing_and_names_what_differed(tmp_path: Path,
                                                                monkeypatch) -> None:
    """A Resolve that shortens every placement by one frame: the track is removed again."""
    from segmatte_resolve import attach

    from segmatte.client.manifest import MatteSequence

    host = Host(str(tmp_path / "c.mov"))
    clip = resolve_clip.current_clip(host.resolve)
    files = {n: str(tmp_path / f"c_key.{n:04d}.exr") for n in range(clip.first, clip.last + 1)}
    for f in files.values():
        Path(f).write_bytes(b"")
    real = fr.MediaPool.AppendToTimeline

    def short(self, infos):
        placed = real(self, infos)
        for item in placed:
            item.duration -= 1
        return placed

    monkeypatch.setattr(fr.MediaPool, "AppendToTimeline", short)
    with pytest.raises(attach.AttachError, match=r"did not place the matte's 6 frames at 86448 "
                       r"under any reading .*0-5: lasts 5 frames \(asked 6\)"):
        attach.attach(clip, [MatteSequence("c_key", files)], "track")
    assert len(host.timeline.tracks) == 1


def test_an_item_past_the_clip_end_is_refused() -> None:
    host = Host("/s/c.mov", frames=FRAMES)
    host.item.left_offset = FRAMES - 2
    with pytest.raises(resolve_clip.ClipError, match="past the clip's 12 frames"):
        resolve_clip.current_clip(host.resolve)


# --- pages ---------------------------------------------------------------------


def test_fusion_page_reads_the_comps_current_time_not_the_timeline_playhead() -> None:
    host = Host("/s/c.mov", page="fusion")
    comp = fr.Comp.clip_comp(DURATION)
    comp.CurrentTime = 4
    clip = resolve_clip.current_clip(host.resolve, fr.Fusion(host.resolve, comp))
    assert clip.keyframe == FIRST + 4 and clip.notes == []
    assert fr.calls("GetCurrentTimecode") == []


@pytest.mark.parametrize("page", ["media", None])
def test_no_playhead_page_says_so_and_uses_the_first_frame(page) -> None:
    host = Host("/s/c.mov", page=page)
    clip = resolve_clip.current_clip(host.resolve)
    assert clip.keyframe == FIRST
    assert clip.notes == [f"the playhead cannot be read on the {page or 'current'} page: "
                          f"prompts go on the first frame ({FIRST})"]
    assert fr.calls("GetCurrentTimecode") == []


# --- Fusion frame maths ----------------------------------------------------------


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


def test_preview_loader_is_one_and_goes_away() -> None:
    comp = fr.Comp.clip_comp(DURATION)
    fusion_nodes.show_preview(comp, "/p/preview_object.0005.exr", 2)
    fusion_nodes.show_preview(comp, "/p/preview_object.0006.exr", 3)
    previews = [t for t in comp.tools if t.name == fusion_nodes.PREVIEW_NAME]
    assert len(previews) == 1 and previews[0].inputs == {
        "Clip": "/p/preview_object.0006.exr", "GlobalIn": 3, "GlobalOut": 3}
    assert fusion_nodes.remove_preview(comp) and not fusion_nodes.remove_preview(comp)
    assert [t.name for t in comp.tools] == ["MediaIn1", "MediaOut1"]


# --- the fake itself ------------------------------------------------------------


def test_every_fake_call_cites_its_documentation_and_nothing_else_exists() -> None:
    classes = [c for c in vars(fr).values() if isinstance(c, type) and issubclass(c, fr.Strict)
               and c is not fr.Strict]
    uncited = []
    for cls in classes:
        for name, member in vars(cls).items():
            if not name[:1].isupper():
                continue
            fn = member.fget if isinstance(member, property) else member
            if inspect.isfunction(fn) and not getattr(fn, "__readme__", None):
                uncited.append(f"{cls.__name__}.{name}")
    assert len(classes) > 15 and uncited == []
    with pytest.raises(fr.Undocumented, match="TimelineItem.GetSourceFrames is not a documented"):
        fr.TimelineItem("x", None, 0, 1, 0, 1, 1).GetSourceFrames()
    with pytest.raises(fr.Undocumented, match="GetFusionCompByIndex"):
        fr.TimelineItem("x", None, 0, 1, 0, 1, 1).GetFusionCompByIndex(1)


def test_every_host_call_the_scripts_make_is_in_the_fake() -> None:
    """The scripts call nothing the fake (and so the documentation) does not have."""
    root = Path(__file__).resolve().parents[2] / "plugin" / "resolve"
    modules = {"queue", "threading", "logging", "fusion_nodes", "resolve_clip", "attach", "job",
               "json", "os", "re", "sys", "subprocess", "rates", "sources", "patterns",
               "prompts", "roto", "diagnose", "struct", "tempfile", "time", "locate"}
    called = set()
    for path in root.rglob("*.py"):
        text = path.read_text()
        for receiver, name in re.findall(r"(\w+)\.([A-Z][A-Za-z]+)\(", text):
            if receiver not in modules:
                called.add(name)
        called |= set(re.findall(r"\)\.([A-Z][A-Za-z]+)\(", text))
        called |= set(re.findall(r"_call\([^,]+, \"([A-Z][A-Za-z]+)\"", text))
        called |= {"Get" + k for k in re.findall(r'"(Start|End|Duration|LeftOffset|'
                                                  r'SourceStartFrame|RightOffset|SourceEndFrame)"',
                                                  text)}
    called |= {"GetResolve"}  # looked up with getattr() on app / fu
    called.discard("Get")  # _call(item, "Get" + key): the keys are added above
    classes = [getattr(fr, n) for n in dir(fr) if isinstance(getattr(fr, n), type)]
    missing = {name for name in called if not any(hasattr(c, name) for c in classes)}
    assert "GetCurrentVideoItem" in called and "GetClipMatteList" in called
    assert missing == set()


def test_preview_size_is_the_comps_long_side_when_smaller_and_the_same_shape() -> None:
    host = Host("/s/c.mov", frames=FRAMES)
    assert resolve_clip.timeline_size(host.timeline) is None  # Resolve says nothing: ""
    host.timeline.resolution = (1920, 1080)
    assert resolve_clip.timeline_size(host.timeline) == (1920, 1080)
    size = resolve_clip.preview_size
    assert size((3840, 2160), (1920, 1080)) == 1920  # a UHD clip on an HD timeline
    assert size((1920, 1080), (1920, 1080)) is None  # same size: the source's own
    assert size((1920, 1080), (3840, 2160)) is None  # never above source size
    assert size((1440, 1080), (1280, 720)) is None  # 4:3 in 16:9: fitted, keep source pixels
    assert size(None, (1920, 1080)) is None and size((1920, 1080), None) is None
