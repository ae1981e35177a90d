"""Class names, groups and aliases → layers; the door's check of class names; catalog."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from segmatte.models.semantic import catalog
from segmatte.models.semantic.classes import (
    ADE20K,
    CITYSCAPES,
    COCO_PANOPTIC,
    DATASETS,
    GROUPS,
    UNION_LAYER,
    Selection,
    canonical,
    label_index,
    parse_names,
    resolve,
)
from segmatte.models.semantic.options import SemanticOptions

ADE = dict(enumerate(ADE20K))
CITY = dict(enumerate(CITYSCAPES))
COCO = dict(enumerate(COCO_PANOPTIC))


def test_dataset_sizes() -> None:
    assert (len(ADE20K), len(CITYSCAPES), len(COCO_PANOPTIC)) == (150, 19, 133)
    for labels in DATASETS.values():  # every class has its own canonical name
        assert len({canonical(n) for n in labels}) == len(labels)


@pytest.mark.parametrize("raw, key", [
    ("sky", "sky"), ("Sky ", "sky"), ("bed ", "bed"), ("Traffic Light", "traffic_light"),
    ("traffic-light", "traffic_light"), ("traffic_light", "traffic_light"),
    ("sky-other-merged", "sky"), ("door-stuff", "door"), ("wall-brick", "wall_brick"),
    ("floor-other-merged", "floor"), ("chest of drawers", "chest_of_drawers"),
])
def test_canonical(raw: str, key: str) -> None:
    assert canonical(raw) == key


def test_parse_names_takes_the_cli_string_or_a_list() -> None:
    assert parse_names("sky,person") == ["sky", "person"]
    assert parse_names(" sky , ,person ") == ["sky", "person"]
    assert parse_names(["sky", "person,car"]) == ["sky", "person", "car"]


def test_class_by_name_is_one_layer_per_class() -> None:
    assert resolve(["sky", "person"], ADE) == [Selection("sky", (2,)), Selection("person", (12,))]
    # the same request on another dataset finds that dataset's ids
    assert resolve(["sky", "person"], CITY) == [Selection("sky", (10,)), Selection("person", (11,))]
    # COCO's merged stuff class answers to the plain name
    sky = COCO_PANOPTIC.index("sky-other-merged")
    assert resolve(["sky"], COCO) == [Selection("sky", (sky,))]


def test_group_gathers_the_members_the_model_knows() -> None:
    (vehicle,) = resolve(["vehicle"], CITY)
    assert vehicle.layer == "vehicle"
    assert [CITYSCAPES[i] for i in vehicle.ids] == ["car", "truck", "bus", "train", "motorcycle",
                                                     "bicycle"]
    (vehicle,) = resolve(["vehicle"], ADE)
    assert {ADE20K[i] for i in vehicle.ids} == {"car", "truck", "bus", "van", "minibike", "bicycle"}
    (people,) = resolve(["people"], CITY)
    assert {CITYSCAPES[i] for i in people.ids} == {"person", "rider"}


def test_a_group_named_like_a_class_contains_it_and_wins() -> None:
    (water,) = resolve(["water"], ADE)
    assert water.layer == "water"
    assert {ADE20K[i] for i in water.ids} == {"water", "sea", "river", "lake", "waterfall",
                                              "swimming pool"}
    for group, members in GROUPS.items():
        if any(group == canonical(n) for labels in DATASETS.values() for n in labels):
            assert group in members, group


def test_every_group_has_members_in_some_dataset() -> None:
    for group, members in GROUPS.items():
        found = {m for labels in DATASETS.values() for m in label_index(dict(enumerate(labels)))
                 if m in members}
        assert found, group


def test_alias_and_a_models_own_class_wins() -> None:
    assert resolve(["human"], ADE) == [Selection("person", (12,))]
    tv = ADE20K.index("television receiver")
    assert resolve(["tv"], ADE) == [Selection("television_receiver", (tv,))]
    assert resolve(["tv"], COCO) == [Selection("tv", (COCO_PANOPTIC.index("tv"),))]


def test_union_is_one_layer_with_each_id_once() -> None:
    (union,) = resolve(["car", "vehicle", "sky"], ADE, union=True)
    assert union.layer == UNION_LAYER
    assert len(union.ids) == len(set(union.ids))
    assert set(union.ids) == {2} | set(resolve(["vehicle"], ADE)[0].ids)


def test_duplicates_give_one_layer() -> None:
    assert resolve(["sky", "Sky", "sky-other-merged"], COCO) == resolve(["sky"], COCO)


def test_unknown_names_one_error_with_near_matches() -> None:
    with pytest.raises(ValueError) as err:
        resolve(["skye", "persn", "sky"], ADE, model="segformer-b0-ade")
    msg = str(err.value)
    assert "'skye'" in msg and "'persn'" in msg and "sky" in msg and "person" in msg
    assert "segformer-b0-ade" in msg and "vehicle" in msg  # groups listed


def test_a_class_the_model_lacks_is_unknown_for_it() -> None:
    with pytest.raises(ValueError, match="'van'"):
        resolve(["van"], CITY)


def test_options_accept_the_cli_string_and_check_at_the_door() -> None:
    o = SemanticOptions(classes="sky,person", model="segformer-b0-ade")
    assert o.classes == ["sky", "person"]
    assert o.layer_names() == ("sky", "person")
    assert SemanticOptions(classes=["vehicle", "sky"], union=True).layer_names() == (UNION_LAYER,)
    with pytest.raises(ValidationError, match="did you mean sky"):
        SemanticOptions(classes="skye")
    with pytest.raises(ValidationError, match="needs classes"):
        SemanticOptions()
    with pytest.raises(ValidationError, match="'van'"):  # Cityscapes has no van
        SemanticOptions(classes="van", model="mask2former-tiny-cityscapes")
    with pytest.raises(ValidationError, match="tile_overlap"):
        SemanticOptions(classes="sky", tile_size=256, tile_overlap=200)
    assert SemanticOptions(classes="sky", tile_size=256).overlap == 64
    with pytest.raises(ValidationError):
        SemanticOptions(classes="sky", colour="red")  # extra fields are refused


def test_catalog_entries_match_their_datasets() -> None:
    entries = catalog.entries()
    assert {e.name for e in entries} == set(catalog.DATASET)
    assert catalog.DEFAULT_MODEL in catalog.DATASET
    for e in entries:
        assert e.engine == "semantic" and e.repo and e.family in ("segformer", "mask2former",
                                                                  "oneformer")
        assert catalog.DATASET[e.name] in DATASETS
        assert e.opt_in == (e.family == "segformer")  # NVIDIA's non-commercial licence


def test_the_weights_registry_lists_every_semantic_checkpoint() -> None:
    from segmatte.models.weights import catalog as registry

    names = {e.name for e in registry.entries("semantic")}
    if not set(catalog.DATASET) <= names:
        pytest.skip("weights.catalog does not append models/semantic/catalog.entries() yet")
    assert names == set(catalog.DATASET)
    assert {e.name: e for e in registry.entries("semantic")} == \
        {e.name: e for e in catalog.entries()}
