"""Sidebar panels: Movie Clip Editor (Clip view) and Sequencer, tab "segmatte"."""

from __future__ import annotations

import bpy

from .connection import link
from .properties import engine_models


class SEGMATTE_UL_objects(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "use", text="")
        row.label(text=item.name)
        row.label(text=f"+{item.positives} −{item.negatives} ▢{item.boxes}")


def draw_server(layout, context) -> None:
    status = context.window_manager.segmatte
    box = layout.box()
    row = box.row(align=True)
    icons = {"CONNECTED": "CHECKMARK", "CONNECTING": "TIME", "REFUSED": "ERROR"}
    row.label(text=status.connection.title(), icon=icons.get(status.connection, "UNLINKED"))
    if status.connection in ("CONNECTED", "CONNECTING"):
        row.operator("segmatte.disconnect", text="", icon="X")
    else:
        row.operator("segmatte.connect", text="", icon="LINKED")
        row.operator("segmatte.start_server", text="", icon="PLAY")
    if status.detail:
        box.label(text=status.detail)


def draw_job(layout, context, target: str) -> None:
    settings = context.scene.segmatte
    status = context.window_manager.segmatte
    col = layout.column()
    row = col.row(align=True)
    row.prop(settings, "engine")
    row.operator("segmatte.refresh_engines", text="", icon="FILE_REFRESH")
    entry = link.engine(settings.engine)
    if engine_models(entry):
        col.prop(settings, "model")
    col.prop(settings, "options")

    box = layout.box()
    box.label(text="Prompts on this frame")
    row = box.row(align=True)
    if target == "CLIP":
        row.prop(settings, "use_markers", toggle=True)
    row.prop(settings, "use_mask", toggle=True)
    if target == "CLIP":
        row.prop(settings, "use_annotations", toggle=True)
    if settings.use_mask:
        box.prop(settings, "mask")
        box.prop(settings, "mask_as", expand=True)
    box.template_list("SEGMATTE_UL_objects", "", settings, "objects", settings, "objects_index",
                      rows=2)
    box.operator("segmatte.gather", icon="VIEWZOOM").target = target
    box.label(text="Negative: name starts with '-' or 'neg_' (mask layer: Invert)",
              icon="INFO")
    if entry and not entry.get("needs_objects"):
        box.label(text=f"{settings.engine} takes no prompts", icon="INFO")

    col = layout.column()
    row = col.row(align=True)
    running = status.job_state in ("queued", "running", "submitting")
    row.enabled = status.connection == "CONNECTED" and not running
    for direction, icon in (("BACKWARD", "TRACKING_BACKWARDS"), ("BOTH", "ARROW_LEFTRIGHT"),
                            ("FORWARD", "TRACKING_FORWARDS")):
        op = row.operator("segmatte.track", text=direction.title(), icon=icon)
        op.target, op.direction = target, direction
    if status.job_state:
        if running:
            col.progress(factor=status.progress,
                         text=f"{status.done}/{status.total}  {status.fps:.1f} fps")
            col.operator("segmatte.cancel", icon="CANCEL")
        else:
            col.label(text=f"Job {status.job_state}", icon="INFO")
        if status.reason:
            col.label(text=status.reason, icon="ERROR")
        for line in status.messages.splitlines():
            col.label(text=line)
    sub = layout.column(heading="Output")
    sub.prop(settings, "channels")
    sub.prop(settings, "overwrite")
    if target == "CLIP":
        sub.prop(settings, "use_compositor")
    sub.operator("segmatte.attach", icon="IMAGE_DATA")
    sub.operator("segmatte.shapes_mask", text="Shapes", icon="MOD_MASK")


class SEGMATTE_PT_clip(bpy.types.Panel):
    bl_label = "segmatte"
    bl_space_type = "CLIP_EDITOR"
    bl_region_type = "UI"
    bl_category = "segmatte"

    @classmethod
    def poll(cls, context):
        return getattr(context.space_data, "view", "CLIP") == "CLIP"

    def draw(self, context):
        draw_server(self.layout, context)
        if context.space_data.clip is None:
            self.layout.label(text="Open a clip to matte it", icon="INFO")
            return
        draw_job(self.layout, context, "CLIP")


class SEGMATTE_PT_sequencer(bpy.types.Panel):
    bl_label = "segmatte"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "segmatte"

    def draw(self, context):
        draw_server(self.layout, context)
        editor = context.scene.sequence_editor
        strip = editor.active_strip if editor else None
        if strip is None or strip.type not in ("MOVIE", "IMAGE"):
            self.layout.label(text="Select a movie or image strip", icon="INFO")
            return
        draw_job(self.layout, context, "STRIP")


classes = (SEGMATTE_UL_objects, SEGMATTE_PT_clip, SEGMATTE_PT_sequencer)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
