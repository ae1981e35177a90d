"""Engine options from the server's JSON schema: widgets to draw and checks (no bpy).

The ``engines`` reply carries each engine's options as a JSON schema
(pydantic's). The panel draws one widget per property — an enum as a menu, a
number with its range, a boolean as a checkbox, a nullable number as a
checkbox plus the number — and :func:`check` refuses a value the server would
refuse, naming the control as the panel labels it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .client.jobspec import SpecError

SKIP = ("model",)
"""Drawn elsewhere (the Model field, with the list of models)."""


@dataclass(frozen=True)
class OptionField:
    key: str
    title: str
    kind: str
    """``enum``, ``bool``, ``int``, ``float``, ``string``, ``list`` (of strings, typed
    comma-separated) or ``text`` (one of several types: JSON where it parses, else text)."""
    default: Any = None
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    description: str = ""
    exclusive: tuple[bool, bool] = (False, False)
    """Whether the minimum / maximum themselves are refused."""


def _kind(prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The non-null alternative of ``anyOf`` and whether null is allowed."""
    options = prop.get("anyOf")
    if not options:
        return prop, False
    real = [o for o in options if o.get("type") != "null"]
    return (real[0] if len(real) == 1 else {"type": "text"}), len(real) < len(options)


def fields_of(schema: dict[str, Any] | None) -> list[OptionField]:
    """The schema's properties as widgets, in schema order."""
    out = []
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if key in SKIP or not isinstance(prop, dict):
            continue
        real, nullable = _kind(prop)
        title = str(prop.get("title") or key.replace("_", " ").title())
        common = dict(key=key, title=title, default=prop.get("default"), nullable=nullable,
                      description=str(prop.get("description", ""))[:400])
        if real.get("enum"):
            out.append(OptionField(kind="enum", choices=tuple(str(v) for v in real["enum"]),
                                   **common))
        elif real.get("type") == "boolean":
            out.append(OptionField(kind="bool", **common))
        elif real.get("type") in ("integer", "number"):
            out.append(OptionField(kind="int" if real["type"] == "integer" else "float",
                                   minimum=real.get("minimum", real.get("exclusiveMinimum")),
                                   maximum=real.get("maximum", real.get("exclusiveMaximum")),
                                   exclusive=("exclusiveMinimum" in real,
                                              "exclusiveMaximum" in real), **common))
        elif real.get("type") == "array" and (real.get("items") or {}).get("type") == "string":
            out.append(OptionField(kind="list", **common))
        elif real.get("type") == "text":
            out.append(OptionField(kind="text", **common))
        else:
            out.append(OptionField(kind="string", **common))
    return out


def _range(f: OptionField, value: float) -> str:
    if f.minimum is not None and f.maximum is not None:
        words = {(False, False): "between {a:g} and {b:g}", (True, False): "above {a:g}, at most {b:g}",
                 (False, True): "from {a:g} up to below {b:g}",
                 (True, True): "strictly between {a:g} and {b:g}"}[f.exclusive]
        return f"{f.title} must lie " + words.format(a=f.minimum, b=f.maximum) + f" (not {value:g})"
    return f"{f.title} is out of range ({value:g})"


def from_text(f: OptionField, text: str):
    """What a typed value means: a list splits at commas; a ``text`` field is JSON where it
    parses (``[0.1, 0.8, 0.2]``, ``0.5``), else the text itself."""
    if f.kind == "list":
        return [t.strip() for t in text.split(",") if t.strip()]
    if f.kind == "text":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def to_text(value) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value)


def check(fields: list[OptionField], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against the widgets; SpecError names the control. Returns the
    options to send (only those that differ from the schema's default)."""
    known = {f.key: f for f in fields}
    out: dict[str, Any] = {}
    for key, value in values.items():
        f = known.get(key)
        if f is None:
            raise SpecError(f"the engine has no option {key!r}")
        if value is None:
            if not f.nullable:
                raise SpecError(f"{f.title} needs a value")
        elif f.kind == "enum":
            if str(value) not in f.choices:
                raise SpecError(f"{f.title} must be one of {', '.join(f.choices)} (not {value!r})")
        elif f.kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{f.title} is on or off")
        elif f.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"{f.title} must be a number")
            if f.kind == "int" and int(value) != value:
                raise SpecError(f"{f.title} must be a whole number")
            low = f.minimum is not None and (value < f.minimum or (f.exclusive[0] and
                                                                   value == f.minimum))
            high = f.maximum is not None and (value > f.maximum or (f.exclusive[1] and
                                                                    value == f.maximum))
            if low or high:
                raise SpecError(_range(f, value))
        elif f.kind == "list":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SpecError(f"{f.title} is a list of names")
        if value != f.default:
            out[key] = value
    return out
