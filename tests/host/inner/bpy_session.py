"""The roto loop in the Movie Clip Editor against a real ``segmatte serve`` whose
``sam2.1-tiny`` is a tiny random SAM 2 of the real transformers classes.

Open a session, click (the operator with coordinates, as the Prompt tool calls
it), see the preview as the overlay image, undo the click, propagate, follow
the playhead, fix a later frame and re-track only from there, QC marks from
the manifest's scores; refusals shown in the panel; options from the schema.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import bpy
import pytest
from conftest import EXT, GREEN_FRAMES, WORK, H, W, wait


@pytest.fixture(autouse=True)
def out_folder(ext, request):
    """Each test's mattes in a folder of their own (the preferences are restored after)."""
    prefs = bpy.context.preferences.addons[EXT].preferences
    saved = prefs.output_folder
    prefs.output_folder = str(WORK / request.node.name)
    yield WORK / request.node.name
    prefs.output_folder = saved


@pytest.fixture
def clip(scene, media):
    clip = bpy.data.movieclips.load(media["green"])  # source frames 0-7 at scene 1-8
    scene.active_clip = clip
    scene.frame_start, scene.frame_end, scene.frame_current = 1, GREEN_FRAMES, 3
    scene.segmatte.engine = "track"
    return clip


def _open(ext, link):
    assert bpy.ops.segmatte.session_start() == {"FINISHED"}
    session = wait(ext, lambda: link.session if link.session.state != "opening" else None,
                   timeout=240, what="the session to open")
    assert session.state == "open", link.notice
    return session


def _stats(folder: Path, name: str) -> dict[int, tuple[int, int]]:
    """Frame → (inode, mtime_ns): a rewrite (temp file + rename) changes the inode."""
    out = {}
    for p in folder.glob(f"{name}.*.exr"):
        st = p.stat()
        out[int(p.name.split(".")[1])] = (st.st_ino, st.st_mtime_ns)
    return out


def _track(ext, link, direction):
    before = set(link.jobs)
    assert bpy.ops.segmatte.propagate(direction=direction) == {"FINISHED"}
    job = wait(ext, lambda: (set(link.jobs) - before) or link.notice[1] or None,
               what="the propagate reply")
    assert isinstance(job, set), job  # else: the refusal
    job = job.pop()
    watch = link.jobs[job]
    wait(ext, lambda: watch.attached, timeout=240, what=f"propagation {job}")
    assert watch.state == "done", (watch.reason, link.notice)
    return watch


