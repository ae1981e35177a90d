"""Properties: per-scene settings, objects and their clicks (``scene.segmatte``, saved
with the file, so Ctrl+Z undoes a click) and the status (``window_manager.segmatte``,
not saved). Engine options are added at run time from the server's schema
(:mod:`.options_ui`)."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .connection import link


def _engine_search(self, context, edit_text):
    for entry in link.engines:
        yield entry.get("name", ""), entry.get("description", "")[:200]


def engine_models(entry: dict | None) -> list[tuple[str, str]]:
    """(name, description) of an engine's models: its ``models`` list when the server
    gives one, else what its options schema says of ``model`` (enum, default)."""
    entry = entry or {}
    out: list[tuple[str, str]] = []
    for model in entry.get("models") or []:
        if isinstance(model, dict):
            out.append((str(model.get("name", "")), str(model.get("description", ""))[:200]))
        else:
            out.append((str(model), ""))
    prop = ((entry.get("options") or {}).get("properties") or {}).get("model") or {}
    for value in prop.get("enum") or []:
        out.append((str(value), ""))
    if isinstance(prop.get("default"), str):
        out.append((prop["default"], "the engine's default"))
    seen: set[str] = set()
    return [m for m in out if m[0] and not (m[0] in seen or seen.add(m[0]))]


def _model_search(self, context, edit_text):
    yield from engine_models(link.engine(self.engine))


PALETTE = ((1.0, 0.25, 0.2), (0.2, 0.6, 1.0), (0.3, 0.9, 0.3), (1.0, 0.8, 0.1),
           (0.8, 0.3, 1.0), (0.1, 0.9, 0.9))


class SEGMATTE_PG_point(bpy.types.PropertyGroup):
    """One click: source pixels, top-left origin."""

    x: FloatProperty(name="X")
    y: FloatProperty(name="Y")
    label: IntProperty(name="Label", min=0, max=1, default=1,
                       description="1 = include (LMB), 0 = exclude (Ctrl/Shift+LMB)")


class SEGMATTE_PG_keyframe(bpy.types.PropertyGroup):
    """The Prompt tool's clicks of one object on one source frame."""

    frame: IntProperty(name="Frame", description="Source frame number")
    points: CollectionProperty(type=SEGMATTE_PG_point)
    use_box: BoolProperty(name="Box", default=False)
    box: FloatVectorProperty(name="Box", size=4, description="x0, y0, x1, y1 in source pixels")
    text: StringProperty(name="Text", description="Text prompt on this frame (text engine)")


class SEGMATTE_PG_object(bpy.types.PropertyGroup):
    """One object: its clicks (kept in the scene) and what the gathered prompts found."""

    use: BoolProperty(name="Use", default=True, description="Matte this object")
    color: FloatVectorProperty(name="Colour", subtype="COLOR", size=3, min=0.0, max=1.0,
                               default=(1.0, 0.25, 0.2),
                               description="Colour of the object's overlay on the clip")
    keyframes: CollectionProperty(type=SEGMATTE_PG_keyframe)
    positives: IntProperty(name="Positive points")
    negatives: IntProperty(name="Negative points")
    boxes: IntProperty(name="Boxes")
    frames: StringProperty(name="Keyframes", description="Source frames with prompts")
    origins: StringProperty(name="From")
    gathered: StringProperty(name="Gathered", description="What markers, masks and annotations "
                             "gave, as 'positives negatives boxes frame,frame,…'")


class SEGMATTE_PG_doubt(bpy.types.PropertyGroup):
    """A frame QC asks the artist to look at."""

    frame: IntProperty(name="Source Frame")
    scene_frame: IntProperty(name="Frame")
    text: StringProperty(name="Why")


