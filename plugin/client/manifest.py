"""Reading a finished job's ``<name>.manifest.json`` on the host side.

Standard library only (vendored into Blender and Resolve). The server writes
the manifest (``segmatte.server.output.manifest``); hosts need three things
from it: each layer's sequence (to attach), the frames the model was unsure of
(QC marks on the timeline) and whether the frames run without gaps.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .patterns import PatternError, name_of_file


class ManifestError(ValueError):
    """A manifest a host cannot use; ``str()`` is one sentence naming the file."""


@dataclass(frozen=True)
class MatteSequence:
    """One layer's files; ``files[n]`` is the matte of source frame ``n``."""

    layer: str
    files: dict[int, str]
    channels: str = "rgba"

    @property
    def first(self) -> int:
        return min(self.files)

    @property
    def last(self) -> int:
        return max(self.files)

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    @property
    def first_path(self) -> str:
        return self.files[self.first]

    @property
    def pattern(self) -> str:
        """``/out/hero.%04d.exr`` (Resolve's ImportMedia FilePath)."""
        return name_of_file(self.first_path).printf

    @property
    def gaps(self) -> list[int]:
        return [n for n in range(self.first, self.last + 1) if n not in self.files]


@dataclass(frozen=True)
class FrameNote:
    """What the engine said of one frame: per-layer scores and flags (``empty`` …)."""

    number: int
    scores: dict[str, float] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ManifestInfo:
    path: str
    engine: str
    layers: list[str]
    channels: str
    sequences: list[MatteSequence]
    notes: list[FrameNote]
    data: dict[str, Any]
    """The whole manifest, for anything else a host wants."""

    def sequence(self, layer: str) -> MatteSequence | None:
        return next((s for s in self.sequences if s.layer == layer), None)

    def doubtful(self, threshold: float = 0.5) -> dict[int, list[str]]:
        """Frame → layers the artist should look at: flagged empty, or scored below ``threshold``."""
        out: dict[int, list[str]] = {}
        for note in self.notes:
            layers = {k for k, v in note.flags.items() if "empty" in v}
            layers |= {k for k, v in note.scores.items() if v < threshold}
            if layers:
                out[note.number] = sorted(layers)
        return out


def read_json(path: str, what: str, error: type[Exception] = ValueError) -> Any:
    """A JSON file segmatte wrote (a manifest, a shapes file); ``error`` with one sentence."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise error(f"the {what} {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise error(f"cannot read the {what} {path}: {exc}") from None


def read_manifest(path: str) -> ManifestInfo:
    """Read ``path``; raises ManifestError with one sentence on any problem."""
    data = read_json(path, "manifest", ManifestError)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise ManifestError(f"{path} is not a segmatte manifest")
    folder = os.path.dirname(os.path.abspath(path))
    channels = str(data.get("channels", "rgba"))
    files: dict[str, dict[int, str]] = {}
    notes = []
    try:
        for record in data["frames"]:
            number = int(record["number"])
            for layer, info in (record.get("files") or {}).items():
                full = os.path.normpath(os.path.join(folder, info["path"]))
                files.setdefault(layer, {})[number] = full
            notes.append(FrameNote(number, {k: float(v) for k, v in
                                            (record.get("scores") or {}).items()},
                                   {k: list(v) for k, v in (record.get("flags") or {}).items()}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{path} has a malformed frame entry ({exc})") from None
    layers = [str(x) for x in data.get("layers") or files]
    sequences = [MatteSequence(layer, dict(sorted(files[layer].items())), channels)
                 for layer in layers if files.get(layer)]
    if not sequences:
        raise ManifestError(f"the manifest {path} lists no matte files")
    for seq in sequences:
        try:
            name_of_file(seq.first_path)
        except PatternError as exc:
            raise ManifestError(f"{path}: {exc}") from None
    return ManifestInfo(path=path, engine=str(data.get("engine", "")), layers=layers,
                        channels=channels, sequences=sequences,
                        notes=sorted(notes, key=lambda n: n.number), data=data)
