"""Operators: connect / start the server, gather prompts, Track, Cancel, attach.

Every operator returns at once: requests go through the background client and
their answers arrive in the ``connection.poll`` timer. Problems are reported
with ``self.report`` in one sentence, never as a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile

import bpy
from bpy.props import EnumProperty

from . import attach, preferences, prompts, sources
from .connection import JobWatch, address_and_token, ensure_timer, link

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


def gather(context, source: sources.Source, target: str) -> prompts.Prompts:
    """Prompts of the current frame from markers, the mask and annotations."""
    scene = context.scene
    settings = scene.segmatte
    found = prompts.Prompts(source.width, source.height)
    clip = bpy.data.movieclips.get(source.name) if target == "CLIP" else None
    frame = scene.frame_current
    if clip is not None and settings.use_markers:
        prompts.add_markers(found, clip, source.clip_frame(frame))
    mask = settings.mask
    if mask is None:
        space = getattr(context, "space_data", None)
        mask = getattr(space, "mask", None) if getattr(space, "type", "") == "CLIP_EDITOR" else None
    if mask is not None and settings.use_mask:
        prompts.add_mask(found, mask, use_boxes=settings.mask_as in ("BOX", "BOTH"),
                         use_points=settings.mask_as in ("POINTS", "BOTH"))
    if clip is not None and settings.use_annotations:
        prompts.add_annotations(found, prompts.annotation_of(clip), frame)
    return found


def store_objects(settings, found: prompts.Prompts) -> None:
    """Refresh the panel's object list, keeping each object's Use toggle."""
    keep = {item.name: item.use for item in settings.objects}
    settings.objects.clear()
    for obj in found.objects.values():
        item = settings.objects.add()
        item.name = obj.id
        item.use = keep.get(obj.id, True)
        item.positives, item.negatives, item.boxes = obj.positives, obj.negatives, len(obj.boxes)
        item.origins = ", ".join(sorted(set(obj.origins)))[:500]


def parse_options(text: str) -> dict:
    """``"screen=blue tolerance=0.2"`` → {"screen": "blue", "tolerance": 0.2}."""
    options = {}
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise JobError(f"options: {exc}") from None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise JobError(f"options: {word!r} is not KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-.]+", "_", text).strip("_.") or "matte"


def output_place(prefs, scene, source: sources.Source, engine: str) -> tuple[str, str]:
    """The output folder and sequence name from the preferences' patterns."""
    folder_pattern = prefs.output_folder if prefs else preferences.DEFAULT_FOLDER
    name_pattern = prefs.output_name if prefs else preferences.DEFAULT_NAME
    blend = bpy.data.filepath
    fields = {"source": _safe(os.path.splitext(source.name)[0]), "scene": _safe(scene.name),
              "blend": _safe(os.path.splitext(os.path.basename(blend))[0]) if blend else "untitled",
              "engine": _safe(engine)}
    try:
        folder = folder_pattern.format(**fields)
        name = _safe(name_pattern.format(**fields))
    except (KeyError, IndexError, ValueError) as exc:
        raise JobError(f"output pattern: unknown field {exc}; use {{source}}, {{scene}}, "
                       "{blend} or {engine}") from None
    if folder.startswith("//") and not blend:
        folder = os.path.join(tempfile.gettempdir(), "segmatte", folder[2:])
    return os.path.normpath(bpy.path.abspath(folder)), name