class SEGMATTE_PG_scene(bpy.types.PropertyGroup):
    """What Track and the Prompt tool send: engine, prompts, range, output."""

    engine: StringProperty(name="Engine", default="key", search=_engine_search,
                           description="Engine on the server (the list comes from the server)")
    model: StringProperty(name="Model", default="", search=_model_search,
                          description="Model of the engine; empty = the engine's default")
    use_markers: BoolProperty(name="Markers", default=True,
                              description="Tracking markers in the range become points")
    markers_keyed_only: BoolProperty(
        name="Keyed Markers Only", default=True,
        description="Only markers placed by hand (keyframed), not every tracked position")
    use_mask: BoolProperty(name="Mask", default=True,
                           description="Splines of the mask become boxes / points (one object "
                           "per layer) on each frame the mask is keyed")
    use_annotations: BoolProperty(name="Annotations", default=True,
                                  description="Annotation strokes on the clip become points on "
                                  "the frames they are drawn")
    mask: PointerProperty(name="Mask", type=bpy.types.Mask,
                          description="Mask datablock whose layers are objects "
                          "(empty: the mask of the Movie Clip Editor)")
    mask_as: EnumProperty(
        name="Mask Splines As",
        items=(("BOX", "Boxes", "The bounding box of each spline"),
               ("POINTS", "Points", "A point inside each spline"),
               ("BOTH", "Both", "A box and a point inside")),
        default="BOX")
    objects: CollectionProperty(type=SEGMATTE_PG_object)
    objects_index: IntProperty(name="Active object")
    text_prompt: StringProperty(
        name="Text", default="",
        description="What to find on the current frame, e.g. 'red car': the text engine finds "
        "every instance and tracks each (layers car_1, car_2, …)")
    make_shapes: BoolProperty(
        name="Shapes", default=False,
        description="After the job, make editable Mask splines of each layer (segmatte "
        "shapes --to blender, written beside the mattes)")
    new_object: StringProperty(name="Object", default="object",
                               description="Name of the object the Prompt tool adds clicks to "
                               "when the list is empty (letters, digits, _ and -)")
    channels: EnumProperty(
        name="Channels",
        items=(("rgba", "RGBA", "R=G=B=A: every Blender editor reads it"),
               ("y", "Y", "One channel: compositor and sequencer read it"),
               ("a", "A", "One channel: the compositor's Alpha socket only (not for strips: "
                "the sequencer renders it as alpha 0)")),
        default="rgba")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace mattes a different segmatte job wrote in the folder")
    refine_edges: BoolProperty(
        name="Refine Edges", default=False,
        description="Soft edges from the picture where the matte is unsure: hair, motion blur, "
        "a tracker's hard mask placed on the picture's edge (segmatte --refine guided; slower)")
    use_compositor: BoolProperty(name="Wire Compositor", default=True,
                                 description="For a clip: Movie Clip → Set Alpha in the compositor")
    matte_folder: StringProperty(
        name="Matte Folder", default="", subtype="DIR_PATH",
        description="Where mattes go while the .blend file is unsaved (after saving, the "
        "Output Folder of the preferences, relative to the file)")
    show_overlay: BoolProperty(name="Overlay", default=True,
                               description="Show the mattes over the clip in the Movie Clip Editor")
    overlay_opacity: FloatProperty(name="Opacity", default=0.5, min=0.0, max=1.0,
                                   subtype="FACTOR", description="Opacity of the matte overlay")
    qc_threshold: FloatProperty(
        name="QC Score", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
        description="Frames where an object's score falls below this (or it vanishes) are "
        "marked on the clip's timeline and listed")
    doubts: CollectionProperty(type=SEGMATTE_PG_doubt)
    doubts_index: IntProperty(name="Doubtful frame")


class SEGMATTE_PG_status(bpy.types.PropertyGroup):
    """The connection, the current job and the session, as the timer last saw them."""

    connection: StringProperty(name="Connection", default="DISCONNECTED")
    detail: StringProperty(name="Detail")
    job: StringProperty(name="Job")
    job_state: StringProperty(name="Job State")
    done: IntProperty(name="Done")
    total: IntProperty(name="Total")
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    fps: FloatProperty(name="Frames per Second")
    reason: StringProperty(name="Reason")
    messages: StringProperty(name="Messages")
    notice: StringProperty(name="Notice", description="The last refusal or failure")
    notice_level: StringProperty(name="Notice Level")
    session: StringProperty(name="Session")
    session_state: StringProperty(name="Session State")
    score: FloatProperty(name="Score", min=0.0, max=1.0)
    pull: StringProperty(name="Pull")
    pull_progress: FloatProperty(name="Pull Progress", min=0.0, max=1.0, subtype="FACTOR")


classes = (SEGMATTE_PG_point, SEGMATTE_PG_keyframe, SEGMATTE_PG_object, SEGMATTE_PG_doubt,
           SEGMATTE_PG_scene, SEGMATTE_PG_status)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.segmatte = PointerProperty(type=SEGMATTE_PG_scene)
    bpy.types.WindowManager.segmatte = PointerProperty(type=SEGMATTE_PG_status)


def unregister() -> None:
    from . import options_ui

    options_ui.clear()
    del bpy.types.WindowManager.segmatte
    del bpy.types.Scene.segmatte
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
