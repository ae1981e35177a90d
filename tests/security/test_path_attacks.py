"""Every path in a request goes through the one path guard, before anything is opened.

Against a real server: engine options that name files (a clean plate, weights,
a checkpoint folder), relative paths, and the same answer for a foreign file
whether or not it exists (a refusal must not tell a client what is there).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from serverkit import RawPeer, ServerProcess, key_spec

from segmatte.client.client import ClientError


def refusal(client, spec: dict) -> ClientError:
    with pytest.raises(ClientError) as err:
        client.submit(spec)
    return err.value


@pytest.fixture
def client(server: ServerProcess):
    c = server.client(name="pytest")
    yield c
    c.close()


def test_engine_options_naming_files_pass_the_guard(client, clips: dict[str, str],
                                                    tmp_path: Path) -> None:
    out = tmp_path / "o"
    cases = [
        ({**key_spec(clips["short"], out),
          "options": {"mode": "difference", "clean_plate": "/etc/passwd"}},
         "spec.options.clean_plate"),
        ({**key_spec(clips["short"], out), "engine": "person",
          "options": {"weights": "/etc/passwd"}}, "spec.options.weights"),
        ({**key_spec(clips["short"], out), "engine": "semantic",
          "options": {"model": "/etc", "classes": ["sky"]}}, "spec.options.model"),
        ({**key_spec(clips["short"], out), "engine": "semantic", "model": "/etc",
          "options": {"classes": ["sky"]}}, "spec.model"),
    ]
    for spec, field in cases:
        err = refusal(client, spec)
        assert (err.code, err.field) == ("bad_path", field), (spec, err)
        assert "outside the folders" in err.message
    # a frame number is not a path; a catalog name is not a path
    spec = {**key_spec(clips["short"], out), "options": {"mode": "difference", "clean_plate": 0}}
    assert client.wait(client.submit(spec), 120).type == "done"
    assert client.jobs()[0]["state"] == "done"


def test_a_foreign_file_gets_the_same_answer_whether_or_not_it_exists(
        client, clips: dict[str, str], tmp_path: Path) -> None:
    answers = []
    for plate in ("/etc/passwd", "/etc/segmatte-no-such-file"):
        err = refusal(client, {**key_spec(clips["short"], tmp_path / "o"),
                               "options": {"mode": "difference", "clean_plate": plate}})
        answers.append((err.code, err.field, err.message.replace(plate, "PATH")))
    assert answers[0] == answers[1]
    # a link inside the allowed folders to a file outside them is outside
    link = tmp_path / "plate.png"
    link.symlink_to("/etc/passwd")
    err = refusal(client, {**key_spec(clips["short"], tmp_path / "o"),
                           "options": {"mode": "difference", "clean_plate": str(link)}})
    assert (err.code, err.field) == ("bad_path", "spec.options.clean_plate")


def test_relative_paths_are_refused_with_a_sentence(client, clips: dict[str, str],
                                                    tmp_path: Path) -> None:
    err = refusal(client, key_spec("clip.mp4", tmp_path / "o"))
    assert (err.code, err.field) == ("bad_path", "spec.source")
    assert "must be an absolute path" in err.message and "'clip.mp4'" in err.message
    err = refusal(client, key_spec(clips["short"], "renders/out"))
    assert (err.code, err.field) == ("bad_path", "spec.output.folder")
    assert "absolute" in err.message
    err = refusal(client, {**key_spec(clips["short"], tmp_path / "o"),
                           "options": {"mode": "difference", "clean_plate": "plate.png"}})
    assert (err.code, err.field) == ("bad_path", "spec.options.clean_plate")
    assert not (tmp_path / "o").exists() and client.jobs() == []


def test_session_paths_pass_the_same_guard(server: ServerProcess, tmp_path: Path) -> None:
    peer = RawPeer(server.address)
    try:
        assert peer.hello(server.token)["type"] == "welcome"
        for source, words in (("/etc/passwd", "outside the folders"),
                              ("clip.mp4", "absolute")):
            reply = peer.call({"type": "session.open", "id": "s", "source": source})
            assert (reply["code"], reply["field"]) == ("bad_path", "source"), reply
            assert words in reply["message"]
    finally:
        peer.close()