def test_roto_loop_click_preview_undo_track_fix_qc(ext, scene, clip, link, ext_screenshot):
    settings = scene.segmatte
    session = _open(ext, link)
    assert (session.width, session.height, session.first, session.last) == (W, H, 0, 7)
    assert ext.overlay.handlers() == 2  # overlay and timeline marks in the clip editor

    # a click on scene frame 3 (source 2): the preview EXR becomes the overlay image
    assert bpy.ops.segmatte.click(x=52.0, y=60.0, object="hero") == {"FINISHED"}
    wait(ext, lambda: ("hero", 2) in session.previews, what="the preview")
    path = session.previews[("hero", 2)][1]
    assert os.path.basename(path) == "preview_hero.0002.exr"
    image = bpy.data.images[ext.overlay.image_name("hero")]
    assert tuple(image.size) == (W, H) and ext.overlay.shown("hero") == path
    hero = settings.objects["hero"]
    assert [(kf.frame, [(p.x, p.y, p.label) for p in kf.points]) for kf in hero.keyframes] == \
        [(2, [(52.0, 60.0, 1)])]

    # a second (negative) click, then Blender's undo (Ctrl+Z): the frame's remaining
    # prompts are sent again (the undo handler), without the undone click
    bpy.ops.ed.undo_push(message="before the negative click")
    assert bpy.ops.segmatte.click(x=150.0, y=10.0, negative=True) == {"FINISHED"}
    bpy.ops.ed.undo_push(message="Prompt")  # what the UI does after an UNDO operator
    wait(ext, lambda: not link._waiting, what="the second preview")
    assert [p.label for p in settings.objects["hero"].keyframes[0].points] == [1, 0]
    sent_two = session.sent[("hero", 2)]
    assert bpy.ops.ed.undo() == {"FINISHED"}
    wait(ext, lambda: not link._waiting, what="the resent prompt")
    scene, settings = bpy.context.scene, bpy.context.scene.segmatte  # undo reloads the data
    hero = settings.objects["hero"]
    assert [p.label for p in hero.keyframes[0].points] == [1]
    one = repr(sorted(ext.ops_session._prompt_fields(hero.keyframes[0]).items()))
    assert session.sent[("hero", 2)] == one != sent_two
    # the Prompt tool's own Ctrl+Z: the last click of the active object on this frame
    assert bpy.ops.segmatte.click(x=150.0, y=10.0, negative=True) == {"FINISHED"}
    wait(ext, lambda: not link._waiting, what="the third preview")
    assert bpy.ops.segmatte.undo_click() == {"FINISHED"}
    wait(ext, lambda: not link._waiting, what="the resent prompt")
    assert [p.label for p in hero.keyframes[0].points] == [1]
    assert session.sent[("hero", 2)] == one
    clip = scene.active_clip
    ext_screenshot(scene, clip, "hero")

    # track both ways: frames stream in, the overlay follows the playhead
    settings.refine_edges = True  # the panel's Refine Edges: --refine guided on the propagation
    watch = _track(ext, link, "BOTH")
    folder = Path(watch.manifest).parent
    name = session.output["name"]
    assert sorted(watch.frames) == sorted(watch.rewritten) == list(range(0, 8))
    scene.frame_set(7)  # source 6
    assert ext.overlay.shown("hero") == str(folder / f"{name}.0006.exr")
    assert [item.name for item in settings.objects] == ["hero"]
    before = _stats(folder, name)
    assert sorted(before) == list(range(8))

    # fix: a click on a tracked later frame, re-track: only from there on is rewritten
    scene.frame_set(6)  # source 5
    assert bpy.ops.segmatte.click(x=100.0, y=40.0) == {"FINISHED"}
    wait(ext, lambda: ("hero", 5) in session.previews and not link._waiting, what="the fix")
    assert session.correction == 5
    assert ext.overlay.shown("hero") == session.previews[("hero", 5)][1]
    again = _track(ext, link, "AUTO")
    after = _stats(folder, name)
    assert sorted(again.rewritten) == [5, 6, 7]
    assert all(after[n] == before[n] for n in range(5))  # untouched
    assert all(after[n][0] != before[n][0] for n in range(5, 8))  # rewritten

    # QC: the manifest's scores below the threshold (or flagged empty) are listed and marked
    data = json.loads(Path(again.manifest).read_text())
    assert data["spec"]["finish"]["refine"] == "guided"  # Refine Edges reached the job
    scores = {f["number"]: f.get("scores", {}).get("hero", 1.0) for f in data["frames"]}
    flagged = {f["number"] for f in data["frames"] if "empty" in f.get("flags", {}).get("hero", [])}
    threshold = sorted(scores.values())[len(scores) // 2]  # about half the frames are doubtful
    settings.qc_threshold = threshold
    ext.operators.update_qc(scene, again.manifest)
    expected = sorted({n for n, s in scores.items() if s < threshold} | flagged)
    assert expected and [d.frame for d in settings.doubts] == expected
    assert [d.scene_frame for d in settings.doubts] == [n + 1 for n in expected]
    assert bpy.ops.segmatte.jump(frame=settings.doubts[0].scene_frame) == {"FINISHED"}
    assert scene.frame_current == expected[0] + 1

    assert bpy.ops.segmatte.session_stop() == {"FINISHED"}
    assert link.session is None


def test_start_session_sends_the_prompts_of_every_frame(ext, scene, clip, link):
    tracks = clip.tracking.objects.active.tracks
    tracks.new(name="car", frame=2).markers.find_frame(2, exact=True).co = (0.3, 0.5)
    tracks.new(name="car.b", frame=6).markers.find_frame(6, exact=True).co = (0.6, 0.4)
    session = _open(ext, link)
    wait(ext, lambda: len(session.previews) == 2 and not link._waiting, what="the previews")
    assert sorted(session.previews) == [("car", 1), ("car", 5)]  # source frames of 2 and 6
    assert session.sent[("car", 5)] == repr(sorted(
        {"replace": True, "points": [{"x": 96.0, "y": 72.0, "label": 1}]}.items()))
    assert scene.segmatte.objects["car"].frames == "1, 5"
    link.close_session()


class _Shown:
    """The clip editor's view with the 160x120 frame drawn at 80x60 from (10, 20) (zoomed
    out: what the overlay's draw handler sees in a window)."""

    def view_to_region(self, u, v, clip=True):
        return 10 + u * 80, 20 + v * 60


def _matte(path):
    """A preview EXR as Blender loads it for the overlay: (w, h), matte rows top first."""
    import numpy as np

    image = bpy.data.images.load(path, check_existing=False)
    try:
        w, h = image.size
        px = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(image)
    return (w, h), px.reshape(h, w, 4)[::-1, :, 3]


def test_open_embeds_the_playhead_frame_and_previews_come_at_display_size(ext, scene, clip,
                                                                          link):
    """Start Session sends the frame under the playhead (the server embeds it before the
    reply); a click's preview comes at the clip's size on screen and maps onto the clip as
    the source-size one does (the overlay draws either over the clip's frame)."""
    import numpy as np

    sent = []
    real = link.client.request_async
    link.client.request_async = lambda kind, **f: (sent.append((kind, f)), real(kind, **f))[1]
    try:
        scene.frame_set(5)  # source 4
        session = _open(ext, link)
        opens = [f for kind, f in sent if kind == "session.open"]
        assert len(opens) == 1 and opens[0]["frame"] == 4 == session.frame
        # nothing drawn yet (headless): the preview at source size
        assert bpy.ops.segmatte.click(x=60.0, y=50.0, object="hero") == {"FINISHED"}
        wait(ext, lambda: ("hero", 4) in session.previews and not link._waiting,
             what="the source-size preview")
        full_size, full = _matte(session.previews[("hero", 4)][1])
        assert full_size == (W, H) and "preview_size" not in sent[-1][1]
        # the draw handler saw the clip at 80x60: the next click's preview is that size
        ext.overlay.note_display(session, SimpleNamespace(view2d=_Shown()))
        assert session.display == (80.0, 60.0)
        link.prompt("hero", 4, lambda reply: None, replace=True,
                    points=[{"x": 60.0, "y": 50.0, "label": 1}])
        wait(ext, lambda: not link._waiting, what="the display-size preview")
        assert sent[-1][0] == "session.prompt" and sent[-1][1]["preview_size"] == 80
        small_size, small = _matte(session.previews[("hero", 4)][1])
        assert small_size == (80, 60)
        # the same matte, half the size: each pixel covers 2x2 source pixels
        assert 0.02 < full.mean() < 0.98, "the tiny model's matte is empty or full"
        pooled = full.reshape(60, 2, 80, 2).mean(axis=(1, 3))
        assert np.abs(pooled - small).mean() < 0.05
        yy, xx = np.mgrid[0:60, 0:80]
        centre = [(a * small).sum() / small.sum() for a in (xx, yy)]
        yy, xx = np.mgrid[0:H, 0:W]
        source_centre = [((a + 0.5) * full).sum() / full.sum() / 2 - 0.5 for a in (xx, yy)]
        assert np.abs(np.subtract(centre, source_centre)).max() < 0.5  # under a preview pixel
        ext.overlay.refresh(scene)
        assert tuple(bpy.data.images[ext.overlay.image_name("hero")].size) == (80, 60)
    finally:
        link.client.request_async = real
        link.close_session()


class _View2D:
    """The clip editor's view: the frame spans 0-1 of view space; here the frame fills a
    320x240 region from (0, 0), as a zoom of 2 at the origin draws it."""

    def region_to_view(self, x, y):
        return x / 320, y / 240


class _Region:
    width, height, view2d = 320, 240, _View2D()


def _event(kind, value, x, y, ctrl=False, shift=False):
    return SimpleNamespace(type=kind, value=value, mouse_region_x=x, mouse_region_y=y,
                           ctrl=ctrl, shift=shift, oskey=False)


def test_prompt_tool_turns_mouse_events_into_prompts(ext, scene, clip, link):
    """The modal tool's event handling (a window's region stands in: headless Blender has
    none): a click is a point, Ctrl+click a negative one, a drag a box, Ctrl+Z an undo."""
    session = _open(ext, link)
    tool = ext.ops_session.SEGMATTE_OT_prompt_tool
    me = SimpleNamespace(_press=None, _end=lambda context: {"FINISHED"})
    ctx = SimpleNamespace(region=_Region())

    def do(*events):
        for e in events:
            got = tool.modal(me, ctx, e)
        wait(ext, lambda: not link._waiting, what="the tool's prompts")
        return got

    assert do(_event("LEFTMOUSE", "PRESS", 80, 120), _event("LEFTMOUSE", "RELEASE", 81, 120)) \
        == {"RUNNING_MODAL"}
    hero = scene.segmatte.objects[scene.segmatte.objects_index]
    kf = hero.keyframes[0]
    assert kf.frame == 2 and [(p.x, p.y, p.label) for p in kf.points] == [(40.0, 60.0, 1)]
    do(_event("LEFTMOUSE", "PRESS", 300, 60, ctrl=True),
       _event("LEFTMOUSE", "RELEASE", 300, 60, ctrl=True))
    assert [(p.x, p.y, p.label) for p in kf.points][1] == (150.0, 90.0, 0)
    do(_event("Z", "PRESS", 0, 0, ctrl=True))  # Ctrl+Z in the tool
    assert len(kf.points) == 1
    do(_event("LEFTMOUSE", "PRESS", 40, 200), _event("MOUSEMOVE", "NOTHING", 100, 150),
       _event("LEFTMOUSE", "RELEASE", 160, 80))
    assert kf.use_box and tuple(kf.box) == (20.0, 20.0, 80.0, 80.0) and not len(kf.points)
    assert "boxes" in session.sent[(hero.name, 2)]
    assert do(_event("MIDDLEMOUSE", "PRESS", 5, 5)) == {"PASS_THROUGH"}  # navigation still works
    assert do(_event("ESC", "PRESS", 5, 5)) == {"FINISHED"}
    link.close_session()


def test_refused_submit_stays_in_the_panel(ext, scene, clip, link):
    settings = scene.segmatte
    status = bpy.context.window_manager.segmatte
    settings.engine, settings.use_compositor = "key", False
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="BOTH") == {"FINISHED"}
    job = wait(ext, lambda: (set(link.jobs) - before) or None, what="the first job").pop()
    wait(ext, lambda: link.jobs[job].attached, what="the first job")
    ext.connection.poll()
    assert status.job_state == "done"
    # a different job (other options) into the same folder: the door refuses it
    group = ext.options_ui.group(settings, "key")
    group.use_tolerance, group.tolerance = True, 0.2  # nullable: its switch turns it on
    assert bpy.ops.segmatte.track(target="CLIP", direction="BOTH") == {"FINISHED"}
    wait(ext, lambda: link.notice[1], what="the refusal")
    ext.connection.poll()
    assert status.notice_level == "ERROR"
    assert "refused" in status.notice and "turn on Overwrite" in status.notice, status.notice
    assert "--overwrite" not in status.notice
    assert status.job_state == "" and status.job == ""  # not the older job's "done"
    settings.overwrite = True
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="BOTH") == {"FINISHED"}
    ext.connection.poll()
    assert status.notice == ""
    job = wait(ext, lambda: (set(link.jobs) - before) or None, what="the overwriting job").pop()
    wait(ext, lambda: link.jobs[job].attached, what="the overwriting job")
    assert link.jobs[job].state == "done"


