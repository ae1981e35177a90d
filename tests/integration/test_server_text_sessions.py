"""Text sessions through a real server: a text prompt on a frame, instance previews, a
refinement, and a propagation whose EXRs are a submitted ``text`` job's, frame for frame.

The Hugging Face cache holds a tiny random SAM 3 checkpoint where the catalog's
``sam3`` lives (tests/tiny_text.py) and the tiny SAM 2 of ``sam2.1-tiny``
(tests/tiny_track.py), so one server takes text and track sessions offline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from serverkit import ServerProcess
from test_server_sessions import WAIT, job_events, start_server, written

from segmatte.client.client import Client, ClientError
from segmatte.client.events import Done
from segmatte.client.jobspec import text_label
from segmatte.server.output.exr import read_matte

FIRST, LAST, KEY = 0, 9, 5
TEXT = "green disc"
OPTIONS = {"detection_threshold": 0.68, "max_instances": 5, "nms_iou": 1.0}
"""As test_cli_text.py: some of the five instance slots are found on frame 5, not all."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from tiny_text import save_to_hub
    from tiny_track import save_hub

    hub = tmp_path_factory.mktemp("text-session-hub")
    save_hub(hub)
    save_to_hub(hub)
    srv = start_server(tmp_path_factory.mktemp("srv"), hub)
    yield srv
    srv.stop(30)


@pytest.fixture
def client(server: ServerProcess):
    c = server.client(name="text-sessions")
    yield c
    c.close()


def exrs(folder: Path, name: str) -> dict[str, np.ndarray]:
    """File name → alpha of every EXR a job wrote."""
    return {p.name: read_matte(p)[0] for p in sorted(folder.glob(f"{name}_*.exr"))}


def refused(call, code: str, field: str | None) -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert (err.value.code, err.value.field) == (code, field), err.value
    return err.value.message


def test_text_prompt_refine_propagate_equals_the_job(client: Client, server: ServerProcess,
                                                     green_screen_clip, tmp_path: Path) -> None:
    src = os.fspath(green_screen_clip)
    opened = client.session_open(src, engine="text", options=OPTIONS,
                                 range={"first": FIRST, "last": LAST}, frame=KEY)
    sid = opened["session"]
    assert opened["model"] == "sam3"
    label = text_label(TEXT)
    assert label == "disc"

    preview = client.session_prompt(sid, KEY, text=TEXT)
    found = preview["instances"]
    assert preview["object"] == label and 0 < len(found) < 5
    assert [i["object"] for i in found] == [f"disc_{n}" for n in range(1, len(found) + 1)]
    assert all(i["detection"] > 0.68 for i in found)
    scores = [i["detection"] for i in found]
    assert scores == sorted(scores, reverse=True)  # numbered by score, as the job numbers them
    alphas = {}
    for inst in found:
        alpha, meta = read_matte(Path(inst["path"]))
        assert Path(inst["path"]).name == f"preview_{inst['object']}.{KEY:04d}.exr"
        assert meta["layer"] == inst["object"] and meta["text"] == TEXT
        alphas[inst["object"]] = alpha
    union, _ = read_matte(Path(preview["path"]))
    assert np.allclose(union, np.maximum.reduce(list(alphas.values())))
    assert set(preview["scores"]) >= set(alphas)

    # a negative point on disc_1's strongest pixel: it refines that instance (with its box)
    y, x = np.unravel_index(np.argmax(alphas["disc_1"]), alphas["disc_1"].shape)
    fix = client.session_prompt(sid, KEY, "disc_1", points=[{"x": float(x), "y": float(y),
                                                             "label": 0}])
    refined, _ = read_matte(Path(fix["path"]))
    assert not np.array_equal(refined, alphas["disc_1"])

    out = tmp_path / "session"
    job = client.session_propagate(sid, {"folder": str(out), "name": "t"}, direction="both")
    events = job_events(client, job)
    assert isinstance(events[-1], Done), events[-1]
    assert sorted(set(written(events))) == list(range(FIRST, LAST + 1))
    manifest = json.loads(Path(events[-1].manifest).read_text())
    assert manifest["layers"] == [f"disc_{n}" for n in range(1, 6)]
    ids = [o["id"] for o in manifest["spec"]["objects"]]
    assert ids == ["disc", "disc_1"] and manifest["spec"]["engine"] == "text"
    client.session_close(sid)

    # the same prompts as a submitted job (run_job, its own freshly loaded engine)
    ref = tmp_path / "job"
    spec = {"source": src, "engine": "text", "range": {"first": FIRST, "last": LAST},
            "direction": "both", "options": OPTIONS, "output": {"folder": str(ref), "name": "t"},
            "objects": [{"id": "disc", "keyframes": [{"frame": KEY, "text": TEXT}]},
                        {"id": "disc_1", "keyframes": [{"frame": KEY, "points": [
                            {"x": float(x), "y": float(y), "label": 0}]}]}]}
    end = client.wait(client.submit(spec), WAIT)
    assert isinstance(end, Done), end
    ours, theirs = exrs(out, "t"), exrs(ref, "t")
    assert sorted(ours) == sorted(theirs) and len(ours) == 5 * (LAST - FIRST + 1)
    for name in theirs:
        assert np.array_equal(ours[name], theirs[name]), name
    assert any(ours[f"t_disc_1.{n:04d}.exr"].max() > 0.5 for n in range(FIRST, LAST + 1))
    # the previews showed what the job writes on the keyframe
    assert np.allclose(ours[f"t_disc_1.{KEY:04d}.exr"], refined, atol=2e-3)
    for inst in found[1:]:
        assert np.allclose(ours[f"t_{inst['object']}.{KEY:04d}.exr"], alphas[inst["object"]],
                           atol=2e-3), inst


