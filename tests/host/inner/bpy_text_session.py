"""Text sessions in the Movie Clip Editor against a real ``segmatte serve`` whose ``sam3`` is
a tiny random SAM 3 of the real transformers classes (tests/tiny_text.py).

Find on the current frame previews every instance (one object and colour each), a click on an
instance refines it, a click on the label is refused, Propagate runs the text job and attaches
its layers; a text that finds nothing says so; Find with a track session open reopens it as a
text session.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest
from bpy_session import _matte, _open, _track, clip, out_folder  # noqa: F401 (fixtures)
from conftest import wait

TEXT = "green disc"
OPTIONS = {"detection_threshold": 0.68, "max_instances": 5, "nms_iou": 1.0}
"""As tests/integration/test_server_text_sessions.py: some of five slots are found."""


def _alpha(path: str) -> np.ndarray:
    return _matte(path)[1]


def _text_scene(ext, scene, options=OPTIONS):
    settings = scene.segmatte
    settings.engine = "text"
    group = ext.options_ui.group(settings, "text")
    assert group is not None, "the text engine's options are not in the panel"
    for key, value in options.items():
        if hasattr(group, f"use_{key}"):
            setattr(group, f"use_{key}", True)
        setattr(group, key, value)
    settings.text_prompt = TEXT
    return settings


def _find(ext, link, session):  # noqa: F811
    before = len(session.prompted)
    assert bpy.ops.segmatte.find_text(target="CLIP") == {"FINISHED"}
    wait(ext, lambda: len(session.prompted) > before or link.notice[1], what="the text preview")
    assert len(session.prompted) > before, link.notice


def test_find_previews_instances_refine_one_and_propagate(ext, scene, clip, link,  # noqa: F811
                                                          out_folder):  # noqa: F811
    settings = _text_scene(ext, scene)
    scene.frame_current = 6  # source frame 5
    session = _open(ext, link)
    assert session.engine == "text" and session.model == "sam3"
    _find(ext, link, session)
    ids = session.instances["disc"]
    assert ids and ids == [f"disc_{n}" for n in range(1, len(ids) + 1)]
    # every instance is an object of the panel, in its own colour, its preview the overlay
    assert all(obj in settings.objects for obj in ids)
    assert len({tuple(settings.objects[obj].color) for obj in ids}) == len(ids)
    for obj in ids:
        assert ext.overlay.shown(obj) == session.previews[(obj, 5)][1]
    assert settings.objects[settings.objects_index].name == "disc_1"  # selected to refine
    # a click on the label itself: refused in one sentence, nothing sent
    settings.objects_index = list(settings.objects).index(settings.objects["disc"])
    with pytest.raises(RuntimeError, match="select one of the instances"):
        bpy.ops.segmatte.click(x=10, y=10)
    # a negative click on disc_1's strongest pixel refines that instance
    before = _alpha(session.previews[("disc_1", 5)][1])
    y, x = np.unravel_index(np.argmax(before), before.shape)
    h, w = before.shape
    sx, sy = (x + 0.5) * session.width / w, (y + 0.5) * session.height / h
    assert bpy.ops.segmatte.click(x=sx, y=sy, negative=True, object="disc_1") == {"FINISHED"}
    wait(ext, lambda: len(session.prompted) > 1 and not link._waiting, what="the refinement")
    assert session.prompted[-1] == ("disc_1", 5), link.notice
    after = _alpha(session.previews[("disc_1", 5)][1])
    assert not np.array_equal(after, before)
    # Find again with the same text on the same frame: nothing new is asked
    sent = len(session.prompted)
    assert bpy.ops.segmatte.find_text(target="CLIP") == {"FINISHED"}
    ext.connection.poll()
    assert len(session.prompted) == sent and not link._waiting
    watch = _track(ext, link, "BOTH")
    name = session.output["name"]
    folder = Path(session.output["folder"])
    for obj in ids:  # one layer per instance on every frame, attached as today
        assert len(list(folder.glob(f"{name}_{obj}.*.exr"))) == 8, sorted(folder.iterdir())
    assert any(session.mattes.get((obj, 0)) for obj in ids)
    assert watch.manifest and Path(watch.manifest).exists()
    link.close_session()


def test_text_that_finds_nothing_says_so(ext, scene, clip, link):  # noqa: F811
    _text_scene(ext, scene, {"detection_threshold": 1.0})
    scene.segmatte.text_prompt = "person"
    session = _open(ext, link)
    _find(ext, link, session)
    assert session.instances == {"person": []}
    ext.connection.poll()
    status = bpy.context.window_manager.segmatte
    assert "'person' found nothing on frame 2" in status.notice, status.notice
    link.close_session()


def test_find_with_a_track_session_open_reopens_it_as_text(ext, scene, clip, link):  # noqa: F811
    _text_scene(ext, scene)
    scene.segmatte.engine = "track"
    scene.frame_current = 6
    track = _open(ext, link)
    assert track.engine == "track"
    assert bpy.ops.segmatte.find_text(target="CLIP") == {"FINISHED"}
    session = wait(ext, lambda: link.session if link.session is not track and
                   link.session.state != "opening" else None, timeout=240, what="the reopen")
    assert session.engine == "text" and scene.segmatte.engine == "text"
    wait(ext, lambda: session.instances or link.notice[1], what="the text preview")
    assert session.instances.get("disc"), link.notice
    link.close_session()
