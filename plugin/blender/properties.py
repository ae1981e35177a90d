"""Properties: per-scene job settings (``scene.segmatte``) and the session's status
(``window_manager.segmatte``, not saved)."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
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


class SEGMATTE_PG_object(bpy.types.PropertyGroup):
    """One object found among the prompts of the current frame."""

    use: BoolProperty(name="Use", default=True, description="Matte this object")
    positives: IntProperty(name="Positive points")
    negatives: IntProperty(name="Negative points")
    boxes: IntProperty(name="Boxes")
    origins: StringProperty(name="From")


class SEGMATTE_PG_scene(bpy.types.PropertyGroup):
    """What a Track button sends: engine, prompts, range, output."""

    engine: StringProperty(name="Engine", default="key", search=_engine_search,
                           description="Engine on the server (the list comes from the server)")
    model: StringProperty(name="Model", default="", search=_model_search,
                          description="Model of the engine; empty = the engine's default")
    options: StringProperty(name="Options", default="",
                            description="Engine options as KEY=VALUE pairs separated by spaces, "
                            "e.g. 'screen=blue tolerance=0.2' (values are read as JSON when they can be)")
    use_markers: BoolProperty(name="Markers", default=True,
                              description="Tracking markers on the current frame become points")
    use_mask: BoolProperty(name="Mask", default=True,
                           description="Splines of the mask become boxes / points (one object per layer)")
    use_annotations: BoolProperty(name="Annotations", default=True,
                                  description="Annotation strokes on the clip become points")
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
    channels: EnumProperty(
        name="Channels",
        items=(("rgba", "RGBA", "R=G=B=A: every Blender editor reads it"),
               ("y", "Y", "One channel: compositor and sequencer read it"),
               ("a", "A", "One channel: the compositor's Alpha socket only")),
        default="rgba")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace mattes a different segmatte job wrote in the folder")
    use_compositor: BoolProperty(name="Wire Compositor", default=True,
                                 description="For a clip: Movie Clip → Set Alpha in the compositor")


class SEGMATTE_PG_status(bpy.types.PropertyGroup):
    """The connection and the current job, as the timer last saw them."""

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


classes = (SEGMATTE_PG_object, SEGMATTE_PG_scene, SEGMATTE_PG_status)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.segmatte = PointerProperty(type=SEGMATTE_PG_scene)
    bpy.types.WindowManager.segmatte = PointerProperty(type=SEGMATTE_PG_status)


def unregister() -> None:
    del bpy.types.WindowManager.segmatte
    del bpy.types.Scene.segmatte
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
