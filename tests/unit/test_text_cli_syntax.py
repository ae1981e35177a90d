"""``--text "TEXT"@FRAME[:OBJ]`` builds concept objects; clicks on ``OBJ_n`` refine instances."""

from __future__ import annotations

import pytest

from segmatte.models.prompts import Point
from segmatte.models.track.cli_syntax import PromptSyntaxError, build_objects, parse_text


def test_text_flag_names_the_concept_by_its_last_word_or_obj():
    assert parse_text("red car@1001") == (1001, "car", "red car")
    assert parse_text('"red car"@1001:vehicle') == (1001, "vehicle", "red car")
    assert parse_text("person@7") == (7, "person", "person")


def test_text_and_refining_clicks_become_objects():
    objs = build_objects(points=["30,40@1001:car_2:neg"], texts=["red car@1001", "red car@1040"])
    by_id = {o.id: o for o in objs}
    assert [(k.frame, k.text) for k in by_id["car"].keyframes] == [(1001, "red car"),
                                                                   (1040, "red car")]
    assert by_id["car_2"].keyframes[0].points == (Point(x=30, y=40, label=0),)


@pytest.mark.parametrize("bad", ["person", "@1001", "car@x", "car@1001:a:b"])
def test_bad_text_flags_say_the_syntax(bad):
    with pytest.raises(PromptSyntaxError, match="expected TEXT@FRAME"):
        parse_text(bad)


def test_two_texts_for_one_object_on_one_frame_are_refused():
    with pytest.raises(PromptSyntaxError, match="two texts for car on frame 5"):
        build_objects(texts=["red car@5", "blue car@5"])
