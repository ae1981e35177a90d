"""Engine options as real Blender properties, made from the server's JSON schema.

For each engine the server lists, a PropertyGroup class is built from its
options schema (:mod:`.optionschema`) and hung on the scene settings as
``scene.segmatte.opt_<engine>``: menus for enums, numbers with the schema's
range (Blender itself refuses values outside it), checkboxes for booleans,
and a checkbox + number for a nullable number. Values are saved with the
.blend file like any property. A changed schema rebuilds the class.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import optionschema
from .client.jobspec import SpecError

_made: dict[str, tuple[str, type, list[optionschema.OptionField]]] = {}
"""Engine → (schema digest, class, fields)."""


def attr(engine: str) -> str:
    return "opt_" + re.sub(r"[^A-Za-z0-9_]", "_", engine)


def _use(key: str) -> str:
    return f"use_{key}"


def _annotations(fields: list[optionschema.OptionField]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        common = {"name": f.title, "description": f.description}
        if f.kind == "enum":
            default = f.default if f.default in f.choices else f.choices[0]
            out[f.key] = EnumProperty(items=[(c, c, "") for c in f.choices], default=default,
                                      **common)
        elif f.kind == "bool":
            out[f.key] = BoolProperty(default=bool(f.default), **common)
        elif f.kind in ("int", "float"):
            kind = IntProperty if f.kind == "int" else FloatProperty
            cast = int if f.kind == "int" else float
            limits = {}
            if f.minimum is not None:
                limits["min"] = cast(f.minimum)
            if f.maximum is not None:
                limits["max"] = cast(f.maximum)
            default = f.default if isinstance(f.default, int | float) else limits.get("min", 0)
            out[f.key] = kind(default=cast(default), **limits, **common)
        else:
            out[f.key] = StringProperty(default=optionschema.to_text(f.default), **common)
        if f.nullable:
            out[_use(f.key)] = BoolProperty(
                name=f"Use {f.title}", default=f.default is not None,
                description=f"Off: the engine decides ({f.description})"[:400])
    return out


def ensure(entry: dict[str, Any]) -> list[optionschema.OptionField]:
    """Make (or remake) the options group of the engine in ``entry``; its fields."""
    from .properties import SEGMATTE_PG_scene

    engine = str(entry.get("name", ""))
    schema = entry.get("options") or {}
    digest = hashlib.sha1(json.dumps(schema, sort_keys=True).encode()).hexdigest()
    made = _made.get(engine)
    if made and made[0] == digest:
        return made[2]
    if made:
        _drop(engine)
    fields = optionschema.fields_of(schema)
    cls = type(f"SEGMATTE_PG_options_{attr(engine)[4:]}", (bpy.types.PropertyGroup,),
               {"__annotations__": _annotations(fields), "__doc__": f"Options of {engine}"})
    bpy.utils.register_class(cls)
    setattr(SEGMATTE_PG_scene, attr(engine), bpy.props.PointerProperty(type=cls))
    _made[engine] = (digest, cls, fields)
    return fields


def _drop(engine: str) -> None:
    from .properties import SEGMATTE_PG_scene

    _, cls, _ = _made.pop(engine)
    try:
        delattr(SEGMATTE_PG_scene, attr(engine))
    except AttributeError:
        pass
    bpy.utils.unregister_class(cls)


def clear() -> None:
    for engine in list(_made):
        _drop(engine)


def group(settings, engine: str):
    return getattr(settings, attr(engine), None) if engine in _made else None


def fields(engine: str) -> list[optionschema.OptionField]:
    made = _made.get(engine)
    return made[2] if made else []


def values(settings, engine: str) -> dict[str, Any]:
    """The engine's options as the panel holds them (all of them)."""
    g = group(settings, engine)
    if g is None:
        return {}
    out: dict[str, Any] = {}
    for f in fields(engine):
        value = g.get(f.key, getattr(g, f.key)) if f.kind in ("int", "float") else \
            getattr(g, f.key)  # the stored number, even one set around the widget's range
        if f.kind == "float":
            value = round(float(value), 6)
        elif f.kind in ("list", "text"):
            value = optionschema.from_text(f, value)
        if f.nullable and not getattr(g, _use(f.key)):
            value = None
        out[f.key] = value
    return out


def options(settings, engine: str) -> dict[str, Any]:
    """The options to send: checked against the schema (SpecError names the control),
    only those that differ from the engine's defaults."""
    return optionschema.check(fields(engine), values(settings, engine))


def draw(layout, settings, engine: str) -> None:
    g = group(settings, engine)
    if g is None:
        return
    fs = fields(engine)
    if not fs:
        return
    col = layout.column(heading="Options")
    for f in fs:
        if f.nullable:
            row = col.row(align=True)
            row.prop(g, _use(f.key), text="")
            sub = row.row()
            sub.active = getattr(g, _use(f.key))
            sub.prop(g, f.key)
        else:
            col.prop(g, f.key)
    try:
        options(settings, engine)
    except SpecError as exc:
        col.label(text=str(exc), icon="ERROR")