def test_text_refused_where_it_cannot_go(client: Client, green_screen_clip) -> None:
    src = os.fspath(green_screen_clip)
    sid = client.session_open(src, range={"first": 0, "last": 4})["session"]  # track
    try:
        msg = refused(lambda: client.session_prompt(sid, 1, text="car"), "bad_field", "text")
        assert "not text" in msg and '"text"' in msg
        refused(lambda: client.session_prompt(sid, 1), "bad_field", "object")
    finally:
        client.session_close(sid)
    refused(lambda: client.session_open(src, engine="text", model="sam2.1-tiny"),
            "bad_engine", "model")
    refused(lambda: client.session_open(src, engine="text", options={"max_instances": 0}),
            "bad_engine", "options")
    sid = client.session_open(src, engine="text", options=OPTIONS,
                              range={"first": 0, "last": 4})["session"]
    try:
        pt = [{"x": 10, "y": 10}]
        refused(lambda: client.session_prompt(sid, 1, text="car", points=pt), "bad_field", "text")
        client.session_prompt(sid, 1, text="red car")
        msg = refused(lambda: client.session_prompt(sid, 2, text="blue car"), "bad_field", "text")
        assert "car_1" in msg
        refused(lambda: client.session_prompt(sid, 1, "car", points=pt), "bad_field", "object")
        refused(lambda: client.session_prompt(sid, 1, "car_6", points=pt), "bad_field", "object")
    finally:
        client.session_close(sid)


def test_text_that_finds_nothing_previews_an_empty_union(client: Client, green_screen_clip) -> None:
    sid = client.session_open(os.fspath(green_screen_clip), engine="text",
                              options={"detection_threshold": 1.0},
                              range={"first": 0, "last": 4})["session"]
    try:
        preview = client.session_prompt(sid, 2, text="person", preview_size=80)
        assert preview["object"] == "person" and preview["instances"] == []
        assert preview["score"] == 0.0
        union, meta = read_matte(Path(preview["path"]))
        assert union.shape == (60, 80) and not union.any() and meta["layer"] == "person"
    finally:
        client.session_close(sid)
