"""Prompts typed in the panel → the job spec; matte files on disk → sequences to attach.

Pure functions, no host objects: the Resolve and Fusion scripts both call them,
and tests check them without a host. The spec's shape is the server's
(``segmatte.server.spec``): source, range in *source* frame numbers, engine,
model, options, objects with keyframes of points/boxes in source pixels
(top-left origin), direction, output.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

DIRECTIONS = ("forward", "backward", "both")
CHANNELS = ("rgba", "y", "a")

_POINT = re.compile(r"^([+-])?\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)$")
_BOX = re.compile(r"^box\s+(-?\d+(?:\.\d+)?)[, ]+(-?\d+(?:\.\d+)?)[, ]+(-?\d+(?:\.\d+)?)"
                  r"[, ]+(-?\d+(?:\.\d+)?)$", re.IGNORECASE)

PROMPT_HELP = ("One prompt a line, in source pixels from the top-left: '+ 640 360' includes, "
               "'- 100 80' excludes, 'box 200 100 900 700' frames the object (x0 y0 x1 y1).")


class PromptError(ValueError):
    """A prompt line that cannot be read; the message names the line."""


@dataclass
class Prompts:
    points: list[dict] = field(default_factory=list)
    boxes: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.points or self.boxes)


def parse_prompts(text: str, size: tuple[int, int] | None = None) -> Prompts:
    """Read the panel's prompt text; raise PromptError naming the first bad line.

    With ``size`` (width, height) points and boxes outside the frame are refused
    here, where the artist can still fix them, rather than at the server.
    """
    out = Prompts()
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _BOX.match(line)
        if m:
            x0, y0, x1, y1 = (float(v) for v in m.groups())
            if x1 <= x0 or y1 <= y0:
                raise PromptError(f"line {number}: a box needs x1 > x0 and y1 > y0 ({line!r})")
            _inside(number, line, size, (x0, y0), (x1, y1))
            out.boxes.append({"x0": x0, "y0": y0, "x1": x1, "y1": y1})
            continue
        m = _POINT.match(line)
        if m:
            x, y = float(m.group(2)), float(m.group(3))
            _inside(number, line, size, (x, y))
            out.points.append({"x": x, "y": y, "label": 0 if m.group(1) == "-" else 1})
            continue
        raise PromptError(f"line {number}: {line!r} is not a prompt. {PROMPT_HELP}")
    return out


def _inside(number: int, line: str, size: tuple[int, int] | None, *xy: tuple[float, float]) -> None:
    if not size:
        return
    w, h = size
    for x, y in xy:
        if not (0 <= x <= w and 0 <= y <= h):
            raise PromptError(f"line {number}: ({x:g}, {y:g}) is outside the {w}x{h} frame")


def centre_prompt(size: tuple[int, int]) -> str:
    """The 'centre of frame' shortcut: one positive point in the middle."""
    w, h = size
    return f"+ {w / 2:g} {h / 2:g}"


def safe_name(text: str, fallback: str = "matte") -> str:
    """A file-name stem the server accepts (letters, digits, '_', '-', '.')."""
    name = re.sub(r"[^A-Za-z0-9_\-.]+", "_", text or "").strip("._")
    return name[:96] or fallback


def clip_stem(name: str) -> str:
    """'shot.[1001-1100].exr', 'shot.####.exr', 'shot.1001.exr', 'green.mp4' → 'shot' / 'green'."""
    base = os.path.basename(name or "")
    base = re.sub(r"\[\d+-\d+\]", "", base)
    stem, ext = os.path.splitext(base)
    if ext.lower() in STILL_EXTS or ext.lower() in (".mov", ".mp4", ".mxf", ".avi", ".mkv"):
        base = stem
    if re.search(r"[._\-][#\d]+$", base):
        base = re.sub(r"[._\-]*[#\d]*$", "", base)
    return base.rstrip("._-") or base


def build_spec(*, source: str, first: int, last: int, engine: str, output_folder: str,
               name: str, model: str | None = None, prompts: Prompts | None = None,
               keyframe: int | None = None, direction: str = "forward",
               channels: str = "rgba", options: dict | None = None,
               object_id: str = "object") -> dict:
    """The job spec dict, in the server's shape (see module doc)."""
    if last < first:
        raise ValueError(f"frame range {first}-{last} ends before it starts")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    spec: dict = {
        "source": source,
        "range": {"first": int(first), "last": int(last)},
        "engine": engine,
        "direction": direction,
        "output": {"folder": output_folder, "name": safe_name(name), "channels": channels},
    }
    if model:
        spec["model"] = model
    if options:
        spec["options"] = dict(options)
    if prompts:
        frame = int(first if keyframe is None else keyframe)
        if not first <= frame <= last:
            raise ValueError(f"the prompt frame {frame} is outside the range {first}-{last}")
        key: dict = {"frame": frame}
        if prompts.points:
            key["points"] = list(prompts.points)
        if prompts.boxes:
            key["boxes"] = list(prompts.boxes)
        spec["objects"] = [{"id": safe_name(object_id, "object"), "keyframes": [key]}]
    return spec


