"""Per-shot prompts for the track engine: a CSV column and a marker convention.

Both use the command line's prompt syntax (models/track/cli_syntax.py), one
prompt per ``;``-separated item, so an editor writes what ``segmatte matte``
takes:

* CSV ``prompts`` column, frames are source frame numbers::

      point 320,240@1005:car; point 10,10@1005:car:neg; box 40,30,200,180@1010:car

  (or a JSON list of objects, as ``segmatte matte --objects`` reads).
* A marker on a clip (OTIO, FCP XML; its name or comment) that starts with
  ``segmatte:``; the frame is where the marker sits, so it is left out::

      segmatte: point 320,240:car; box 40,30,200,180:car

  A marker at clip time T prompts the source frame the cut shows T - in
  record frames after the clip's in point (speed effects included).
"""

from __future__ import annotations

import json
from typing import Any

MARKER_TAG = "segmatte:"
_KINDS = ("point", "box", "mask")


class PromptError(ValueError):
    """A prompt that cannot be read; ``str()`` is one sentence."""


def parse(text: str, frame: int | None = None) -> list[dict[str, Any]]:
    """Objects (spec JSON) from prompt text; ``frame`` fills in items without ``@FRAME``."""
    from segmatte.models.track.cli_syntax import PromptSyntaxError, build_objects

    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            objects = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PromptError(f"prompts are not JSON ({exc.msg})") from None
        if not isinstance(objects, list):
            raise PromptError("prompts in JSON must be a list of objects")
        return objects
    found: dict[str, list[str]] = {k: [] for k in _KINDS}
    for item in (p.strip() for p in text.split(";")):
        if not item:
            continue
        kind, _, rest = item.partition(" ")
        kind = kind.lower()
        if kind not in _KINDS or not rest.strip():
            raise PromptError(f"prompt {item!r}: start it with point, box or mask "
                              "(e.g. 'point 320,240@1005:car')")
        rest = rest.strip()
        if "@" not in rest:
            if frame is None:
                raise PromptError(f"prompt {item!r} names no frame (write @FRAME after the "
                                  "coordinates)")
            value, sep, tail = rest.partition(":")
            rest = f"{value}@{frame}" + (f":{tail}" if sep else "")
        found[kind].append(rest)
    try:
        objects = build_objects(found["point"], found["box"], found["mask"])
    except (PromptSyntaxError, ValueError) as exc:
        raise PromptError(str(exc)) from None
    return [o.model_dump(mode="json") for o in objects]


def marker_text(marker: Any) -> str | None:
    """The prompt text of a marker that follows the convention, else None."""
    meta = marker.metadata.get("fcp_xml") if hasattr(marker, "metadata") else None
    for text in (marker.name, getattr(marker, "comment", None),
                 meta.get("comment") if isinstance(meta, dict) else None):
        if isinstance(text, str) and text.strip().lower().startswith(MARKER_TAG):
            return text.strip()[len(MARKER_TAG):]
    return None


def merge(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per object id, keyframes of the same frame merged, in frame order."""
    table: dict[str, dict[int, dict[str, Any]]] = {}
    for obj in objects:
        frames = table.setdefault(obj["id"], {})
        for kf in obj.get("keyframes", ()):
            slot = frames.setdefault(kf["frame"], {"frame": kf["frame"], "points": [], "boxes": []})
            slot["points"] += list(kf.get("points") or ())
            slot["boxes"] += list(kf.get("boxes") or ())
            for key in ("mask", "text"):
                if kf.get(key):
                    slot[key] = kf[key]
    return [{"id": oid, "keyframes": [frames[f] for f in sorted(frames)]}
            for oid, frames in table.items()]
