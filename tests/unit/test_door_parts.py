"""The door's parts on their own: the path guard, Unicode at decode, connection limits.

Real files and real ZeroMQ sockets on loopback; the end-to-end attacks are in
tests/security against a real server.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq

from segmatte.client import protocol as P
from segmatte.client.protocol import Code, ProtocolError
from segmatte.models import registry
from segmatte.models.engine import path_options
from segmatte.server.auth import PathGuard, looks_like_path, spec_paths
from segmatte.server.connections import Doorman, Limits


def test_decode_refuses_lone_surrogates_but_reads_pairs() -> None:
    for text in ('{"id":"\\ud800"}', '{"id":"a","k":["\\udc00"]}', '{"\\udbff":1}'):
        with pytest.raises(ProtocolError) as err:
            P.decode([P.TAG, text.encode()])
        assert err.value.code == Code.BAD_JSON and err.value.id is None
    assert P.decode([P.TAG, b'{"id":"\\ud83d\\ude00"}'])["id"] == "\U0001F600"
    assert P.decode([P.TAG, b'{"id":"\\\\ud800"}'])["id"] == "\\ud800"  # an escaped backslash
    assert P.read_id({"id": "\ud800"}) is None


def test_engines_declare_the_options_that_name_files() -> None:
    marks = {e.name: path_options(e.cls.Options) for e in registry.engines()}
    assert marks["key"] == {"clean_plate": True}
    assert marks["person"] == {"weights": True}
    assert marks["semantic"] == {"model": "or_name"}
    schema = registry.get("key").Options.model_json_schema()
    assert schema["properties"]["clean_plate"]["segmatte_path"] is True  # hosts see it too


def test_spec_paths_finds_every_path() -> None:
    spec = {"source": "/s.mov", "model": "/ckpt", "output": {"folder": "/o"},
            "options": {"clean_plate": 12, "weights": "/w.pth", "model": "segformer-b0-ade"},
            "objects": [{"id": "a", "keyframes": [{"frame": 1, "mask": "/m.png"}]}]}
    found = dict(spec_paths(spec, {"clean_plate": True, "weights": True, "model": "or_name"}))
    assert found == {"spec.source": "/s.mov", "spec.output.folder": "/o", "spec.model": "/ckpt",
                     "spec.options.weights": "/w.pth", "spec.objects.0.keyframes.0.mask": "/m.png"}
    assert looks_like_path("~/ckpt") and looks_like_path("./x") and not looks_like_path("sam2.1-tiny")


def test_the_guard_answers_from_the_path_alone(tmp_path: Path) -> None:
    guard = PathGuard([tmp_path / "root"])
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "ok.png").write_bytes(b"x")
    guard.check(str(tmp_path / "root" / "ok.png"), "f")
    guard.check(str(tmp_path / "root" / "not-yet.png"), "f")  # inside: fine, existing or not
    messages = []
    for path in (str(tmp_path / "outside.png"), str(tmp_path / "missing-outside.png")):
        (tmp_path / "outside.png").write_bytes(b"x")
        with pytest.raises(ProtocolError) as err:
            guard.check(path, "spec.options.clean_plate", "id1")
        assert (err.value.code, err.value.field, err.value.id) == (
            Code.BAD_PATH, "spec.options.clean_plate", "id1")
        messages.append(err.value.message.replace(path, "P"))
    assert messages[0] == messages[1]
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside.png")
    with pytest.raises(ProtocolError, match="outside the folders"):
        guard.check(str(tmp_path / "root" / "link"), "f")
    for bad in ("rel/x.png", "", "a\x00b", 12):
        with pytest.raises(ProtocolError) as err:
            guard.check(bad, "f")
        assert err.value.code == Code.BAD_PATH


def test_limits_leave_descriptors_for_jobs() -> None:
    assert Limits.for_fd_limit(256, 512, 64, 5.0) == Limits(192, 64, 5.0)
    assert Limits.for_fd_limit(1024, 512, 64, 5.0) == Limits(512, 64, 5.0)
    assert Limits.for_fd_limit(100, 512, 64, 5.0).max_connections == 36


def _pump(doorman: Doorman, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        doorman.events()
        doorman.tick()
        time.sleep(0.01)


def test_the_doorman_drops_the_oldest_unauthenticated_and_the_silent() -> None:
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    doorman = Doorman(router, port, Limits(max_connections=4, max_unauthenticated=2,
                                           hello_timeout_s=0.5))
    dealers = []
    try:
        for _ in range(5):
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.LINGER, 0)
            d.setsockopt(zmq.RECONNECT_IVL, 60_000)  # a dropped one stays dropped
            d.connect(f"tcp://127.0.0.1:{port}")
            dealers.append(d)
        _pump(doorman, 0.3)
        assert len(doorman.open) <= 2 and doorman.dropped >= 3
        # one of them logs in (its message names its connection's descriptor)
        survivor = dealers[-1]
        survivor.send(b"hello")
        assert router.poll(2000)
        parts = router.recv_multipart(copy=False)
        doorman.authenticated(parts[-1].get(zmq.SRCFD))
        _pump(doorman, 1.0)  # past the hello timeout: only the logged-in one stays
        assert len(doorman.open) == 1 and doorman.authed == set(doorman.open)
        survivor.send(b"still here")
        assert router.poll(2000)
    finally:
        for d in dealers:
            d.close(0)
        doorman.close()
        router.close(0)
        ctx.term()
