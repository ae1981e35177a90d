"""Text prompts and Shapes from the panel, against a real ``segmatte serve``.

Find puts the panel's text on the current source frame into the job, the way
``--text "green disc"@FRAME`` does on the CLI; the text engine (a tiny random
SAM 3 in the server's hub) finds instances ``disc_1…`` and the mattes attach.
Shapes: with "After Job" on, the job writes the Blender shapes beside its mattes
and the Masks are made when it ends; after a job without it, the Shapes button
asks the server for the same job with shapes (every matte is skipped).
"""

from __future__ import annotations

import json
import os

import bpy
import numpy as np
import pytest
from conftest import GREEN_FRAMES, H, W, green_alpha, wait


@pytest.fixture
def green(scene, media):
    clip = bpy.data.movieclips.load(media["green"])  # source frames 0-7 on scene 1-8
    scene.active_clip = clip
    scene.frame_start, scene.frame_end, scene.frame_current = 1, GREEN_FRAMES, 4
    return clip


def _wait_job(ext, link, before):
    job = wait(ext, lambda: (set(link.jobs) - before) or None, what="the submit reply").pop()
    watch = link.jobs[job]
    wait(ext, lambda: watch.attached, what=f"job {job}")
    assert watch.state == "done", watch.reason
    return watch


def test_find_puts_the_text_on_the_current_source_frame(ext, green, link):
    settings = bpy.context.scene.segmatte
    settings.engine = "key"  # takes no text: Find switches to the text engine
    settings.text_prompt = "green disc"
    assert bpy.ops.segmatte.find_text(target="CLIP") == {"FINISHED"}
    assert settings.engine == "text"
    item = settings.objects["disc"]
    assert [(kf.frame, kf.text) for kf in item.keyframes] == [(3, "green disc")]
    assert item.frames == "3" and item.origins == '"green disc"'
    spec, _, _ = ext.operators.build_job(bpy.context, "CLIP", "BOTH")
    assert spec["engine"] == "text"
    assert spec["objects"] == [{"id": "disc", "keyframes": [{"frame": 3, "text": "green disc"}]}]
    assert "shapes" not in spec


def test_text_on_an_engine_without_text_is_refused_in_the_panel(ext, green, link):
    settings = bpy.context.scene.segmatte
    settings.text_prompt = "green disc"
    bpy.ops.segmatte.find_text(target="CLIP")
    settings.engine = "track"
    with pytest.raises(RuntimeError, match="disc has a text prompt, which the track engine "
                       "cannot take: choose the text engine"):
        bpy.ops.segmatte.track(target="CLIP", direction="BOTH")


def test_empty_text_is_refused(ext, green, link):
    bpy.context.scene.segmatte.text_prompt = "  "
    with pytest.raises(RuntimeError, match="type what to find"):
        bpy.ops.segmatte.find_text(target="CLIP")


def test_text_job_finds_instances_and_attaches_them(ext, green, link):
    settings = bpy.context.scene.segmatte
    settings.text_prompt = "green disc"
    assert bpy.ops.segmatte.find_text(target="CLIP") == {"FINISHED"}
    options = getattr(settings, ext.options_ui.attr("text"))
    options.max_instances = 3
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="BOTH") == {"FINISHED"}
    watch = _wait_job(ext, link, before)
    manifest = json.loads(open(watch.manifest, encoding="utf-8").read())
    assert manifest["layers"][:3] == ["disc_1", "disc_2", "disc_3"]
    assert {f["number"] for f in manifest["frames"]} == set(range(GREEN_FRAMES))
    tree, _ = ext.attach.compositor_tree(bpy.context.scene)
    assert tree.nodes.get("segmatte matte disc_1") is not None, [n.name for n in tree.nodes]


def _check_disc_mask(mask, scene_frame: int, source_frame: int) -> None:
    """The Mask's spline at ``scene_frame`` outlines the disc of ``source_frame``."""
    bpy.context.scene.frame_set(scene_frame)
    layer = mask.layers[0]
    points = layer.splines[0].points
    assert len(points) >= 8
    s = max(W, H)
    xy = np.array([((p.co[0] - 0.5) * s + W / 2, H / 2 - (p.co[1] - 0.5) * s) for p in points])
    alpha = green_alpha(source_frame)
    ys, xs = np.nonzero(alpha > 0.5)
    centre = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
    radius = np.sqrt((alpha > 0.5).sum() / np.pi)
    dist = np.hypot(*(xy - centre).T)
    assert np.abs(dist - radius).max() < 2.0, (dist, radius)


def test_shapes_after_the_job_make_masks(ext, green, link):
    settings = bpy.context.scene.segmatte
    settings.engine, settings.make_shapes = "key", True
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="BOTH") == {"FINISHED"}
    watch = _wait_job(ext, link, before)
    assert os.path.isfile(ext.operators.shapes_file(watch.manifest))
    mask = bpy.data.masks["segmatte matte"]
    assert (mask.frame_start, mask.frame_end) == (1, GREEN_FRAMES)
    assert any("made 1 mask(s): segmatte matte" in text for _, text in watch.messages)
    _check_disc_mask(mask, 2, 1)
    _check_disc_mask(mask, 7, 6)


def test_shapes_button_after_a_job_without_them(ext, green, link):
    settings = bpy.context.scene.segmatte
    settings.engine, settings.make_shapes = "key", False
    settings.overwrite = True  # the folder holds the last test's job
    before = set(link.jobs)
    assert bpy.ops.segmatte.track(target="CLIP", direction="FORWARD") == {"FINISHED"}
    first = _wait_job(ext, link, before)
    shapes = ext.operators.shapes_file(first.manifest)
    if os.path.exists(shapes):
        os.remove(shapes)
    if "segmatte matte" in bpy.data.masks:
        bpy.data.masks.remove(bpy.data.masks["segmatte matte"])
    before = set(link.jobs)
    assert bpy.ops.segmatte.job_shapes() == {"FINISHED"}
    again = _wait_job(ext, link, before)
    assert again.written == 0 and again.skipped == first.written + first.skipped
    assert os.path.isfile(shapes)
    _check_disc_mask(bpy.data.masks["segmatte matte"], 5, 4)
    # pressed again: the shapes are there, the Masks are made at once
    bpy.data.masks.remove(bpy.data.masks["segmatte matte"])
    jobs = set(link.jobs)
    assert bpy.ops.segmatte.job_shapes() == {"FINISHED"}
    assert set(link.jobs) == jobs and "segmatte matte" in bpy.data.masks
