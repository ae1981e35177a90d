"""The interactive loop in the Movie Clip Editor: session, Prompt tool, track, fix, QC.

- Start Session opens a server session on the editor's clip (``session.open``)
  and sends it the prompts the scene already holds (clicks, markers, mask,
  annotations on any frame of the range).
- The Prompt tool (modal): LMB adds a positive point, Ctrl/Shift+LMB a
  negative one, a drag draws a box, on the current frame, for the active
  object. Each click is stored in the scene (so Blender's Ctrl+Z undoes it;
  the undo handler sends the frame's remaining prompts again) and sent as
  ``session.prompt``; the reply's preview EXR becomes the overlay.
- Track Forward / Backward / Both propagate (``session.propagate``); frame
  events move the overlay along. After a click on an already tracked frame,
  Re-track sends no direction: the server re-tracks from that frame on, the
  way it was tracked, and leaves the frames before it alone.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import operators, options_ui, overlay, preferences, prompts, pull, sources, specs
from .client.jobspec import Box, Keyframe, Point
from .connection import ensure_timer, link
from .operators import JobError, refuse
from .session import SessionWatch

DIRECTIONS = operators.DIRECTIONS + (
    ("AUTO", "Re-track", "After a fix: from the corrected frame on, the way it was tracked"),)
DRAG_PX = 6
"""A press and release farther apart than this is a box, closer a point."""

pulls: dict[str, pull.Pull] = {}


def _session(op) -> SessionWatch | None:
    s = link.session
    if s is None or s.state not in ("open", "propagating") or not link.connected:
        refuse(op, "no session is open: press Start Session")
        return None
    return s


def active_object(settings, create: bool = True):
    if 0 <= settings.objects_index < len(settings.objects):
        return settings.objects[settings.objects_index]
    if not create:
        return None
    name = prompts.object_id(settings.new_object or "object")
    item = operators.object_item(settings, name)
    settings.objects_index = list(settings.objects).index(item)
    return item


def keyframe_of(item, frame: int, create: bool = True):
    for kf in item.keyframes:
        if kf.frame == frame:
            return kf
    if not create:
        return None
    kf = item.keyframes.add()
    kf.frame = frame
    return kf


def _prompt_fields(kf) -> dict:
    """A stored keyframe as ``session.prompt`` fields (all its prompts: ``replace``)."""
    key = Keyframe(kf.frame, [Point(p.x, p.y, p.label) for p in kf.points],
                   [Box(*kf.box)] if kf.use_box else [])
    return {"replace": True, **{k: v for k, v in key.to_dict().items() if k != "frame"}}


def send_keyframe(scene, obj: str, frame: int, fields: dict) -> None:
    """Send one object's prompts on ``frame`` (all of them: ``replace``); the preview
    becomes the overlay when the frame is on screen."""
    session = link.session
    key = (obj, frame)
    signature = repr(sorted(fields.items()))
    if session.sent.get(key) == signature:
        return
    session.sent[key] = signature
    if not fields.get("points") and not fields.get("boxes"):
        session.forget_preview(obj, frame)
        overlay.refresh(scene)
        return
    status = bpy.context.window_manager.segmatte

    def then(reply):
        if reply is None:
            session.sent.pop(key, None)
            return
        status.score = float(reply.get("score") or 0.0)
        if scene.frame_current + session.shift == int(reply["frame"]):
            overlay.refresh(scene)

    link.prompt(obj, frame, then, **fields)
    ensure_timer()


def send_text(scene, label: str, frame: int, text: str) -> bool:
    """A text session: find every instance of ``text`` on ``frame``; each becomes an object
    of the panel (its own colour) and its preview the overlay. False: already sent."""
    session = link.session
    key = (label, frame)
    signature = repr(("text", text))
    if session.sent.get(key) == signature:
        return False
    session.sent[key] = signature
    scene_name = scene.name

    def then(reply):
        sc = bpy.data.scenes.get(scene_name)
        if reply is None or sc is None:
            session.sent.pop(key, None)
            return
        settings = sc.segmatte
        ids = session.instances.get(str(reply.get("object") or label), [])
        for obj in ids:
            operators.object_item(settings, obj)
        if ids and (active_object(settings, create=False) is None
                    or active_object(settings).name not in ids):
            settings.objects_index = list(settings.objects).index(settings.objects[ids[0]])
        bpy.context.window_manager.segmatte.score = float(reply.get("score") or 0.0)
        overlay.refresh(sc)

    link.prompt(label, frame, then, text=text)
    ensure_timer()
    return True


def sync(scene) -> int:
    """Send every keyframe of the scene the session has not seen as it is now (after a
    click, an undo or a Start Session); how many were sent."""
    session = link.session
    if session is None or session.state not in ("open", "propagating") or not link.connected:
        return 0
    settings = scene.segmatte
    sent = 0
    now: dict[tuple[str, int], dict] = {}
    for item in settings.objects:
        for kf in item.keyframes:
            if kf.text.strip() and not len(kf.points) and not kf.use_box:
                continue  # a text prompt is for jobs: sessions run the track engine
            now[(item.name, kf.frame)] = _prompt_fields(kf)
    for key, signature in list(session.sent.items()):  # keyframes an undo removed altogether
        if not signature.startswith("('text'"):  # a text prompt stays (one per label)
            now.setdefault(key, {"replace": True})
    for (obj, frame), fields in now.items():
        if session.sent.get((obj, frame)) != repr(sorted(fields.items())):
            send_keyframe(scene, obj, frame, fields)
            sent += 1
    return sent


@bpy.app.handlers.persistent
def _on_undo(scene, *args) -> None:
    try:
        sync(bpy.context.scene)
    except (RuntimeError, ConnectionError, ReferenceError) as exc:
        print(f"segmatte: after undo: {exc}")


class SEGMATTE_OT_session_start(bpy.types.Operator):
    """Open an interactive session on the clip (loads the track model on the server)"""

    bl_idname = "segmatte.session_start"
    bl_label = "Start Session"

    def execute(self, context):
        if not link.connected:
            return refuse(self, "not connected to the segmatte server: press Connect or "
                          "Start Server")
        scene, settings = context.scene, context.scene.segmatte
        try:
            source = operators.resolve_source(context, "CLIP")
            first, last = source.job_range(*operators.scene_range(scene))
            engine = "text" if settings.engine == "text" else "track"
            operators.engine_entry(engine)
            fields = {"range": {"first": first, "last": last}}
            if options_ui.group(settings, engine) is not None:
                fields["options"] = operators.engine_options(settings, engine)
            if settings.model.strip() and settings.engine == engine:
                fields["model"] = settings.model.strip()
        except (sources.SourceError, JobError) as exc:
            return refuse(self, str(exc))
        if link.session is not None:
            link.close_session()
        # the prompts the scene holds on any frame go to the session too
        found = operators.gather(context, source, "CLIP")
        merged = operators.store_objects(settings, found)
        watch = SessionWatch(clip=source.name, scene=scene.name, source=source.path,
                             shift=source.shift, engine=engine)
        current = scene.frame_current + source.shift
        if first <= current <= last:  # the frame on screen: embedded before the reply
            watch.frame = current
        scene_name = scene.name

        def opened(w: SessionWatch) -> None:
            sc = bpy.data.scenes.get(scene_name)
            if w.state != "open" or sc is None:
                return
            for obj in merged if w.engine == "text" else ():  # texts first: they find
                for number, kf in sorted(obj.keyframes.items()):      # the instances
                    if kf.text:
                        send_text(sc, obj.id, number, kf.text)
            for obj in merged:
                for number, kf in sorted(obj.keyframes.items()):
                    if not (kf.points or kf.boxes):
                        continue  # text or a mask only: sessions take clicks
                    fields = {"replace": True, **{k: v for k, v in kf.to_dict().items()
                                                  if k in ("points", "boxes")}}
                    send_keyframe(sc, obj.id, number, fields)

        link.open_session(watch, opened, **fields)
        ensure_timer()
        self.report({"INFO"}, f"opening a {engine} session on {source.name} "
                    f"(frames {first}-{last})")
        return {"FINISHED"}


class SEGMATTE_OT_session_stop(bpy.types.Operator):
    """Close the session (its previews go; mattes written to the output folder stay)"""

    bl_idname = "segmatte.session_stop"
    bl_label = "Close Session"

    def execute(self, context):
        link.close_session()
        for item in context.scene.segmatte.objects:
            overlay.hide(item.name)
        return {"FINISHED"}


class SEGMATTE_OT_click(bpy.types.Operator):
    """Add a prompt on the current frame for the active object and show its preview"""

    bl_idname = "segmatte.click"
    bl_label = "Prompt"
    bl_options = {"REGISTER", "UNDO"}

    x: FloatProperty(name="X", description="Source pixels from the left")
    y: FloatProperty(name="Y", description="Source pixels from the top")
    x1: FloatProperty(name="X1", description="The box's other corner (with Box)")
    y1: FloatProperty(name="Y1")
    box: BoolProperty(name="Box", default=False)
    negative: BoolProperty(name="Negative", default=False,
                           description="Exclude this point (Ctrl/Shift+LMB)")
    object: StringProperty(name="Object", description="Empty: the active object")

    def execute(self, context):
        session = _session(self)
        if session is None:
            return {"CANCELLED"}
        scene, settings = context.scene, context.scene.segmatte
        number = scene.frame_current + session.shift
        if not session.first <= number <= session.last:
            return refuse(self, f"frame {scene.frame_current} is outside the session's frames "
                          f"{session.first - session.shift}-{session.last - session.shift}")
        w, h = session.width, session.height
        corners = [(self.x, self.y)] + ([(self.x1, self.y1)] if self.box else [])
        if any(not (0 <= x <= w and 0 <= y <= h) for x, y in corners):
            return refuse(self, "the click is outside the picture")
        if self.object:
            item = operators.object_item(settings, prompts.object_id(self.object))
            settings.objects_index = list(settings.objects).index(item)
        else:
            item = active_object(settings)
        if item.name in session.instances:  # the server refuses clicks on the label itself
            ids = session.instances[item.name]
            return refuse(self, f"select one of the instances '{item.name}' found to refine "
                          f"it ({', '.join(ids)})" if ids else
                          f"'{item.name}' found nothing to refine: add an object and click it")
        kf = keyframe_of(item, number)
        if self.box:
            x0, x1 = sorted((self.x, self.x1))
            y0, y1 = sorted((self.y, self.y1))
            if x1 - x0 < 1 or y1 - y0 < 1:
                return refuse(self, "the box is too small")
            kf.use_box, kf.box = True, (x0, y0, x1, y1)
            kf.points.clear()  # a box replaces the frame's points (as the server does)
        else:
            p = kf.points.add()
            p.x, p.y, p.label = self.x, self.y, 0 if self.negative else 1
        operators.store_objects(settings, None)
        send_keyframe(scene, item.name, number, _prompt_fields(kf))
        return {"FINISHED"}


class SEGMATTE_OT_undo_click(bpy.types.Operator):
    """Take back the active object's last prompt on the current frame"""

    bl_idname = "segmatte.undo_click"
    bl_label = "Undo Click"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        session = _session(self)
        if session is None:
            return {"CANCELLED"}
        scene, settings = context.scene, context.scene.segmatte
        item = active_object(settings, create=False)
        number = scene.frame_current + session.shift
        kf = keyframe_of(item, number, create=False) if item else None
        if kf is None:
            self.report({"WARNING"}, "no click on this frame to undo")
            return {"CANCELLED"}
        if len(kf.points):
            kf.points.remove(len(kf.points) - 1)
        else:
            kf.use_box = False
        if not len(kf.points) and not kf.use_box:
            item.keyframes.remove(list(item.keyframes).index(kf))
        operators.store_objects(settings, None)
        sync(scene)
        return {"FINISHED"}


