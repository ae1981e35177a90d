"""Writing the chosen formats and the shapes manifest, never half-written.

Everything goes to temporary names in the output folder first and is renamed
into place at the end, so an interrupted run leaves the old files or the new
ones. Files already there are replaced only when the last shapes manifest of
the same name lists them (segmatte made them) or with ``overwrite``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from .export_fusion import write_fusion
from .export_json import write_json
from .export_nuke import write_nuke
from .export_svg import write_svg
from .model import ShapeSet

FORMATS = ("blender", "fusion", "nuke", "json", "svg")
MANIFEST_SUFFIX = ".shapes-manifest.json"


class OutputError(ValueError):
    """Outputs that cannot be written; one sentence."""


TEMP_PREFIX = ".segmatte-shapes-"


def _clear_stale(folder: Path) -> None:
    """Remove the temporary folders of runs that were killed (their process is gone)."""
    for tmp in folder.glob(f"{TEMP_PREFIX}*"):
        pid = tmp.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def manifest_path(folder: Path, name: str) -> Path:
    return folder / f"{name}{MANIFEST_SUFFIX}"


def _previous(folder: Path, name: str) -> set[str]:
    try:
        data = json.loads(manifest_path(folder, name).read_text(encoding="utf-8"))
        return {str(p) for p in data.get("files", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def write_outputs(shapes: ShapeSet, folder: Path, name: str, formats: list[str],
                  ious: dict[str, dict[int, float]], overwrite: bool = False) -> tuple[list[Path], Path]:
    """Write ``formats`` of ``shapes`` into ``folder``; the files and the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    _clear_stale(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=folder))
    try:
        made: list[Path] = []
        wants = set(formats)
        if wants & {"json", "blender"}:
            made += write_json(shapes, tmp / f"{name}.shapes.json")
        if "fusion" in wants:
            made += write_fusion(shapes, tmp / f"{name}.setting")
        if "nuke" in wants:
            made += write_nuke(shapes, tmp / f"{name}.nk")
        if "svg" in wants:
            made += write_svg(shapes, tmp, name)
        rel = [p.name for p in made]
        ours = _previous(folder, name)
        foreign = [r for r in rel if (folder / r).exists() and r not in ours]
        if foreign and not overwrite:
            raise OutputError(f"{folder / foreign[0]} exists and segmatte shapes did not write "
                              f"it{f' (and {len(foreign) - 1} more)' if len(foreign) > 1 else ''}; "
                              "choose another --out or --name, or pass --overwrite")
        manifest = {
            "format": "segmatte.shapes-manifest", "version": 1,
            "source": shapes.source, "name": name, "formats": sorted(wants),
            "width": shapes.width, "height": shapes.height,
            "first": shapes.first, "last": shapes.last,
            "settings": shapes.settings,
            "files": sorted(set(rel) | {r for r in ours if (folder / r).exists()}),
            "quality": {k: asdict(v) for k, v in shapes.quality.items()},
            "iou_per_frame": {k: {str(f): round(v, 5) for f, v in per.items()}
                              for k, per in ious.items()},
        }
        mpath = tmp / manifest_path(folder, name).name
        mpath.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        finals = []
        for p in [*made, mpath]:
            final = folder / p.name
            os.replace(p, final)
            finals.append(final)
        return finals[:-1], finals[-1]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
