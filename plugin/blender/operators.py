"""Operators: connect / start the server, gather prompts, Track, Cancel, attach.

Every operator returns at once: requests go through the background client and
their answers arrive in the ``connection.poll`` timer. Problems are reported
with ``self.report`` in one sentence, never as a traceback.
"""

from __future__ import annotations

import os

import bpy
from bpy.props import EnumProperty, StringProperty  # noqa: F401 (say)

from . import attach, options_ui, preferences, prompts, qc, shapes_mask, sources, specs
from .client.jobspec import Box, ObjectPrompts, Output, Point, SpecError, text_label
from .client.manifest import ManifestError, read_manifest
from .client.patterns import clip_stem, safe_name
from .connection import JobWatch, address_and_token, ensure_timer, link
from .properties import PALETTE

TARGETS = (("CLIP", "Clip", "The Movie Clip of the editor (or the scene's active clip)"),
           ("STRIP", "Strip", "The active movie or image strip of the sequencer"))
DIRECTIONS = (("FORWARD", "Forward", "From the current frame to the end of the range"),
              ("BACKWARD", "Backward", "From the current frame back to the start of the range"),
              ("BOTH", "Both", "The whole range, both ways from the current frame"))


class JobError(ValueError):
    """A job that cannot be sent; the message is for the artist."""


# --- building a job -----------------------------------------------------------------


def resolve_source(context, target: str) -> sources.Source:
    scene = context.scene
    if target == "CLIP":
        return sources.from_clip(sources.active_clip(context))
    return sources.from_strip(scene, sources.active_strip(scene))


def scene_range(scene) -> tuple[int, int]:
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end
    return scene.frame_start, scene.frame_end


def _mask_of(context, settings):
    mask = settings.mask
    if mask is None:
        space = getattr(context, "space_data", None)
        mask = getattr(space, "mask", None) if getattr(space, "type", "") == "CLIP_EDITOR" else None
    return mask


def gather(context, source: sources.Source, target: str,
           scene_first: int | None = None, scene_last: int | None = None) -> prompts.Prompts:
    """Prompts from markers, the mask and annotations on every frame of the range
    (the scene's range cut to what the source shows, unless given)."""
    scene = context.scene
    settings = scene.segmatte
    if scene_first is None or scene_last is None:
        scene_first, scene_last = scene_range(scene)
    scene_first = max(scene_first, source.scene_first)
    scene_last = min(scene_last, source.scene_last)
    frames = prompts.Frames(source, range(scene_first, scene_last + 1), scene.frame_current)
    found = prompts.Prompts(source.width, source.height)
    clip = bpy.data.movieclips.get(source.name) if target == "CLIP" else None
    if clip is not None and settings.use_markers:
        prompts.add_markers(found, clip, frames, keyed_only=settings.markers_keyed_only)
    mask = _mask_of(context, settings)
    if mask is not None and settings.use_mask:
        keep = scene.frame_current
        shapes = []
        try:
            for frame in prompts.mask_key_frames(mask, frames):
                if frame != scene.frame_current:
                    scene.frame_set(frame)
                evaluated = mask.evaluated_get(context.evaluated_depsgraph_get()) \
                    if frame != keep else mask
                shapes.append((source.to_source(frame), evaluated))
                prompts.add_mask(found, shapes[-1:], use_boxes=settings.mask_as in ("BOX", "BOTH"),
                                 use_points=settings.mask_as in ("POINTS", "BOTH"))
        finally:
            if scene.frame_current != keep:
                scene.frame_set(keep)
    if clip is not None and settings.use_annotations:
        prompts.add_annotations(found, prompts.annotation_of(clip), frames)
    return found


def clicked(settings) -> list[specs.Clicked]:
    """The Prompt tool's clicks kept in the scene, per object and frame."""
    out = []
    for item in settings.objects:
        for kf in item.keyframes:
            points = [Point(p.x, p.y, p.label) for p in kf.points]
            box = None
            if kf.use_box:
                try:
                    box = Box(*kf.box)
                except SpecError:
                    box = None
            out.append(specs.Clicked(item.name, kf.frame, points, box, kf.text.strip()))
    return out