def region_to_source(region, x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """A mouse position in the clip editor's region → source pixels (top-left origin)."""
    u, v = region.view2d.region_to_view(x, y)
    return u * width, (1.0 - v) * height


class SEGMATTE_OT_prompt_tool(bpy.types.Operator):
    """Click on the clip: LMB includes, Ctrl/Shift+LMB excludes, drag a box; Ctrl+Z takes
    back the last click; Esc or right-click ends"""

    bl_idname = "segmatte.prompt_tool"
    bl_label = "Prompt Tool"

    @classmethod
    def poll(cls, context):
        space = context.space_data
        return getattr(space, "type", "") == "CLIP_EDITOR" and space.clip is not None

    def invoke(self, context, event):
        if _session(self) is None:
            return {"CANCELLED"}
        self._press = None
        context.window_manager.modal_handler_add(self)
        context.workspace.status_text_set("segmatte: LMB include · Ctrl/Shift+LMB exclude · "
                                          "drag: box · Ctrl+Z: undo click · Esc: done")
        return {"RUNNING_MODAL"}

    def _end(self, context):
        context.workspace.status_text_set(None)
        return {"FINISHED"}

    def modal(self, context, event):
        if event.type in {"ESC", "RIGHTMOUSE"} and event.value == "PRESS":
            return self._end(context)
        if event.type == "Z" and event.value == "PRESS" and (event.ctrl or event.oskey):
            bpy.ops.segmatte.undo_click()
            return {"RUNNING_MODAL"}
        region = context.region
        inside = region is not None and 0 <= event.mouse_region_x <= region.width and \
            0 <= event.mouse_region_y <= region.height
        if event.type != "LEFTMOUSE" or not inside:
            return {"PASS_THROUGH"}
        session = link.session
        if session is None:
            return self._end(context)
        where = (event.mouse_region_x, event.mouse_region_y)
        if event.value == "PRESS":
            self._press = where
            return {"RUNNING_MODAL"}
        if event.value != "RELEASE" or self._press is None:
            return {"RUNNING_MODAL"}
        start, self._press = self._press, None
        x, y = region_to_source(region, *start, session.width, session.height)
        if max(abs(where[0] - start[0]), abs(where[1] - start[1])) > DRAG_PX:
            x1, y1 = region_to_source(region, *where, session.width, session.height)
            clamp = _clamp
            kwargs = dict(x=clamp(x, session.width), y=clamp(y, session.height),
                          x1=clamp(x1, session.width), y1=clamp(y1, session.height), box=True)
        else:
            kwargs = dict(x=x, y=y, negative=event.ctrl or event.shift)
        try:
            bpy.ops.segmatte.click(**kwargs)
        except RuntimeError:
            pass  # refused (outside the picture, …): said in the panel and the status bar
        return {"RUNNING_MODAL"}


def _clamp(v: float, top: float) -> float:
    return min(max(v, 0.0), float(top))


class SEGMATTE_OT_propagate(bpy.types.Operator):
    """Track the session's objects through the clip; mattes arrive frame by frame"""

    bl_idname = "segmatte.propagate"
    bl_label = "Track"

    direction: EnumProperty(name="Direction", items=DIRECTIONS, default="BOTH")

    def execute(self, context):
        session = _session(self)
        if session is None:
            return {"CANCELLED"}
        if session.state == "propagating":
            return refuse(self, "the session is tracking: wait, or Cancel to click again")
        if not session.prompted:
            return refuse(self, "click on the clip first: the session has no prompts")
        scene, settings = context.scene, context.scene.segmatte
        try:
            source = operators.resolve_source(context, "CLIP")
            operators.check_channels("CLIP", settings.channels)
            folder, name = operators.output_place(preferences.get(context), scene, source,
                                                  session.engine)
        except (sources.SourceError, JobError) as exc:
            return refuse(self, str(exc))
        output = {"folder": folder, "name": name, "channels": settings.channels}
        if settings.overwrite:
            output["overwrite"] = True
        fields = {}
        if self.direction != "AUTO":
            fields["direction"] = self.direction.lower()
        finish = specs.finish_options(settings.refine_edges)
        if finish:
            fields["finish"] = finish
        target = {"kind": "CLIP", "name": source.name, "scene": scene.name,
                  "shift": source.shift, "compositor": settings.use_compositor}
        link.propagate(output, target, lambda watch: None, **fields)
        ensure_timer()
        self.report({"INFO"}, f"tracking {', '.join(session.objects)} → {folder}")
        return {"FINISHED"}


class SEGMATTE_OT_jump(bpy.types.Operator):
    """Go to this frame"""

    bl_idname = "segmatte.jump"
    bl_label = "Go to Frame"

    frame: IntProperty(name="Frame")

    def execute(self, context):
        context.scene.frame_set(self.frame)
        return {"FINISHED"}


class SEGMATTE_OT_add_object(bpy.types.Operator):
    """Add an object to prompt (the Prompt tool clicks for the active one)"""

    bl_idname = "segmatte.add_object"
    bl_label = "Add Object"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.segmatte
        base = prompts.object_id(settings.new_object or "object")
        name, n = base, 1
        while name in settings.objects:
            n += 1
            name = f"{base}{n}"
        item = operators.object_item(settings, name)
        settings.objects_index = list(settings.objects).index(item)
        return {"FINISHED"}


def model_entry(engine: str, model: str) -> dict | None:
    entry = link.engine(engine) or {}
    return next((m for m in entry.get("models") or [] if isinstance(m, dict)
                 and m.get("name") == model), None)


class SEGMATTE_OT_pull_model(bpy.types.Operator):
    """Download the model's weights into the local cache (its licence is shown first)"""

    bl_idname = "segmatte.pull_model"
    bl_label = "Pull Model"

    model: StringProperty(name="Model")
    accept: BoolProperty(name="I accept the licence", default=False,
                         description="Required: the weights come under the licence shown")

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=420)

    def draw(self, context):
        info = model_entry(context.scene.segmatte.engine, self.model) or {}
        col = self.layout.column()
        col.label(text=f"{self.model}: {info.get('description', '')}"[:120])
        col.label(text=f"Licence: {info.get('licence', 'unknown')}", icon="INFO")
        if info.get("size_mb"):
            col.label(text=f"Download: about {info['size_mb']} MB")
        col.prop(self, "accept")

    def execute(self, context):
        if not self.accept:
            return refuse(self, f"pulling {self.model} needs the licence accepted (the "
                          "checkbox in the Pull dialog)")
        running = pulls.get(self.model)
        if running is not None and running.state == "running":
            return refuse(self, f"{self.model} is being pulled already")
        prefs = preferences.get(context)
        info = model_entry(context.scene.segmatte.engine, self.model) or {}
        licence = str(info.get("licence", ""))
        opt_in = any(w in licence.lower() for w in ("gpl", "non-commercial", "nc", "gated"))
        command = pull.pull_command(prefs.autostart_command if prefs else "segmatte serve",
                                    self.model, opt_in)
        try:
            pulls[self.model] = pull.Pull(self.model, command).start()
        except OSError as exc:
            return refuse(self, f"cannot run {' '.join(command)}: {exc}")
        if not bpy.app.timers.is_registered(_poll_pulls):
            bpy.app.timers.register(_poll_pulls, first_interval=0.5)
        self.report({"INFO"}, f"pulling {self.model} ({licence})")
        return {"FINISHED"}


