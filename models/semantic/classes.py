"""Class names the semantic models know, the groups we offer, and name lookup.

Each dataset's list is the ``id2label`` of the published ``transformers``
checkpoints, in id order (ADE20K's ``"bed "`` keeps its stray space: that is
what the configs say). At run time the loaded model's own ``config.id2label``
is the truth; these lists let a job's class names be checked at the door,
before any weights load, and give the README its tables.

**Canonical names.** Users type ``sky``, ``Traffic Light`` or
``traffic_light``; checkpoints say ``sky-other-merged`` (COCO panoptic) or
``bed ``. Both sides go through :func:`canonical`: lower case, COCO's
``-merged`` / ``-other`` / ``-stuff`` suffixes dropped, ``-``/``_`` and runs of
spaces made one ``_``. The canonical name is also the layer name (so it is
safe in file names and EXR channel names): ``traffic_light``.

**Groups** gather classes under one layer (``vehicle`` = car + truck + bus + …):
each member the model knows adds its probability; members the model lacks are
skipped (a Cityscapes model has no ``van``). A group whose members the model
does not know at all is an error, like an unknown class. A group named like a
class (``water``: water + sea + river + lake + …) contains that class and
wins over it: for a matte, "water" means all of it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ADE20K: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed ", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain",
    "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug",
    "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub",
    "railing", "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter",
    "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs",
    "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning",
    "streetlight", "booth", "television receiver", "airplane", "dirt track", "apparel", "pole",
    "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van",
    "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool",
    "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle",
    "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce", "vase",
    "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip
"""ADE20K SceneParsing, 150 classes (SegFormer, Mask2Former and OneFormer ADE checkpoints)."""

CITYSCAPES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip
"""Cityscapes, the 19 evaluated classes."""

COCO_PANOPTIC: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    "banner", "blanket", "bridge", "cardboard", "counter", "curtain", "door-stuff", "floor-wood",
    "flower", "fruit", "gravel", "house", "light", "mirror-stuff", "net", "pillow", "platform",
    "playingfield", "railroad", "river", "road", "roof", "sand", "sea", "shelf", "snow",
    "stairs", "tent", "towel", "wall-brick", "wall-stone", "wall-tile", "wall-wood",
    "water-other", "window-blind", "window-other", "tree-merged", "fence-merged",
    "ceiling-merged", "sky-other-merged", "cabinet-merged", "table-merged", "floor-other-merged",
    "pavement-merged", "mountain-merged", "grass-merged", "dirt-merged", "paper-merged",
    "food-other-merged", "building-other-merged", "rock-merged", "wall-other-merged",
    "rug-merged",
)  # fmt: skip
"""COCO panoptic, 80 things + 53 stuff classes (Mask2Former / OneFormer COCO checkpoints)."""

DATASETS: dict[str, tuple[str, ...]] = {
    "ade20k": ADE20K,
    "cityscapes": CITYSCAPES,
    "coco-panoptic": COCO_PANOPTIC,
}

GROUPS: dict[str, tuple[str, ...]] = {
    "people": ("person", "rider"),
    "vehicle": ("car", "truck", "bus", "van", "train", "motorcycle", "minibike", "bicycle"),
    "vegetation": ("vegetation", "tree", "grass", "plant", "potted_plant", "flower", "palm"),
    "water": ("water", "sea", "river", "lake", "waterfall", "swimming_pool"),
    "ground": ("road", "sidewalk", "floor", "floor_wood", "earth", "sand", "path", "field",
               "land", "dirt", "dirt_track", "terrain", "gravel", "pavement", "playingfield",
               "runway", "snow"),
    "building": ("building", "house", "skyscraper", "tower", "hovel", "roof"),
    "landscape": ("mountain", "hill", "rock", "terrain"),
    "animal": ("animal", "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear",
               "zebra", "giraffe"),
    "sign": ("traffic_sign", "traffic_light", "signboard", "stop_sign", "streetlight"),
}
"""Group name → canonical member class names (across all datasets)."""

ALIASES: dict[str, str] = {
    "human": "person",
    "pedestrian": "person",
    "tv": "television_receiver",
    "television": "television_receiver",
    "motorbike": "motorcycle",
    "bike": "bicycle",
    "trees": "tree",
    "plants": "vegetation",
}
"""Everyday words → canonical class or group names. A model's own class of
that name wins (COCO has a ``tv`` class)."""

UNION_LAYER = "matte"
"""The layer name of the union of all requested classes."""

_SUFFIXES = re.compile(r"(-merged|-other|-stuff)+$")
_SEPARATORS = re.compile(r"[\s_\-]+")


def canonical(name: str) -> str:
    """The lookup key and layer name of a class name (see the module docstring)."""
    key = _SUFFIXES.sub("", name.strip().lower())
    return _SEPARATORS.sub("_", key).strip("_")


def parse_names(value: str | Iterable[str]) -> list[str]:
    """``"sky,person"`` or ``["sky", "person"]`` → ``["sky", "person"]``.

    The CLI hands over what the user typed after ``--classes``; a list may
    also carry comma-separated items. Empty items are dropped.
    """
    items = [value] if isinstance(value, str) else list(value)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def all_known_names() -> set[str]:
    """Canonical names of every class of every dataset, every group and alias."""
    names = {canonical(n) for labels in DATASETS.values() for n in labels}
    return names | set(GROUPS) | set(ALIASES)


def near_matches(name: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` choices that look like ``name`` (typos, plurals, prefixes)."""
    key = canonical(name)
    pool = sorted(set(choices))
    close = difflib.get_close_matches(key, pool, n=n, cutoff=0.6)
    starts = [c for c in pool if (c.startswith(key) or key.startswith(c)) and c not in close]
    return (close + starts)[:n]