# --- source paths -------------------------------------------------------------

_RESOLVE_SEQ = re.compile(r"^(?P<head>.*?)\[(?P<a>\d+)-(?P<b>\d+)\](?P<tail>[^/\\]*)$")
_NUMBERED = re.compile(r"^(?P<head>.*?)(?P<num>\d+)(?P<tail>\.[A-Za-z0-9]+)$")
STILL_EXTS = (".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".cin", ".tga")


@dataclass(frozen=True)
class Source:
    """A source as the server wants it: a file, or a ``####`` pattern with its first number."""

    path: str
    first_number: int = 0
    """First file number of an image sequence (0 for a movie)."""
    is_sequence: bool = False


def source_from_resolve(path: str) -> Source:
    """Resolve's File Path (``/a/shot.[1001-1100].exr`` for a sequence) → a Source."""
    m = _RESOLVE_SEQ.match(path or "")
    if m:
        digits = len(m.group("a"))
        return Source(m.group("head") + "#" * digits + m.group("tail"), int(m.group("a")), True)
    return Source(path)


def source_from_frame_file(path: str) -> Source:
    """One frame of a sequence (a Fusion Loader's Clip, ``shot.1001.exr``) → a Source.

    Numbered stills become ``####`` patterns; anything else (a movie) stays as is.
    """
    m = _NUMBERED.match(path or "")
    if m and m.group("tail").lower() in STILL_EXTS:
        digits = len(m.group("num"))
        return Source(m.group("head") + "#" * digits + m.group("tail"), int(m.group("num")), True)
    return Source(path)


# --- mattes on disk -----------------------------------------------------------

_FRAME_FILE = re.compile(r"^(?P<stem>.+)\.(?P<num>\d+)\.exr$")


@dataclass(frozen=True)
class MatteSequence:
    """One layer's matte files: a printf pattern for Resolve and the source numbers written."""

    layer: str
    pattern: str
    """``/out/hero.%04d.exr`` (what ImportMedia's FilePath wants)."""
    first: int
    last: int
    files: tuple[str, ...]

    @property
    def first_file(self) -> str:
        return self.files[0]


def _group(paths: list[str], layer_of: dict[str, str] | None = None) -> list[MatteSequence]:
    groups: dict[tuple[str, str, int], dict[int, str]] = {}
    for p in paths:
        folder, base = os.path.split(p)
        m = _FRAME_FILE.match(base)
        if not m:
            continue
        key = (folder, m.group("stem"), len(m.group("num")))
        groups.setdefault(key, {})[int(m.group("num"))] = p
    out = []
    for (folder, stem, width), frames in sorted(groups.items()):
        numbers = sorted(frames)
        layer = (layer_of or {}).get(frames[numbers[0]], stem)
        pattern = os.path.join(folder, f"{stem}.%0{width}d.exr")
        out.append(MatteSequence(layer, pattern, numbers[0], numbers[-1],
                                 tuple(frames[n] for n in numbers)))
    return out


def sequences_from_manifest(manifest: str) -> list[MatteSequence]:
    """The sequences a finished job wrote, read from its ``*.manifest.json``; [] if unreadable."""
    try:
        with open(manifest, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    folder = os.path.dirname(manifest)
    paths, layer_of = [], {}
    for record in data.get("frames") or []:
        for layer, info in (record.get("files") or {}).items():
            rel = info.get("path") if isinstance(info, dict) else None
            if isinstance(rel, str):
                full = os.path.normpath(os.path.join(folder, rel))
                paths.append(full)
                layer_of[full] = layer
    return _group(paths, layer_of)


def sequences_from_paths(paths: list[str]) -> list[MatteSequence]:
    """The same from the paths of the frame events (when no manifest can be read)."""
    return _group([os.path.normpath(p) for p in paths])