def build_job(context, target: str, direction: str) -> tuple[dict, dict, prompts.Prompts]:
    """The job spec, the attach target and the prompts, for Track in ``direction``."""
    scene = context.scene
    settings = scene.segmatte
    source = resolve_source(context, target)
    if scene.use_preview_range:
        start, end = scene.frame_preview_start, scene.frame_preview_end
    else:
        start, end = scene.frame_start, scene.frame_end
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
    entry = link.engine(engine)
    if link.engines and entry is None:
        known = ", ".join(e.get("name", "") for e in link.engines)
        raise JobError(f"the server has no engine {engine!r}; it has {known}")
    found = gather(context, source, target)
    store_objects(settings, found)
    wanted = {item.name for item in settings.objects if item.use}
    objects = found.spec_objects(key, only=wanted)
    needs = bool(entry and entry.get("needs_objects"))
    takes = needs or bool(entry and entry.get("takes_objects"))
    if needs and not objects:
        raise JobError(f"the {engine} engine needs prompts: place markers, a mask or "
                       "annotations on the current frame")
    prefs = preferences.get(context)
    folder, name = output_place(prefs, scene, source, engine)
    spec = {
        "source": source.path,
        "range": {"first": first, "last": last},
        "engine": engine,
        "options": parse_options(settings.options),
        "direction": direction.lower(),
        "output": {"folder": folder, "name": name, "channels": settings.channels,
                   "overwrite": settings.overwrite},
    }
    if settings.model.strip():
        spec["model"] = settings.model.strip()
    if takes and objects:
        spec["objects"] = objects
    target_info = {"kind": target, "name": source.name, "scene": scene.name,
                   "shift": source.shift, "compositor": settings.use_compositor}
    return spec, target_info, found


# --- when a job ends ---------------------------------------------------------------------


def on_finished(watch: JobWatch) -> None:
    """Runs on the UI thread (from the timer) when a job ends: attach or say why not."""
    if watch.state == "done":
        try:
            watch.messages += attach.attach(watch.target, watch.manifest)
        except (attach.AttachError, OSError, RuntimeError, ValueError) as exc:
            watch.messages.append(("ERROR", str(exc)))
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
    """List the objects the prompts on the current frame make"""

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
        store_objects(context.scene.segmatte, found)
        n = sum(len(o.points) + len(o.boxes) for o in found.objects.values())
        self.report({"INFO"}, f"{len(found.objects)} object(s), {n} prompt(s) on frame "
                    f"{source.to_source(context.scene.frame_current)}")
        return {"FINISHED"}


class SEGMATTE_OT_track(bpy.types.Operator):
    """Send the clip or strip, its range and the prompts to the server; mattes attach when done"""

    bl_idname = "segmatte.track"
    bl_label = "Track"

    target: EnumProperty(name="Target", items=TARGETS, default="CLIP")
    direction: EnumProperty(name="Direction", items=DIRECTIONS, default="FORWARD")

    def execute(self, context):
        if not link.connected:
            self.report({"ERROR"}, "not connected to the segmatte server: press Connect or "
                        "Start Server")
            return {"CANCELLED"}
        try:
            spec, target, _ = build_job(context, self.target, self.direction)
        except (sources.SourceError, JobError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        status = context.window_manager.segmatte
        status.job, status.job_state, status.reason, status.messages = "", "submitting", "", ""
        status.done, status.total, status.progress = 0, spec["range"]["last"] - spec["range"][
            "first"] + 1, 0.0

        def submitted(watch, error):
            if error is not None:
                status.job_state, status.reason = "failed", str(error)
                print(f"segmatte: error: {error}")

        try:
            link.submit(spec, target, submitted)
        except ConnectionError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        ensure_timer()
        r = spec["range"]
        self.report({"INFO"}, f"sent {spec['engine']} job: {target['name']} frames "
                    f"{r['first']}-{r['last']} → {spec['output']['folder']}")
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
        except (attach.AttachError, OSError, RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for level, text in said:
            self.report({level}, text)
        return {"FINISHED"}


classes = (SEGMATTE_OT_connect, SEGMATTE_OT_disconnect, SEGMATTE_OT_start_server,
           SEGMATTE_OT_stop_server,
           SEGMATTE_OT_refresh_engines, SEGMATTE_OT_gather, SEGMATTE_OT_track,
           SEGMATTE_OT_cancel, SEGMATTE_OT_attach)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    link.on_finished = on_finished


def unregister() -> None:
    link.on_finished = None
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