def unknown_message(names: Sequence[str], choices: Iterable[str], where: str) -> str:
    """One sentence per unknown name with its near matches."""
    choices = sorted(set(choices))
    parts = []
    for name in names:
        near = near_matches(name, choices)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        parts.append(f"{name!r}{hint}")
    groups = ", ".join(sorted(GROUPS))
    return (f"unknown class{'es' if len(names) > 1 else ''} {'; '.join(parts)} {where}; "
            f"groups: {groups}; `segmatte engines` and the semantic README list every class")


def check_names(names: Sequence[str]) -> None:
    """Raise ValueError for names no dataset, group or alias knows (the door's check)."""
    known = all_known_names()
    unknown = [n for n in names if canonical(n) not in known]
    if unknown:
        raise ValueError(unknown_message(unknown, known, "in any supported model"))


@dataclass(frozen=True)
class Selection:
    """One output layer: its name and the model class ids whose probabilities add up to it."""

    layer: str
    ids: tuple[int, ...]


def label_index(id2label: Mapping[int, str] | Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """Canonical name → class ids of a model (COCO's ``wall-brick`` … stay apart,
    but two labels that canonicalise alike map to both ids)."""
    index: dict[str, list[int]] = {}
    for i, label in sorted((int(k), v) for k, v in id2label.items()):
        index.setdefault(canonical(label), []).append(i)
    return {k: tuple(v) for k, v in index.items()}


def resolve(names: Sequence[str], id2label: Mapping[int, str] | Mapping[str, str],
            *, union: bool = False, model: str = "this model") -> list[Selection]:
    """Requested names → the layers to produce for a model with ``id2label``.

    A name is, in this order, a group, a class of the model, or an alias of
    either. Where a group and a class share a name (``water``, ``building``,
    ``vegetation``, ``animal``) the group wins: it always contains the class. Raises ValueError naming every unknown name with near matches
    among this model's classes and the groups. With ``union`` the result is
    one :data:`UNION_LAYER` selection holding every requested id once.
    """
    index = label_index(id2label)
    selections: list[Selection] = []
    unknown: list[str] = []
    for name in names:
        key = canonical(name)
        if key not in index and key not in GROUPS and key in ALIASES:
            key = ALIASES[key]
        if key in GROUPS:  # a group named like a class contains that class
            ids = tuple(i for member in GROUPS[key] for i in index.get(member, ()))
        else:
            ids = index.get(key, ())
        if not ids:
            unknown.append(name)
            continue
        if key not in (s.layer for s in selections):
            selections.append(Selection(key, ids))
    if unknown:
        usable = set(index) | {g for g, members in GROUPS.items() if any(m in index for m in members)}
        raise ValueError(unknown_message(unknown, usable, f"for {model}"))
    if union:
        ids = tuple(dict.fromkeys(i for s in selections for i in s.ids))
        return [Selection(UNION_LAYER, ids)]
    return selections