def object_item(settings, name: str, create: bool = True):
    """The panel's object ``name`` (added with the next colour of the palette)."""
    item = settings.objects.get(name)
    if item is None and create:
        item = settings.objects.add()
        item.name = name
        item.color = PALETTE[(len(settings.objects) - 1) % len(PALETTE)]
    return item


def store_objects(settings, found: prompts.Prompts | None) -> list[ObjectPrompts]:
    """Refresh the panel's object list (keyframes, counts); the clicks, colours and Use
    toggles stay. ``found``: freshly gathered prompts (None: keep what was gathered last)."""
    if found is not None:
        for name in found.objects:
            object_item(settings, name)
        for index in reversed(range(len(settings.objects))):
            item = settings.objects[index]
            got = found.objects.get(item.name)
            if got is None and not len(item.keyframes):
                settings.objects.remove(index)
                continue
            item.gathered = (f"{got.positives} {got.negatives} {got.boxes} "
                             + ",".join(map(str, sorted(got.frames)))) if got else ""
            item.origins = ", ".join(sorted(set(got.origins)))[:500] if got else ""
    for item in settings.objects:
        pos, neg, boxes, *rest = (item.gathered or "0 0 0").split(" ")
        frames = {int(n) for n in (rest[0].split(",") if rest and rest[0] else [])}
        clicks = [p for kf in item.keyframes for p in kf.points]
        item.positives = sum(1 for p in clicks if p.label == 1) + int(pos)
        item.negatives = sum(1 for p in clicks if p.label == 0) + int(neg)
        item.boxes = sum(1 for kf in item.keyframes if kf.use_box) + int(boxes)
        frames |= {kf.frame for kf in item.keyframes
                   if len(kf.points) or kf.use_box or kf.text.strip()}
        texts = sorted({kf.text.strip() for kf in item.keyframes if kf.text.strip()})
        if texts:
            item.origins = ", ".join(f'"{t}"' for t in texts)[:500]
        item.frames = ", ".join(str(n) for n in sorted(frames))[:500]
    return specs.objects_of(found, clicked(settings))


