"""Options of the ``semantic`` engine (validated at the door with the job spec).

Class names are checked here, before any weights load: against the class
list of the catalog model named (so ``--classes skye`` fails at once, with
``sky`` suggested), or, for a local checkpoint folder, against every dataset
we know (the folder's own labels are checked again when it loads).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..engine import PATH_OR_NAME_OPTION, EngineCard, EngineError, EngineOptions
from .catalog import DATASET, DEFAULT_MODEL
from .classes import DATASETS, UNION_LAYER, check_names, parse_names, resolve


class SemanticOptions(EngineOptions):
    model: str = Field(DEFAULT_MODEL, description="catalog name (see `segmatte models list`) or "
                       "the folder of a transformers checkpoint saved with save_pretrained",
                       json_schema_extra=PATH_OR_NAME_OPTION)
    classes: list[str] = Field(
        default_factory=list, description="class or group names, one layer each (layer name = "
        "the class name in lower case with '_' for spaces, e.g. traffic_light); a comma-"
        "separated string is accepted: 'sky,person'")
    union: bool = Field(False, description="one layer, 'matte', holding all requested classes "
                                           "instead of one layer per class")
    smoothing: float = Field(0.5, ge=0.0, le=1.0, description="temporal smoothing of the class "
                             "probabilities along optical flow (reduce chatter); 0 = off, and "
                             "then each frame stands alone")
    smoothing_radius: int = Field(2, ge=1, le=8, description="frames on each side that smoothing "
                                  "averages (and the latency, in frames, it adds)")
    max_size: int | None = Field(1024, ge=64, description="longest side, in pixels, at which "
                                 "the model's scores are computed; larger frames are scaled down "
                                 "for inference and the probabilities scaled back up smoothly; "
                                 "None = source size")
    tile_size: int | None = Field(None, ge=64, description="cut the (scaled) frame into "
                                  "overlapping tiles of this size that the model sees at their own "
                                  "resolution (thin structures in 4K); None = whole frame, resized "
                                  "by the model's processor")
    tile_overlap: int | None = Field(None, ge=0, description="pixels neighbouring tiles "
                                     "share; the blend ramps over them, so there are no seams; "
                                     "None = a quarter of tile_size")
    device: str | None = Field(None, description="torch device (cuda, cuda:1, mps, cpu); None = "
                               "the server's choice")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="compute dtype; float16/bfloat16 halve GPU memory")

    @field_validator("classes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, (str, list, tuple)):
            return parse_names(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> SemanticOptions:
        if not self.classes:
            raise ValueError("the semantic engine needs classes, e.g. --classes sky,person "
                             "(class names or groups: people, vehicle, vegetation, ...)")
        if self.tile_size is not None and self.tile_overlap is not None \
                and self.tile_overlap >= self.tile_size // 2:
            raise ValueError(f"tile_overlap ({self.tile_overlap}) must be less than half the "
                             f"tile_size ({self.tile_size})")
        if self.model in DATASET:
            labels = DATASETS[DATASET[self.model]]
            resolve(self.classes, dict(enumerate(labels)), model=self.model)
        else:
            check_names(self.classes)
        return self

    @property
    def overlap(self) -> int:
        """The tile overlap in pixels (``tile_overlap`` or a quarter tile)."""
        if self.tile_overlap is not None:
            return self.tile_overlap
        return (self.tile_size or 0) // 4

    def layer_names(self, model: str | None = None) -> tuple[str, ...]:
        """The layers the engine will yield, in order (for the job's output plan).

        Exact, for catalog models and checkpoint folders alike (a folder's
        labels come from its config.json). Raises ValueError for a name the
        model does not know.
        """
        name = model or self.model
        if self.union:
            return (UNION_LAYER,)
        return tuple(s.layer for s in resolve(self.classes, self.labels(name), model=name))

    def labels(self, model: str | None = None) -> dict[int, str]:
        """``id2label`` of the model, without loading it: the catalog's class list, or
        a checkpoint folder's config.json. Raises ValueError for an unknown model."""
        name = model or self.model
        if name in DATASET:
            return dict(enumerate(DATASETS[DATASET[name]]))
        from .loader import folder_labels, is_folder

        if not is_folder(name):
            raise ValueError(f"unknown semantic model {name!r}; known: {', '.join(DATASET)}")
        return folder_labels(name)


class SemanticCard(EngineCard):
    name = "semantic"
    description = ("per-pixel classes (sky, person, vehicle, ...) from Mask2Former, OneFormer "
                   "or SegFormer: one soft matte layer per class, smoothed over time")
    Options = SemanticOptions
    temporal = True
    """May carry state (smoothing); instances with ``smoothing = 0`` say False."""
    needs_objects = False

    @classmethod
    def check_ready(cls, options: SemanticOptions, model: str | None) -> None:  # type: ignore[override]
        """At the door: the model is pulled (or the folder loads) and knows every class."""
        from .loader import check_ready

        name = model or options.model
        check_ready(name)
        try:
            options.layer_names(name)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
