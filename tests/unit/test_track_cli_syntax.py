"""The proposed command-line prompt syntax and frame orders."""

from __future__ import annotations

import pytest

from segmatte.models.track.cli_syntax import (
    PromptSyntaxError,
    build_objects,
    parse_box,
    parse_mask,
    parse_point,
)
from segmatte.models.track.order import plan_order


def test_parse_point():
    f, o, p = parse_point("640,360@1001:car")
    assert (f, o, p.x, p.y, p.label) == (1001, "car", 640.0, 360.0, 1)
    f, o, p = parse_point("10.5,20@7:car:neg")
    assert (f, o, p.label) == (7, "car", 0)
    assert parse_point("1,2@3")[1] == "object"
    assert parse_point("1,2@3::neg")[2].label == 0
    assert parse_point("1,2@3:-")[2].label == 0


@pytest.mark.parametrize("bad", ["1,2", "1@3", "a,b@3", "1,2@x", "1,2@3:a:b:neg", "1,2,3@4"])
def test_bad_points_say_the_syntax(bad):
    with pytest.raises(PromptSyntaxError, match="X,Y@FRAME"):
        parse_point(bad)


def test_parse_box_and_mask():
    f, o, b = parse_box("100,80,420,600@1001:car")
    assert (f, o, b.x0, b.y1) == (1001, "car", 100.0, 600.0)
    with pytest.raises(PromptSyntaxError, match="top-left"):
        parse_box("420,600,100,80@1")
    assert parse_mask("masks/car@2x.png@12:car") == (12, "car", "masks/car@2x.png")


def test_build_objects_groups_by_object_and_frame():
    objs = build_objects(points=["1,1@5:a", "2,2@5:a:neg", "3,3@9:b"], boxes=["0,0,4,4@5:a"],
                         masks=["m.png@2:b"])
    assert [o.id for o in objs] == ["a", "b"]
    (kf,) = objs[0].keyframes
    assert kf.frame == 5 and len(kf.points) == 2 and len(kf.boxes) == 1
    assert [k.frame for k in objs[1].keyframes] == [2, 9]
    assert objs[1].keyframes[0].mask == "m.png"


def test_plan_order():
    assert plan_order("forward", 10, 14, [12]) == [10, 11, 12, 13, 14]
    assert plan_order("backward", 10, 14, [12]) == [14, 13, 12, 11, 10]
    assert plan_order("both", 10, 14, [13, 12]) == [12, 11, 10, 13, 14]
    with pytest.raises(ValueError):
        plan_order("both", 10, 14, [])
