"""Writing mattes: OpenEXR frames (exr), the sequence's manifest (manifest),
and the bounded pool that writes frames while the engine computes (writer_pool)."""

from .exr import (
    ExrError,
    file_sha256,
    is_complete,
    is_ours,
    matte_header,
    read_matte,
    sequence_path,
    write_matte,
)
from .manifest import (
    FrameFile,
    FrameRecord,
    Manifest,
    ManifestError,
    load_manifest,
    manifest_path,
    write_manifest,
)
from .writer_pool import WriteError, WriterPool

__all__ = [
    "ExrError",
    "FrameFile",
    "FrameRecord",
    "Manifest",
    "ManifestError",
    "WriteError",
    "WriterPool",
    "file_sha256",
    "is_complete",
    "is_ours",
    "load_manifest",
    "manifest_path",
    "matte_header",
    "read_matte",
    "sequence_path",
    "write_manifest",
    "write_matte",
]
