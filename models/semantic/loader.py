"""Catalog name (or a local checkpoint folder) → :class:`~.segmenter.Segmenter`.

Weights are read with ``local_files_only=True`` from the folder
:mod:`segmatte.models.weights.cache` resolves: a model that was never pulled
fails with the exact ``segmatte models pull NAME`` command instead of a
download inside a job. A folder path (a fine-tuned or converted checkpoint
saved with ``save_pretrained``) is loaded as is; its family comes from its
``config.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine import EngineError
from ..hf import transformers_module
from .catalog import DATASET
from .families import FAMILIES, MODEL_TYPES

if TYPE_CHECKING:  # torch loads in load(), not when the door checks a model (check_ready)
    from .segmenter import Segmenter


def is_folder(model: str) -> bool:
    """True when ``model`` names a local checkpoint folder rather than a catalog entry."""
    return model not in DATASET and Path(model).expanduser().is_dir()


def _folder_config(path: Path) -> dict:
    try:
        return json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path} holds no readable transformers config.json ({exc})") from None


def folder_labels(model: str) -> dict[int, str]:
    """The ``id2label`` of a checkpoint folder, read from its config.json (no weights load)."""
    config = _folder_config(Path(model).expanduser())
    return {int(k): v for k, v in config.get("id2label", {}).items()}


def _family_of_folder(path: Path) -> str:
    model_type = _folder_config(path).get("model_type", "")
    family = MODEL_TYPES.get(model_type)
    if family is None:
        raise EngineError(f"{path} holds a {model_type or 'unknown'} model; the semantic engine "
                          f"runs {', '.join(sorted(FAMILIES))}")
    return family


def _resolve(model: str) -> tuple[Path, str, str | None]:
    """(folder, family, pull command or None) for a catalog name or a folder."""
    if is_folder(model):
        path = Path(model).expanduser()
        return path, _family_of_folder(path), None
    from ..weights import cache, catalog

    entry = catalog.get(model)  # EngineError listing known models
    if entry.engine != "semantic" or entry.family not in FAMILIES:
        semantic = ", ".join(e.name for e in catalog.entries("semantic"))
        raise EngineError(f"model {model} is not a semantic segmentation model; "
                          f"semantic models: {semantic}")
    return cache.require(entry), entry.family, cache.pull_command(entry)


def check_ready(model: str) -> None:
    """Raise :class:`EngineError` unless ``model`` can load here: a pulled catalog
    model of this engine, or a folder with a supported config. Looks, does not load."""
    _resolve(model)


def load(model: str, *, device: str = "cpu", dtype: str = "float32") -> Segmenter:
    """Load a semantic model from the local cache (or a folder), ready on ``device``."""
    path, family, pull = _resolve(model)
    import torch
    transformers = transformers_module()

    from .segmenter import Segmenter

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

    model_name, processor_name, _, _ = FAMILIES[family]
    model_cls = getattr(transformers, model_name)
    try:
        net = model_cls.from_pretrained(path, dtype=dtypes[dtype], local_files_only=True)
        if family == "oneformer":
            processor = _oneformer_processor(path)
        else:
            processor = getattr(transformers, processor_name).from_pretrained(
                path, local_files_only=True)
    except (OSError, ValueError) as exc:
        again = f"; fetch it again with: {pull}" if pull else ""
        raise EngineError(f"model {model} in {path} could not be loaded ({exc}){again}") from None
    return Segmenter(net.to(device).eval(), processor, family, device)


def _oneformer_processor(path: Path):
    """OneFormer's processor without its class-info file.

    Published OneFormer configs name a ``class_info_file`` that the image
    processor downloads from another hub repo at construction; it only feeds
    the text branch in training, so semantic inference does without it
    (``class_info_file=None``) and stays offline. The task prompt still goes
    through the checkpoint's own CLIP tokenizer.
    """
    transformers = transformers_module()

    image_processor = transformers.OneFormerImageProcessor.from_pretrained(
        path, class_info_file=None, local_files_only=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return transformers.OneFormerProcessor(image_processor=image_processor, tokenizer=tokenizer)
