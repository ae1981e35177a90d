"""The mattes ``segmatte shapes`` reads: a manifest, a folder, or a sequence.

- ``name.manifest.json`` (or a folder holding exactly one): every layer of
  the job is an object, frames and files as the manifest lists them
  (multi-layer EXRs with ``<layer>.A`` channels included);
- a sequence — ``m.####.exr``, ``m.%04d.png`` or any one file of it — is one
  object named after the sequence.

EXRs are read as segmatte writes them (A, else Y, else R); other image files
through OpenCV, alpha if they have one, else the first channel, scaled to 0–1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from segmatte.server.media.probe import MediaError
from segmatte.server.media.sequence import (
    _siblings_of,
    is_image_file,
    is_pattern,
    parse_pattern,
    scan,
)
from segmatte.server.output.exr import ExrError, read_matte
from segmatte.server.output.layers_exr import read_layers
from segmatte.server.output.manifest import SUFFIX, ManifestError, load_manifest


class SourceError(ValueError):
    """Mattes that cannot be read; ``str()`` is one sentence."""


@dataclass
class MatteSequence:
    name: str
    objects: list[str]
    frames: list[int]
    width: int
    height: int
    files: dict[str, dict[int, Path]]
    shared: bool = False
    """Several objects in one multi-layer EXR per frame."""
    where: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def read(self, obj: str, frame: int) -> np.ndarray:
        path = self.files[obj].get(frame)
        if path is None:
            return np.zeros((self.height, self.width), np.float32)
        if self.shared:
            key = (frame, str(path))
            if key not in self._cache:
                self._cache.clear()
                layers, _ = read_layers(path)
                self._cache[key] = layers
            layer = self._cache[key].get(obj)
            if layer is None:
                raise SourceError(f"{path} has no channel {obj}.A")
            return layer
        return read_image(path)


def read_image(path: Path) -> np.ndarray:
    """One matte file as H×W float32 0–1."""
    if path.suffix.lower() in (".exr", ".sxr"):
        try:
            return read_matte(path)[0]
        except ExrError as exc:
            raise SourceError(str(exc)) from None
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SourceError(f"{path} is not an image OpenCV can read")
    if img.ndim == 3:
        img = img[..., 3] if img.shape[2] == 4 else img[..., 0]
    scale = float(np.iinfo(img.dtype).max) if np.issubdtype(img.dtype, np.integer) else 1.0
    return img.astype(np.float32) / scale


def open_mattes(spec: str | os.PathLike[str]) -> MatteSequence:
    """Whatever MATTES names, as objects and frames; SourceError when it cannot."""
    text = os.fspath(spec)
    p = Path(text)
    if p.is_dir():
        manifests = sorted(p.glob(f"*{SUFFIX}"))
        if len(manifests) > 1:
            names = ", ".join(m.name for m in manifests)
            raise SourceError(f"{p} holds several manifests ({names}); name the one to use")
        if manifests:
            return _from_manifest(manifests[0])
        raise SourceError(f"{p} holds no segmatte manifest; name the matte sequence "
                          "(e.g. {p}/matte.####.exr)")
    if text.endswith(SUFFIX):
        return _from_manifest(p)
    return _from_sequence(text)


def _from_manifest(path: Path) -> MatteSequence:
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        raise SourceError(str(exc)) from None
    folder = path.parent
    files: dict[str, dict[int, Path]] = {layer: {} for layer in manifest.layers}
    for record in manifest.frames:
        for layer, f in record.files.items():
            files.setdefault(layer, {})[record.number] = folder / f.path
    frames = sorted({n for per in files.values() for n in per})
    if not frames:
        raise SourceError(f"manifest {path} lists no frames")
    paths = {str(files[layer][frames[0]]) for layer in files if frames[0] in files[layer]}
    shared = len(files) > 1 and len(paths) == 1
    first = next(iter(paths))
    if not Path(first).is_file():
        raise SourceError(f"{first}, listed in {path.name}, does not exist")
    h, w = (read_layers(first)[0][manifest.layers[0]] if shared else read_image(Path(first))).shape
    return MatteSequence(manifest.name, list(files), frames, w, h, files, shared, str(path))


def _from_sequence(text: str) -> MatteSequence:
    try:
        if is_pattern(text):
            name, _ = parse_pattern(text)
            found = scan(name)
        elif os.path.isfile(text):
            got = _siblings_of(text)
            if got is None:
                folder, base = os.path.split(text)
                stem = os.path.splitext(base)[0]
                found, name = {0: base}, None
                prefix = stem
            else:
                name, found = got
        else:
            raise SourceError(f"{text} does not exist")
    except MediaError as exc:
        raise SourceError(str(exc)) from None
    if not found:
        raise SourceError(f"no files match {text}")
    if name is not None:
        folder = name.folder or "."
        prefix = name.prefix.rstrip("._-") or "matte"
    first = min(found)
    path0 = Path(folder) / found[first]
    if not is_image_file(str(path0)):
        raise SourceError(f"{path0} is not an image file")
    h, w = read_image(path0).shape
    obj = prefix
    files = {obj: {n: Path(folder) / f for n, f in found.items()}}
    return MatteSequence(obj, [obj], sorted(found), w, h, files, False, text)