def output_place(prefs, scene, source: sources.Source, engine: str) -> tuple[str, str]:
    """The output folder and sequence name from the preferences' patterns.

    While the .blend file is unsaved, a ``//`` folder has no anchor: the
    panel's Matte Folder is used, and without one the artist is asked for it.
    """
    folder_pattern = prefs.output_folder if prefs else preferences.DEFAULT_FOLDER
    name_pattern = prefs.output_name if prefs else preferences.DEFAULT_NAME
    blend = bpy.data.filepath
    fields = {"source": safe_name(clip_stem(source.name) or source.name),
              "scene": safe_name(scene.name),
              "blend": safe_name(os.path.splitext(os.path.basename(blend))[0]) if blend
              else "untitled", "engine": safe_name(engine)}
    try:
        folder = folder_pattern.format(**fields)
        name = safe_name(name_pattern.format(**fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise JobError(f"output pattern: unknown field {exc}; use {{source}}, {{scene}}, "
                       "{blend} or {engine}") from None
    if folder.startswith("//") and not blend:
        chosen = scene.segmatte.matte_folder.strip()
        if not chosen or chosen.startswith("//"):
            raise NeedsFolder("the .blend file is not saved yet: choose a Matte Folder for the "
                              "mattes (or save the file first)")
        folder = os.path.join(chosen, folder[2:])
    return os.path.normpath(bpy.path.abspath(folder)), name


class NeedsFolder(JobError):
    """The file is unsaved and no Matte Folder is set: the operator asks for one."""


def check_channels(target: str, channels: str) -> None:
    if target == "STRIP" and channels == "a":
        raise JobError("a sequencer strip cannot use Channels A (the sequencer renders it as "
                       "alpha 0 everywhere): choose RGBA or Y")


def engine_entry(engine: str) -> dict | None:
    entry = link.engine(engine)
    if link.engines and entry is None:
        known = ", ".join(e.get("name", "") for e in link.engines)
        raise JobError(f"the server has no engine {engine!r}; it has {known}")
    return entry


def engine_options(settings, engine: str) -> dict:
    try:
        return options_ui.options(settings, engine)
    except SpecError as exc:
        raise JobError(f"{engine} options: {exc}") from None


def build_job(context, target: str, direction: str) -> tuple[dict, dict, prompts.Prompts]:
    """The job spec, the attach target and the prompts, for Track in ``direction``."""
    scene = context.scene
    settings = scene.segmatte
    source = resolve_source(context, target)
    start, end = scene_range(scene)
    current = scene.frame_current
    if direction == "FORWARD":
        start = current
    elif direction == "BACKWARD":
        end = current
    key = source.to_source(current)
    if direction != "BOTH" and not source.contains(key):
        raise JobError(f"frame {current} shows no frame of {source.name} "
                       f"(it shows at frames {source.scene_first}-{source.scene_last})")
    first, last = source.job_range(min(start, end), max(start, end))
    engine = settings.engine.strip()
    if not engine:
        raise JobError("choose an engine")
    entry = engine_entry(engine)
    check_channels(target, settings.channels)
    found = gather(context, source, target, *scene_range(scene))
    store_objects(settings, found)
    wanted = {item.name for item in settings.objects if item.use}
    objects = [o for o in specs.objects_of(found, clicked(settings), wanted)]
    # keyframes outside this direction's range do not steer it
    for obj in objects:
        obj.keyframes = {n: kf for n, kf in obj.keyframes.items() if first <= n <= last}
    objects = [o for o in objects if o.keyframes]
    prefs = preferences.get(context)
    folder, name = output_place(prefs, scene, source, engine)
    request = specs.Request(
        source=source.path, size=(source.width, source.height), first=first, last=last,
        engine=engine, direction=direction.lower(), model=settings.model.strip(),
        options=engine_options(settings, engine), engine_info=entry,
        shapes=("blender",) if settings.make_shapes else (),
        finish=specs.finish_options(settings.refine_edges),
        output=Output(folder=folder, name=name, channels=settings.channels,
                      overwrite=settings.overwrite))
    try:
        spec = specs.build(request, objects).to_dict()
    except SpecError as exc:
        raise JobError(str(exc)) from None
    target_info = {"kind": target, "name": source.name, "scene": scene.name,
                   "shift": source.shift, "compositor": settings.use_compositor,
                   "spec": spec, "shapes": bool(settings.make_shapes)}
    return spec, target_info, found


# --- when a job ends ---------------------------------------------------------------------


def update_qc(scene, manifest: str, shift: int | None = None) -> int:
    """List the frames QC doubts (and mark them on the timeline); how many. ``shift``:
    source number = scene frame + shift (default: the session's)."""
    settings = scene.segmatte
    settings.doubts.clear()
    try:
        info = read_manifest(manifest)
    except ManifestError:
        return 0
    if shift is None:
        shift = link.session.shift if link.session is not None else 0
    for doubt in qc.doubts(info, settings.qc_threshold):
        item = settings.doubts.add()
        item.frame, item.scene_frame, item.text = doubt.frame, doubt.frame - shift, doubt.text
    return len(settings.doubts)


def shapes_file(manifest: str) -> str:
    """Where a job's shapes option wrote the Blender shapes: ``NAME.shapes.json`` beside
    ``NAME.manifest.json``."""
    base = manifest[:-len(".manifest.json")] if manifest.endswith(".manifest.json") else manifest
    return base + ".shapes.json"


def job_masks(watch: JobWatch) -> list:
    """The Masks of a finished job's shapes; source frame n lands on scene frame n - shift."""
    path = shapes_file(watch.manifest)
    if not os.path.isfile(path):
        raise shapes_mask.ShapesError(f"the job wrote no shapes ({path} is missing)")
    data = shapes_mask.load(path)
    return shapes_mask.create_masks(data, int(data["first"]) - int(watch.target.get("shift", 0)))


def on_finished(watch: JobWatch) -> None:
    """Runs on the UI thread (from the timer) when a job ends: attach or say why not."""
    if watch.state == "done":
        try:
            watch.messages += attach.attach(watch.target, watch.manifest)
        except (attach.AttachError, ManifestError, OSError, RuntimeError, ValueError) as exc:
            watch.messages.append(("ERROR", str(exc)))
        scene = bpy.data.scenes.get(watch.target.get("scene", "")) or bpy.context.scene
        if watch.target.get("shapes"):
            try:
                masks = job_masks(watch)
                watch.messages.append(("INFO", f"made {len(masks)} mask(s): "
                                       + ", ".join(m.name for m in masks)))
            except (shapes_mask.ShapesError, KeyError, TypeError, ValueError) as exc:
                watch.messages.append(("ERROR", f"shapes: {exc}"))
        n = update_qc(scene, watch.manifest, int(watch.target.get("shift", 0)))
        if n:
            watch.messages.append(("WARNING", f"QC: {n} frame(s) to look at (listed in the "
                                   "panel, red on the clip's timeline)"))
    elif watch.state == "failed":
        watch.messages.append(("ERROR", f"job failed: {watch.reason}"))
    else:
        watch.messages.append(("WARNING", "job cancelled; mattes already written stay on disk "
                               "and a new Track resumes from them"))
    for level, text in watch.messages:
        print(f"segmatte: {level.lower()}: {text}")


# --- operators ---------------------------------------------------------------------------


class SEGMATTE_OT_connect(bpy.types.Operator):
    """Connect to the segmatte server (in the background)"""

    bl_idname = "segmatte.connect"
    bl_label = "Connect"

    def execute(self, context):
        address, token = address_and_token(preferences.get(context))
        host = (address or "").rsplit(":", 1)[0].removeprefix("tcp://").strip("[]")
        if address and host not in ("127.0.0.1", "localhost", "::1") and not getattr(
                bpy.app, "online_access", True):
            self.report({"ERROR"}, f"{host} is another computer: allow Online Access "
                        "(Preferences > System > Network) to reach it")
            return {"CANCELLED"}
        try:
            link.connect(address, token)
        except (OSError, ValueError, RuntimeError) as exc:
            self.report({"ERROR"}, f"cannot connect: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"connecting to {link.address}")
        return {"FINISHED"}


class SEGMATTE_OT_disconnect(bpy.types.Operator):
    """Disconnect from the server (it keeps running)"""

    bl_idname = "segmatte.disconnect"
    bl_label = "Disconnect"

    def execute(self, context):
        link.disconnect()
        return {"FINISHED"}


class SEGMATTE_OT_start_server(bpy.types.Operator):
    """Start the segmatte server with the command in the preferences, then connect"""

    bl_idname = "segmatte.start_server"
    bl_label = "Start Server"

    def execute(self, context):
        prefs = preferences.get(context)
        command = prefs.autostart_command if prefs else "segmatte serve"
        address, token = address_and_token(prefs)
        try:
            log = link.start_server(command, address, token)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"cannot start '{command}': {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"starting the server (log: {log})")
        return {"FINISHED"}


class SEGMATTE_OT_stop_server(bpy.types.Operator):
    """Ask the server to stop (running jobs are journaled and resume at its next start)"""

    bl_idname = "segmatte.stop_server"
    bl_label = "Stop Server"

    def execute(self, context):
        if not link.connected:
            self.report({"ERROR"}, "not connected to the segmatte server")
            return {"CANCELLED"}

        def then(reply, error):
            link.disconnect()
            link.detail = f"server stop failed: {error}" if error else "server stopped"

        link.shutdown_server(then)
        return {"FINISHED"}


class SEGMATTE_OT_refresh_engines(bpy.types.Operator):
    """Ask the server again for its engines"""

    bl_idname = "segmatte.refresh_engines"
    bl_label = "Refresh Engines"

    def execute(self, context):
        if not link.connected:
            self.report({"ERROR"}, "not connected to the segmatte server")
            return {"CANCELLED"}
        link.refresh_engines()
        return {"FINISHED"}


class SEGMATTE_OT_gather(bpy.types.Operator):
    """List the objects the prompts in the range make (markers, mask, annotations, clicks)"""

    bl_idname = "segmatte.gather"
    bl_label = "Gather Prompts"

    target: EnumProperty(name="Target", items=TARGETS, default="CLIP")

    def execute(self, context):
        try:
            source = resolve_source(context, self.target)
            found = gather(context, source, self.target)
        except (sources.SourceError, JobError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        merged = store_objects(context.scene.segmatte, found)
        frames = sorted({n for o in merged for n, kf in o.keyframes.items() if kf})
        self.report({"INFO"}, f"{len(merged)} object(s) with prompts on "
                    f"{len(frames)} frame(s): {', '.join(map(str, frames[:12]))}")
        return {"FINISHED"}


class SEGMATTE_OT_track(bpy.types.Operator):
    """Send the clip or strip, its range and the prompts to the server; mattes attach when done"""

    bl_idname = "segmatte.track"
    bl_label = "Track"

    target: EnumProperty(name="Target", items=TARGETS, default="CLIP")
    direction: EnumProperty(name="Direction", items=DIRECTIONS, default="FORWARD")
    directory: StringProperty(name="Matte Folder", subtype="DIR_PATH")

    def invoke(self, context, event):
        if not bpy.data.filepath and not context.scene.segmatte.matte_folder.strip():
            prefs = preferences.get(context)
            if (prefs.output_folder if prefs else preferences.DEFAULT_FOLDER).startswith("//"):
                context.window_manager.fileselect_add(self)  # ask where the mattes go
                return {"RUNNING_MODAL"}
        return self.execute(context)

    def execute(self, context):
        if self.directory:
            context.scene.segmatte.matte_folder = self.directory
        if not link.connected:
            return refuse(self, "not connected to the segmatte server: press Connect or "
                          "Start Server")
        try:
            spec, target, _ = build_job(context, self.target, self.direction)
        except (sources.SourceError, JobError) as exc:
            return refuse(self, str(exc))

        def submitted(watch, error):
            pass  # a refusal is the link's notice (panel + report)

        try:
            link.submit(spec, target, submitted)
        except ConnectionError as exc:
            return refuse(self, str(exc))
        ensure_timer()
        r = spec["range"]
        self.report({"INFO"}, f"sent {spec['engine']} job: {target['name']} frames "
                    f"{r['first']}-{r['last']} → {spec['output']['folder']}")
        return {"FINISHED"}


def refuse(op, text: str) -> set[str]:
    """Say why an operator does nothing: in the panel (the notice) and as a report."""
    link.notice, link.notice_job = ("ERROR", text), ""
    op.report({"ERROR"}, text)
    return {"CANCELLED"}


class SEGMATTE_OT_say(bpy.types.Operator):
    """Report a message (used to show the server's answers from the background timer)"""

    bl_idname = "segmatte.say"
    bl_label = "segmatte Message"
    bl_options = {"INTERNAL"}

    level: EnumProperty(items=(("INFO", "Info", ""), ("WARNING", "Warning", ""),
                               ("ERROR", "Error", "")), default="INFO")
    message: StringProperty()

    def execute(self, context):
        self.report({self.level}, self.message)
        return {"FINISHED"}


class SEGMATTE_OT_cancel(bpy.types.Operator):
    """Cancel the running job (frames already written stay)"""

    bl_idname = "segmatte.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        job = link.active_job
        watch = link.jobs.get(job)
        if not link.connected or watch is None or watch.state not in ("queued", "running"):
            self.report({"WARNING"}, "no job is running")
            return {"CANCELLED"}

        def then(reply, error):
            if error is not None:
                watch.messages.append(("ERROR", f"cancel failed: {error}"))

        link.cancel(job, then)
        return {"FINISHED"}


class SEGMATTE_OT_attach(bpy.types.Operator):
    """Attach the mattes of the last finished job again"""

    bl_idname = "segmatte.attach"
    bl_label = "Attach Mattes"

    def execute(self, context):
        watch = link.jobs.get(link.active_job)
        if watch is None or watch.state != "done":
            self.report({"ERROR"}, "no finished job in this session")
            return {"CANCELLED"}
        try:
            said = attach.attach(watch.target, watch.manifest)
        except (attach.AttachError, ManifestError, OSError, RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for level, text in said:
            self.report({level}, text)
        return {"FINISHED"}


class SEGMATTE_OT_find_text(bpy.types.Operator):
    """Find every instance of the text on the current frame: adds the text prompt to the
    job (Track runs the text engine; each instance becomes a layer, car_1, car_2, …)"""

    bl_idname = "segmatte.find_text"
    bl_label = "Find"
    bl_options = {"REGISTER", "UNDO"}

    target: EnumProperty(name="Target", items=TARGETS, default="CLIP")
    text: StringProperty(name="Text", description="Empty: the panel's text")

    def execute(self, context):
        scene = context.scene
        settings = scene.segmatte
        text = (self.text or settings.text_prompt).strip()
        if not text:
            return refuse(self, "type what to find (e.g. 'red car') in the Text field first")
        try:
            source = resolve_source(context, self.target)
        except sources.SourceError as exc:
            return refuse(self, str(exc))
        frame = source.to_source(scene.frame_current)
        if not source.contains(frame):
            return refuse(self, f"frame {scene.frame_current} shows no frame of {source.name}")
        entry = link.engine("text")
        current = link.engine(settings.engine)
        if current is not None and "text" not in (current.get("prompts") or ()):
            if link.engines and entry is None:
                return refuse(self, "the server has no text engine to find text with")
            settings.engine = "text"
        name = text_label(text)
        item = object_item(settings, name)
        kf = next((k for k in item.keyframes if k.frame == frame), None)
        if kf is None:
            kf = item.keyframes.add()
            kf.frame = frame
        kf.text = text
        settings.objects_index = list(settings.objects).index(item)
        store_objects(settings, None)
        session = link.session
        if session is not None and session.state in ("open", "propagating") and link.connected:
            return self._in_session(context, session, name, frame, text)
        self.report({"INFO"}, f"'{text}' on source frame {frame}: Track finds every {name} "
                    f"({name}_1, {name}_2, …) and tracks each")
        return {"FINISHED"}

    def _in_session(self, context, session, name: str, frame: int, text: str):
        """With a session open, Find finds now: a text session gets the text prompt on the
        frame; a track session is opened again as a text session (its prompts go too)."""
        from . import ops_session

        if session.state == "propagating":
            return refuse(self, "the session is tracking: wait, or Cancel to find text")
        if session.engine != "text":
            context.scene.segmatte.engine = "text"
            return bpy.ops.segmatte.session_start()
        sent = session.texts.get(name)
        if sent is not None and sent != (frame, text):
            return refuse(self, f"this session found '{sent[1]}' on frame {sent[0]} already: "
                          f"one text per label (Start Session again to find '{text}')")
        if not session.first <= frame <= session.last:
            return refuse(self, f"frame {context.scene.frame_current} is outside the "
                          "session's frames")
        ops_session.send_text(context.scene, name, frame, text)
        self.report({"INFO"}, f"finding every '{text}' on source frame {frame}")
        return {"FINISHED"}


class SEGMATTE_OT_job_shapes(bpy.types.Operator):
    """Editable Mask splines of the last job's mattes (one Mask per layer); the server
    writes them beside the mattes (segmatte shapes --to blender) when they are not there"""

    bl_idname = "segmatte.job_shapes"
    bl_label = "Shapes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        watch = link.jobs.get(link.active_job)
        if watch is None or watch.state != "done":
            return refuse(self, "no finished job in this session: run a job first, or make "
                          "masks from a shapes file (Shapes from File)")
        path = shapes_file(watch.manifest)
        if os.path.isfile(path) and os.path.getmtime(path) >= os.path.getmtime(watch.manifest):
            try:
                masks = job_masks(watch)
            except (shapes_mask.ShapesError, KeyError, TypeError, ValueError) as exc:
                return refuse(self, str(exc))
            self.report({"INFO"}, f"made {len(masks)} mask(s): "
                        + ", ".join(m.name for m in masks))
            return {"FINISHED"}
        spec = watch.target.get("spec")
        if not spec:
            return refuse(self, "this job's spec is not known here: run it again with Shapes on")
        if not link.connected:
            return refuse(self, "not connected to the segmatte server: press Connect")
        # the same job with shapes: the mattes on disk are its own, so the server skips them
        spec = {**spec, "shapes": sorted(set(spec.get("shapes") or ()) | {"blender"})}
        target = {**watch.target, "spec": spec, "shapes": True}
        try:
            link.submit(spec, target, lambda watch, error: None)
        except ConnectionError as exc:
            return refuse(self, str(exc))
        ensure_timer()
        self.report({"INFO"}, "making shapes of the last job's mattes on the server")
        return {"FINISHED"}


classes = (SEGMATTE_OT_connect, SEGMATTE_OT_disconnect, SEGMATTE_OT_start_server,
           SEGMATTE_OT_stop_server,
           SEGMATTE_OT_refresh_engines, SEGMATTE_OT_gather, SEGMATTE_OT_track, SEGMATTE_OT_say,
           SEGMATTE_OT_cancel, SEGMATTE_OT_attach, SEGMATTE_OT_find_text,
           SEGMATTE_OT_job_shapes)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    link.on_finished = on_finished


def unregister() -> None:
    link.on_finished = None
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
