"""Sidebar panels: Movie Clip Editor (Clip view) and Sequencer, tab "segmatte".

Top to bottom the clip panel follows the roto loop: server, engine and its
options (from the server's schema), the objects and their keyframes, the
session (Start, Prompt tool, Track, Re-track), QC, output. Every refusal or
failure the server gave is shown in the box at the top until the next
request, never replaced by an older job's state.
"""

from __future__ import annotations

import bpy

from . import ops_session, options_ui
from .connection import link
from .properties import engine_models


class SEGMATTE_UL_objects(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "use", text="")
        row.prop(item, "color", text="")
        row.label(text=item.name)
        row.label(text=f"+{item.positives} −{item.negatives} ▢{item.boxes}")
        if item.origins.startswith('"'):
            row.label(text=item.origins[:30], icon="SORTALPHA")
        if item.frames:
            row.label(text=f"@ {item.frames}"[:40], icon="KEYFRAME")


class SEGMATTE_UL_doubts(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.operator("segmatte.jump", text=f"{item.scene_frame}", icon="ERROR").frame = \
            item.scene_frame
        row.label(text=item.text)


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
    if status.notice:
        icon = {"ERROR": "ERROR", "WARNING": "ERROR"}.get(status.notice_level, "INFO")
        for i, line in enumerate(_wrap(status.notice, 60)):
            box.label(text=line, icon=icon if i == 0 else "BLANK1")


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return lines + ([line] if line else [])


def draw_engine(layout, context) -> None:
    settings = context.scene.segmatte
    status = context.window_manager.segmatte
    col = layout.column()
    row = col.row(align=True)
    row.prop(settings, "engine")
    row.operator("segmatte.refresh_engines", text="", icon="FILE_REFRESH")
    entry = link.engine(settings.engine)
    if engine_models(entry):
        col.prop(settings, "model")
    models = {m.get("name"): m for m in (entry or {}).get("models") or [] if isinstance(m, dict)}
    wanted = settings.model.strip() or next(iter(models), "")
    info = models.get(wanted)
    if info is not None:
        row = col.row(align=True)
        row.label(text=f"{wanted}: {info.get('licence', '?')}, {info.get('size_mb', '?')} MB",
                  icon="CHECKMARK" if info.get("pulled") else "IMPORT")
        if not info.get("pulled"):
            row.operator("segmatte.pull_model", text="Pull").model = wanted
    if status.pull:
        col.progress(factor=status.pull_progress, text=status.pull)
    options_ui.draw(col, settings, settings.engine)


def draw_prompts(layout, context, target: str) -> None:
    settings = context.scene.segmatte
    box = layout.box()
    box.label(text="Prompts in the range")
    row = box.row(align=True)
    if target == "CLIP":
        row.prop(settings, "use_markers", toggle=True)
    row.prop(settings, "use_mask", toggle=True)
    if target == "CLIP":
        row.prop(settings, "use_annotations", toggle=True)
    if settings.use_mask:
        box.prop(settings, "mask")
        box.prop(settings, "mask_as", expand=True)
    row = box.row()
    row.template_list("SEGMATTE_UL_objects", "", settings, "objects", settings, "objects_index",
                      rows=2)
    side = row.column(align=True)
    side.operator("segmatte.add_object", text="", icon="ADD")
    box.operator("segmatte.gather", icon="VIEWZOOM").target = target
    row = box.row(align=True)
    row.prop(settings, "text_prompt", text="", icon="SORTALPHA")
    row.operator("segmatte.find_text", text="Find", icon="VIEWZOOM").target = target
    entry = link.engine(settings.engine)
    if entry and not entry.get("needs_objects"):
        box.label(text=f"{settings.engine} takes no prompts", icon="INFO")


def draw_session(layout, context) -> None:
    settings = context.scene.segmatte
    status = context.window_manager.segmatte
    box = layout.box()
    row = box.row(align=True)
    row.label(text="Session" + (f": {status.session_state}" if status.session_state else ""),
              icon="HIDE_OFF")
    if status.session_state in ("open", "propagating"):
        row.operator("segmatte.session_stop", text="", icon="X")
        box.operator("segmatte.prompt_tool", icon="RESTRICT_SELECT_OFF")
        box.label(text="LMB +  Ctrl/Shift+LMB −  drag: box  Ctrl+Z: undo", icon="MOUSE_LMB")
        if link.session is not None and link.session.engine == "text":
            box.label(text="Find: every instance; select one to refine it", icon="INFO")
        sub = box.row(align=True)
        sub.enabled = status.session_state == "open"
        for direction, icon in (("BACKWARD", "TRACKING_BACKWARDS"), ("BOTH", "ARROW_LEFTRIGHT"),
                                ("FORWARD", "TRACKING_FORWARDS")):
            sub.operator("segmatte.propagate", text=direction.title(),
                         icon=icon).direction = direction
        session = link.session
        if session is not None and session.correction is not None:
            box.operator("segmatte.propagate", text=f"Re-track from {session.correction}",
                         icon="FILE_REFRESH").direction = "AUTO"
        if session is not None:
            for label, ids in session.instances.items():
                text = session.texts.get(label, (0, label))[1]
                box.label(text=(f"'{text}': {', '.join(ids)}" if ids else
                                f"'{text}': nothing found")[:120],
                          icon="VIEWZOOM" if ids else "ERROR")
        if status.score:
            box.label(text=f"Score on the last click: {status.score:.2f}")
    else:
        row.operator("segmatte.session_start", text="Start Session", icon="PLAY")
    row = box.row(align=True)
    row.prop(settings, "show_overlay", toggle=True)
    row.prop(settings, "overlay_opacity", slider=True)


def draw_qc(layout, context) -> None:
    settings = context.scene.segmatte
    box = layout.box()
    box.prop(settings, "qc_threshold", slider=True)
    if len(settings.doubts):
        box.template_list("SEGMATTE_UL_doubts", "", settings, "doubts", settings,
                          "doubts_index", rows=3)


def draw_job(layout, context, target: str) -> None:
    settings = context.scene.segmatte
    status = context.window_manager.segmatte
    col = layout.column()
    row = col.row(align=True)
    running = status.job_state in ("queued", "running", "submitting")
    row.enabled = status.connection == "CONNECTED" and not running
    for direction, icon in (("BACKWARD", "TRACKING_BACKWARDS"), ("BOTH", "ARROW_LEFTRIGHT"),
                            ("FORWARD", "TRACKING_FORWARDS")):
        op = row.operator("segmatte.track", text=f"Job {direction.title()}", icon=icon)
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
    sub.prop(settings, "refine_edges")
    sub.prop(settings, "channels")
    if target == "STRIP" and settings.channels == "a":
        sub.label(text="Channels A renders alpha 0 on a strip: use RGBA or Y", icon="ERROR")
    sub.prop(settings, "overwrite")
    if not bpy.data.filepath:
        sub.prop(settings, "matte_folder")
    if target == "CLIP":
        sub.prop(settings, "use_compositor")
    sub.operator("segmatte.attach", icon="IMAGE_DATA")
    row = sub.row(align=True)
    row.prop(settings, "make_shapes", text="After Job", toggle=True)
    row.operator("segmatte.job_shapes", text="Shapes", icon="MOD_MASK")
    sub.operator("segmatte.shapes_mask", text="Shapes from File", icon="FILEBROWSER")


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
        draw_engine(self.layout, context)
        draw_prompts(self.layout, context, "CLIP")
        draw_session(self.layout, context)
        draw_qc(self.layout, context)
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
        draw_engine(self.layout, context)
        draw_prompts(self.layout, context, "STRIP")
        draw_qc(self.layout, context)
        draw_job(self.layout, context, "STRIP")


classes = (SEGMATTE_UL_objects, SEGMATTE_UL_doubts, SEGMATTE_PT_clip, SEGMATTE_PT_sequencer)
_ = ops_session  # the panel's buttons


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
