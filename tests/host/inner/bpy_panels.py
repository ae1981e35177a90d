"""The panels' draw code in every state the roto loop goes through.

Headless Blender has no window to draw in, so the panels draw into a layout
that checks each call the way Blender's would: the property exists on the
data, the operator is registered and the properties set on it are its own,
the icon is one of Blender's. A typo in a panel would otherwise only show as
an empty sidebar in a real Blender.
"""

from __future__ import annotations

import bpy
import pytest
from conftest import GREEN_FRAMES

ICONS = {i.identifier for i in
         bpy.types.UILayout.bl_rna.functions["prop"].parameters["icon"].enum_items}


class Op:
    def __init__(self, idname: str) -> None:
        group, name = idname.split(".")
        op = getattr(getattr(bpy.ops, group), name)
        object.__setattr__(self, "_props", {p.identifier for p in op.get_rna_type().properties})
        object.__setattr__(self, "idname", idname)

    def __setattr__(self, key, value):
        assert key in self._props, f"{self.idname} has no property {key}"


class Layout:
    """Records what a panel draws; asserts what Blender would refuse."""

    def __init__(self, said: list) -> None:
        self.said = said
        self.enabled = self.active = True
        self.use_property_split = False

    def _icon(self, icon):
        assert icon in ICONS, f"no icon {icon}"

    def box(self):
        return Layout(self.said)

    row = column = split = box

    def row(self, **kw):  # noqa: F811 (align=, heading=)
        return Layout(self.said)

    def column(self, **kw):  # noqa: F811
        return Layout(self.said)

    def label(self, text="", icon="NONE"):
        self._icon(icon)
        self.said.append(("label", text))

    def operator(self, idname, text="", icon="NONE"):
        self._icon(icon)
        self.said.append(("operator", idname))
        return Op(idname)

    def prop(self, data, name, text=None, icon="NONE", **kw):
        self._icon(icon)
        assert name in data.bl_rna.properties, f"{data} has no property {name}"
        self.said.append(("prop", name))

    def template_list(self, listtype, list_id, data, prop, active_data, active_prop, **kw):
        assert listtype in dir(bpy.types), listtype
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.said.append(("list", prop))

    def progress(self, factor=0.0, text=""):
        self.said.append(("progress", text))


class Context:
    def __init__(self, clip):
        self.scene = bpy.context.scene
        self.window_manager = bpy.context.window_manager
        self.space_data = type("Space", (), {"clip": clip, "view": "CLIP"})()


def _draw(ext, clip, panel="clip"):
    said: list = []
    layout = Layout(said)
    context = Context(clip)
    p = ext.panels
    p.draw_server(layout, context)
    p.draw_engine(layout, context)
    p.draw_prompts(layout, context, "CLIP" if panel == "clip" else "STRIP")
    if panel == "clip":
        p.draw_session(layout, context)
    p.draw_qc(layout, context)
    p.draw_job(layout, context, "CLIP" if panel == "clip" else "STRIP")
    for item in context.scene.segmatte.objects:  # the lists' rows
        p.SEGMATTE_UL_objects.draw_item(None, context, Layout(said), None, item, 0, None, "", 0)
    for item in context.scene.segmatte.doubts:
        p.SEGMATTE_UL_doubts.draw_item(None, context, Layout(said), None, item, 0, None, "", 0)
    return said


@pytest.fixture
def connected(ext):
    link = ext.connection.link
    if not link.connected:
        assert bpy.ops.segmatte.connect() == {"FINISHED"}
        from conftest import wait
        wait(ext, lambda: link.connected and link.engines, what="connecting")
    return link


def test_panels_draw_in_every_state(ext, scene, media, connected):
    clip = bpy.data.movieclips.load(media["green"])
    scene.active_clip = clip
    scene.frame_start, scene.frame_end = 1, GREEN_FRAMES
    settings = scene.segmatte
    status = bpy.context.window_manager.segmatte
    ext.connection.poll()
    for engine in ("key", "track", "person", "semantic"):
        settings.engine = engine
        said = _draw(ext, clip)
        assert ("operator", "segmatte.session_start") in said
    settings.engine = "track"
    said = _draw(ext, clip)
    opts = {name for kind, name in said if kind == "prop"}
    assert {"dtype", "absent_score", "mask_threshold", "use_mask_threshold"} <= opts
    # a model not pulled: its licence and a Pull button
    connected.engines = [dict(e, models=[dict(m, pulled=False) for m in e.get("models", [])])
                         for e in connected.engines]
    said = _draw(ext, clip)
    assert ("operator", "segmatte.pull_model") in said
    assert any(kind == "label" and "Apache-2.0" in text for kind, text in said), said
    # a session with a fix to re-track, a refusal, doubts, a running job
    session = ext.session.SessionWatch(clip=clip.name, scene=scene.name, source="/x", shift=-1,
                                       state="open", objects=["hero"], propagated=True)
    session.mattes[("hero", 4)] = (1, "/m/a.0004.exr")
    session.preview("hero", 4, "/p/preview.exr", 0.3)
    connected.session = session
    item = settings.objects.add()
    item.name = "hero"
    doubt = settings.doubts.add()
    doubt.frame, doubt.scene_frame, doubt.text = 4, 5, "hero: score 0.30"
    status.notice, status.notice_level = "the server refused the job: " + "word " * 40, "ERROR"
    status.session_state, status.job_state, status.score = "open", "running", 0.3
    settings.channels = "a"
    try:
        said = _draw(ext, clip)
        assert ("operator", "segmatte.prompt_tool") in said
        assert ("operator", "segmatte.propagate") in said
        assert any(kind == "label" and text.startswith("the server refused") for kind, text in said)
        assert ("label", "hero: score 0.30") in said
        assert ("operator", "segmatte.cancel") in said
        said = _draw(ext, clip, panel="strip")
        assert ("label", "Channels A renders alpha 0 on a strip: use RGBA or Y") in said
    finally:
        connected.session = None
        status.notice = status.session_state = status.job_state = ""
        connected.refresh_engines()
