"""Every model segmatte knows: source, revision, size, licence, digests.

``repo`` entries live on the Hugging Face hub and are stored in its standard
cache layout, so ``from_pretrained(repo, local_files_only=True)`` finds them
too. ``url`` entries (weights published outside the hub) are stored in
segmatte's own cache folder.

Digests: ``sha256`` maps a file to its pinned digest. Where a digest is not
pinned yet (``None``) ``pull`` verifies each file against the digest the hub
publishes for it (the LFS sha256, or the git blob id for small files) and
prints it, so it can be pinned here after a verified pull. Sizes are the
approximate download in MB, for the listing only.

Licences that are not permissive (gated, non-commercial, GPL) are opt-in:
``pull`` refuses them without ``--accept-licence`` and prints the terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import EngineError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    engine: str
    """The engine that uses it: track, text, person, semantic, finish."""
    family: str
    """The transformers model type (``sam2_video``, ``edgetam_video``, ...) or our own."""
    licence: str
    repo: str | None = None
    revision: str = "main"
    url: str | None = None
    files: tuple[str, ...] = ("*.json", "*.safetensors")
    """Glob patterns of the repo's files to fetch (``repo``) or the file names (``url``)."""
    required: tuple[str, ...] = ("config.json", "model.safetensors")
    size_mb: float = 0.0
    sha256: dict[str, str | None] = field(default_factory=dict)
    opt_in: bool = False
    """The licence must be accepted explicitly (gated, non-commercial, GPL)."""
    gated: bool = False
    """The hub asks for an account that accepted the terms (and a token: ``HF_TOKEN``)."""
    licence_url: str | None = None
    description: str = ""


_APACHE = "Apache-2.0"

from ..semantic.catalog import entries as _semantic_entries  # noqa: E402  (needs ModelEntry)

CATALOG: tuple[ModelEntry, ...] = (
    ModelEntry("sam2.1-tiny", "track", "sam2_video", _APACHE, repo="facebook/sam2.1-hiera-tiny",
               size_mb=156, description="SAM 2.1 Hiera tiny (39 M): the fast default"),
    ModelEntry("sam2.1-small", "track", "sam2_video", _APACHE, repo="facebook/sam2.1-hiera-small",
               size_mb=185, description="SAM 2.1 Hiera small (46 M)"),
    ModelEntry("sam2.1-base-plus", "track", "sam2_video", _APACHE,
               repo="facebook/sam2.1-hiera-base-plus", size_mb=324,
               description="SAM 2.1 Hiera base+ (81 M)"),
    ModelEntry("sam2.1-large", "track", "sam2_video", _APACHE, repo="facebook/sam2.1-hiera-large",
               size_mb=898, description="SAM 2.1 Hiera large (224 M): best quality"),
    # the repo id transformers' own docs and tests use for EdgeTAM
    ModelEntry("edgetam", "track", "edgetam_video", _APACHE, repo="yonigozlan/EdgeTAM-hf",
               size_mb=56, description="EdgeTAM: SAM 2 quality class at a fraction of the cost"),
    ModelEntry("sam3-tracker", "track", "sam3_tracker_video", "SAM License (Meta)",
               repo="facebook/sam3", size_mb=3450, opt_in=True, gated=True,
               licence_url="https://huggingface.co/facebook/sam3",
               description="SAM 3 tracker (gated: accept the licence on the hub and here)"),
    # the same checkpoint: Sam3Model (detector) and Sam3TrackerVideoModel both load from it;
    # the tokenizer (CLIP BPE) comes with it for the text prompts
    ModelEntry("sam3", "text", "sam3_video", "SAM License (Meta)", repo="facebook/sam3",
               files=("*.json", "*.safetensors", "*.txt"),
               required=("config.json", "model.safetensors", "tokenizer_config.json"),
               size_mb=3450, opt_in=True, gated=True,
               licence_url="https://huggingface.co/facebook/sam3",
               description="SAM 3 (848 M): text prompts, every instance found and tracked "
                           "(gated: accept the licence on the hub and here)"),
    # room for the other engines' weights (their engines load them)
    ModelEntry("rvm-mobilenetv3", "person", "rvm", "GPL-3.0",
               url="https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/"
                   "rvm_mobilenetv3.pth",
               files=("rvm_mobilenetv3.pth",), required=("rvm_mobilenetv3.pth",), size_mb=15,
               opt_in=True, licence_url="https://github.com/PeterL1n/RobustVideoMatting",
               description="Robust Video Matting, MobileNetV3 (person engine)"),
    ModelEntry("vitmatte-small", "finish", "vitmatte", _APACHE,
               repo="hustvl/vitmatte-small-composition-1k", size_mb=100,
               description="ViTMatte small (Composition-1k): soft edges for --refine vitmatte"),
    *_semantic_entries(),
)

_BY_NAME = {e.name: e for e in CATALOG}


def entries(engine: str | None = None) -> list[ModelEntry]:
    return [e for e in _BY_NAME.values() if engine is None or e.engine == engine]


def get(name: str) -> ModelEntry:
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise EngineError(f"unknown model {name!r}; known models: {known}") from None