def poll_pulls() -> bool:
    """Fold the pulls' progress into the status; True while one runs."""
    status = getattr(bpy.context.window_manager, "segmatte", None)
    busy = False
    for p in list(pulls.values()):
        was = p.state
        state = p.poll() if was == "running" else was
        busy |= state == "running"
        if status is not None:
            status.pull, status.pull_progress = p.message, p.progress
        if was == "running" and state == "done" and link.connected:
            link.refresh_engines()
        elif was == "running" and state == "failed":
            link.say("ERROR", p.message)
    return busy


def _poll_pulls():
    return 0.5 if poll_pulls() else None


classes = (SEGMATTE_OT_session_start, SEGMATTE_OT_session_stop, SEGMATTE_OT_click,
           SEGMATTE_OT_undo_click, SEGMATTE_OT_prompt_tool, SEGMATTE_OT_propagate,
           SEGMATTE_OT_jump, SEGMATTE_OT_add_object, SEGMATTE_OT_pull_model)
keymaps: list = []


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    if _on_undo not in bpy.app.handlers.undo_post:
        bpy.app.handlers.undo_post.append(_on_undo)
        bpy.app.handlers.redo_post.append(_on_undo)
    kc = bpy.context.window_manager.keyconfigs.addon
    if kc is not None:
        km = kc.keymaps.new(name="Clip Editor", space_type="CLIP_EDITOR")
        keymaps.append((km, km.keymap_items.new(SEGMATTE_OT_prompt_tool.bl_idname, "P",
                                                "PRESS", alt=True)))


def unregister() -> None:
    for km, kmi in keymaps:
        km.keymap_items.remove(kmi)
    keymaps.clear()
    for handlers in (bpy.app.handlers.undo_post, bpy.app.handlers.redo_post):
        if _on_undo in handlers:
            handlers.remove(_on_undo)
    if bpy.app.timers.is_registered(_poll_pulls):
        bpy.app.timers.unregister(_poll_pulls)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