def test_options_from_the_schema_refuse_a_bad_value(ext, scene, clip, link):
    settings = scene.segmatte
    group = ext.options_ui.group(settings, "track")
    kinds = {f.key: f for f in ext.options_ui.fields("track")}
    assert kinds["dtype"].kind == "enum" and kinds["absent_score"].maximum == 1
    with pytest.raises(TypeError):
        group.dtype = "int8"  # not on the menu
    group.absent_score = 5.0
    assert group.absent_score == 1.0  # the widget's range holds
    group["absent_score"] = 5.0  # a value set around the widget (a script, an old file)
    jobs = set(link.jobs)
    clip.tracking.objects.active.tracks.new(name="hero", frame=3)
    with pytest.raises(RuntimeError, match="Absent Score must lie between 0 and 1"):
        bpy.ops.segmatte.track(target="CLIP", direction="FORWARD")
    assert set(link.jobs) == jobs and "Absent Score" in link.notice[1]
    group.absent_score = 0.25
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "FORWARD")
    assert spec["options"] == {"absent_score": 0.25}


def test_saved_file_stores_matte_paths_relative(ext, scene, media, link, out_folder):
    clip = bpy.data.movieclips.load(media["green"])
    scene.active_clip = clip
    scene.frame_start, scene.frame_end, scene.frame_current = 1, GREEN_FRAMES, 1
    settings = scene.segmatte
    settings.engine, settings.use_compositor, settings.overwrite = "key", True, True
    out = WORK / "project"
    bpy.context.preferences.addons[EXT].preferences.output_folder = str(out / "mattes")
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="FORWARD") == {"FINISHED"}
    job = wait(ext, lambda: (set(link.jobs) - before) or None, what="the job").pop()
    wait(ext, lambda: link.jobs[job].attached, what="the job")
    image = next(i for i in bpy.data.images if i.get("segmatte"))
    assert os.path.isabs(image.filepath)  # unsaved: nothing to be relative to
    blend = out / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert image.filepath == "//mattes/green.0000.exr"
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    image = next(i for i in bpy.data.images if i.get("segmatte"))  # the compositor's
    assert image.filepath == "//mattes/green.0000.exr"
    assert tuple(image.size) == (160, 120)


def test_pull_from_the_panel_needs_the_licence_and_says_how_it_went(ext, scene, link):
    prefs = bpy.context.preferences.addons[EXT].preferences
    saved = prefs.autostart_command
    python = os.environ["SEGMATTE_HOST_SERVER_PYTHON"]
    prefs.autostart_command = f"{python} -m segmatte.server.cli serve"
    status = bpy.context.window_manager.segmatte
    try:
        with pytest.raises(RuntimeError, match="needs the licence accepted"):
            bpy.ops.segmatte.pull_model(model="sam2.1-tiny", accept=False)
        # a name the catalog does not know: the command's own sentence comes back
        assert bpy.ops.segmatte.pull_model(model="no-such-model", accept=True) == {"FINISHED"}
        pulling = ext.ops_session.pulls["no-such-model"]
        assert pulling.command[-3:] == ["models", "pull", "no-such-model"]
        wait(ext, lambda: not ext.ops_session.poll_pulls(), what="the pull to end")
        assert pulling.state == "failed"
        assert status.pull.startswith("pulling no-such-model failed: ")
        assert "no-such-model" in status.pull[len("pulling no-such-model failed: "):]
        assert link.notice == ("ERROR", status.pull)
    finally:
        prefs.autostart_command = saved
