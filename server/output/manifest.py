"""The manifest: what a matte sequence is, how it was made, and its checksums.

Written as ``<folder>/<name>.manifest.json``, beside the sequence it
describes. Named after the sequence rather than a bare ``manifest.json``
because artists point several jobs at one folder (``hero.####.exr`` and
``bg.####.exr`` for one shot); each sequence keeps its own manifest and none
overwrites another's.

It lists the job (id, digest, the full spec), the source, engine and model,
the frame range, the layers and file settings, and per frame the file of each
layer (path relative to the manifest's folder, so the folder can move) with
its sha256 — plus, when the job wrote one, the foreground file under the key
``foreground``, which is not in ``layers`` (those are the mattes hosts attach) — plus optional per-layer scores and flags (e.g. ``absent`` where a
tracked object left the frame) that help an artist find frames to fix.

The file is replaced atomically (temporary file + rename), so a reader never
sees half a manifest. It is rewritten whole, so write it at the end of a job
(and, if wanted, every few hundred frames), not once per frame.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmatte.client import __version__

from .exr import create_temp

if TYPE_CHECKING:
    from segmatte.server.spec import JobSpec

FORMAT = 1
"""Version of the manifest's own layout; bumped on incompatible changes."""

SUFFIX = ".manifest.json"


class ManifestError(ValueError):
    """A manifest that cannot be read; ``str()`` is one sentence naming the file."""


@dataclass(frozen=True)
class FrameFile:
    """One layer's file of one frame."""

    path: str
    """Relative to the manifest's folder, with '/' separators."""
    sha256: str


@dataclass
class FrameRecord:
    """One source frame: its files per layer, and what the engine said of it."""

    number: int
    files: dict[str, FrameFile]
    """Layer name → file."""
    scores: dict[str, float] = field(default_factory=dict)
    """Layer name → the engine's confidence, where it gives one."""
    flags: dict[str, list[str]] = field(default_factory=dict)
    """Layer name → flags, e.g. ``["absent"]`` where the object is not in view."""
    digest: str = ""
    """What made this frame: the job's settings and the prompts its matte came from
    (for a tracked frame, the keyframes behind it). A changed prompt set re-makes
    exactly the frames whose digest changed."""

    @classmethod
    def make(
        cls,
        folder: str | os.PathLike[str],
        number: int,
        files: Mapping[str, tuple[str | os.PathLike[str], str]],
        scores: Mapping[str, float] | None = None,
        flags: Mapping[str, Iterable[str]] | None = None,
        digest: str = "",
    ) -> FrameRecord:
        """From ``{layer: (path, sha256)}``; paths are made relative to ``folder``."""
        base = Path(folder)
        rel = {
            layer: FrameFile(Path(os.path.relpath(Path(p), base)).as_posix(), digest)
            for layer, (p, digest) in files.items()
        }
        return cls(
            number=number,
            files=rel,
            scores={k: float(v) for k, v in (scores or {}).items()},
            flags={k: list(v) for k, v in (flags or {}).items()},
            digest=digest,
        )


@dataclass
class Manifest:
    """Everything a host, a resumed job or an artist needs to know of a sequence."""

    job_id: str
    job_digest: str
    source: str
    engine: str
    model: str | None
    first: int
    last: int
    name: str
    layers: list[str]
    channels: str
    compression: str
    datatype: str
    padding: int
    spec: dict[str, Any]
    """The full job spec as JSON."""
    frames: list[FrameRecord] = field(default_factory=list)
    version: str = __version__
    """segmatte version that wrote the sequence."""
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    format: int = FORMAT

    @classmethod
    def make(
        cls,
        *,
        spec: JobSpec,
        job_id: str,
        digest: str,
        first: int,
        last: int,
        layers: Iterable[str],
        frames: Iterable[FrameRecord] = (),
    ) -> Manifest:
        """From a validated job spec and what the job made of it."""
        out = spec.output
        return cls(
            job_id=job_id,
            job_digest=digest,
            source=spec.source,
            engine=spec.engine,
            model=spec.model,
            first=first,
            last=last,
            name=out.name,
            layers=list(layers),
            channels=out.channels,
            compression=out.compression,
            datatype=out.datatype,
            padding=out.padding,
            spec=spec.model_dump(mode="json"),
            frames=sorted(frames, key=lambda f: f.number),
        )

    def add(self, record: FrameRecord) -> None:
        """Add or replace the record of one frame, keeping frames in order."""
        self.frames = sorted(
            [f for f in self.frames if f.number != record.number] + [record],
            key=lambda f: f.number,
        )

    def frame(self, number: int) -> FrameRecord | None:
        return next((f for f in self.frames if f.number == number), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "manifest") -> Manifest:
        if not isinstance(data, dict):
            raise ManifestError(f"{where} is not a JSON object")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise ManifestError(f"{where} has format {fmt!r}; this segmatte reads format {FORMAT}")
        try:
            frames = [
                FrameRecord(
                    number=int(f["number"]),
                    files={
                        k: FrameFile(str(v["path"]), str(v["sha256"]))
                        for k, v in f["files"].items()
                    },
                    scores={k: float(v) for k, v in f.get("scores", {}).items()},
                    flags={k: [str(x) for x in v] for k, v in f.get("flags", {}).items()},
                    digest=str(f.get("digest", "")),
                )
                for f in data["frames"]
            ]
            fields = {k: data[k] for k in _FIELDS if k != "frames"}
        except KeyError as exc:
            raise ManifestError(f"{where} lacks the field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"{where} has a malformed frame entry: {exc}") from None
        return cls(frames=frames, **fields)


_FIELDS = tuple(Manifest.__dataclass_fields__)


def manifest_path(folder: str | os.PathLike[str], name: str) -> Path:
    """``folder/<name>.manifest.json``."""
    return Path(folder) / f"{name}{SUFFIX}"


def write_manifest(
    folder: str | os.PathLike[str],
    name: str | Manifest,
    manifest: Manifest | None = None,
) -> Path:
    """Write ``manifest`` atomically as ``folder/<name>.manifest.json``; return the path.

    ``write_manifest(path, manifest)`` writes to an explicit path instead.
    """
    if isinstance(name, Manifest):
        path, manifest = Path(folder), name
    elif manifest is not None:
        path = manifest_path(folder, name)
    else:
        raise TypeError("write_manifest needs (folder, name, manifest) or (path, manifest)")
    text = json.dumps(manifest.to_json(), indent=1, sort_keys=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # one small file per job: cheap, and it is the record
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read a manifest; raises ManifestError with one sentence on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"manifest {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest {p} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"manifest {p} is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    return Manifest.from_json(data, where=f"manifest {p}")
