"""Handshake, token and refusals: who may talk to the server, and what they hear back."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serverkit import RawPeer, ServerProcess, key_spec

from segmatte.client.client import Client, ClientError


def test_token_file_is_private(server: ServerProcess) -> None:
    path = server.config_dir / "token"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(server.token) >= 32


def test_hello_with_the_token_is_welcomed(client: Client, server: ServerProcess) -> None:
    info = client.server_info
    assert info["type"] == "welcome" and info["protocol"] == 1
    assert info["heartbeat_s"] == pytest.approx(server.heartbeat)
    assert client.ping()["type"] == "pong"


def test_wrong_token_is_refused(server: ServerProcess) -> None:
    c = Client(server.address, "not-the-token")
    with pytest.raises(ClientError) as err:
        c.connect(timeout=20)
    assert err.value.code == "bad_token" and err.value.field == "token"
    with pytest.raises(ClientError):
        c.request("ping", timeout=5)
    c.close()


def test_client_reads_the_token_from_the_config_folder(server: ServerProcess,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(server.config_dir))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(server.data_dir))
    c = Client()  # address from the endpoint file, token from the config folder
    try:
        assert c.address == server.address
        c.connect(timeout=20)
        assert c.ping()["type"] == "pong"
    finally:
        c.close()


def test_requests_before_hello_are_refused(server: ServerProcess) -> None:
    peer = RawPeer(server.address)
    try:
        for kind, extra in [("ping", {}), ("engines", {}), ("jobs", {}), ("shutdown", {}),
                            ("status", {"job": "x"})]:
            reply = peer.call({"type": kind, "id": f"r-{kind}", **extra})
            assert reply["type"] == "error" and reply["code"] == "hello_required", reply
            assert reply["id"] == f"r-{kind}"
        bad = peer.hello("wrong")
        assert bad["code"] == "bad_token"
        assert peer.call({"type": "ping", "id": "p"})["code"] == "hello_required"
        assert peer.hello(server.token)["type"] == "welcome"
        assert peer.call({"type": "ping", "id": "p2"})["type"] == "pong"
    finally:
        peer.close()


def test_protocol_version_is_negotiated(server: ServerProcess) -> None:
    peer = RawPeer(server.address)
    try:
        reply = peer.call({"type": "hello", "id": "h", "protocol": 2, "client": "x",
                           "token": server.token})
        assert reply["code"] == "bad_version" and reply["field"] == "protocol"
        reply = peer.call([b"SGM9", b'{"type":"ping","id":"a"}'])
        assert reply["code"] == "bad_version"
    finally:
        peer.close()


def test_engines_jobs_and_sessions_checked(client: Client) -> None:
    engines = {e["name"]: e for e in client.engines()}
    assert "key" in engines and engines["key"]["models"] == []  # no weights
    tiny = {m["name"]: m for m in engines["track"]["models"]}["sam2.1-tiny"]
    assert tiny["licence"] == "Apache-2.0" and tiny["pulled"] is False  # the test cache is empty
    assert client.jobs() == []
    with pytest.raises(ClientError) as err:
        client.session_open("/tmp/no-such-clip.mp4")
    assert (err.value.code, err.value.field) == ("bad_media", "source")
    with pytest.raises(ClientError) as err:
        client.status("nope")
    assert err.value.code == "not_found" and err.value.field == "job"


def test_submit_is_validated_at_the_door(client: Client, clips: dict[str, str],
                                         tmp_path: Path) -> None:
    cases = [
        ({"engine": "key"}, "bad_spec", "spec.source"),
        (key_spec(clips["short"], tmp_path / "o", range={"first": 3, "last": 1}), "bad_spec", None),
        (key_spec("/definitely/not/here.mp4", tmp_path / "o"), "bad_path", "spec.source"),
        (key_spec(clips["short"], "/proc/segmatte-out"), "bad_path", "spec.output.folder"),
        (key_spec(str(tmp_path / "missing.mp4"), tmp_path / "o"), "bad_media", None),
        ({**key_spec(clips["short"], tmp_path / "o"), "engine": "nope"}, "bad_engine", None),
    ]
    for spec, code, field in cases:
        with pytest.raises(ClientError) as err:
            client.submit(spec)
        assert err.value.code == code, (spec, err.value)
        if field:
            assert err.value.field == field
    assert client.jobs() == []


def test_non_loopback_needs_allow_remote(tmp_path: Path) -> None:
    env = dict(os.environ, SEGMATTE_CONFIG_DIR=str(tmp_path / "c"),
               SEGMATTE_DATA_DIR=str(tmp_path / "d"))
    out = subprocess.run([sys.executable, "-m", "segmatte.server.cli", "serve", "--foreground",
                          "--host", "0.0.0.0", "--port", "0"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0
    assert "--allow-remote" in out.stderr


def test_heartbeats_and_forgetting_a_silent_client(server: ServerProcess) -> None:
    peer = RawPeer(server.address)
    try:
        assert peer.hello(server.token)["type"] == "welcome"
        # The server sends heartbeats to a welcomed client that hears nothing else...
        beat = peer.recv(timeout=10, skip=())
        assert beat["type"] == "heartbeat" and isinstance(beat["time"], float)
        # ...and forgets one that stays silent for heartbeat × liveness (0.25 s × 3 here).
        deadline = time.monotonic() + 20
        while True:
            reply = peer.call({"type": "ping", "id": "p"})
            if reply["type"] == "error":
                break
            assert time.monotonic() < deadline, "never forgotten"
            time.sleep(1.5)  # silent well past liveness (heartbeats from the server don't count)
        assert reply["code"] == "hello_required"
        assert peer.hello(server.token)["type"] == "welcome"
        # One-way heartbeats from the client keep it known and get no reply.
        for _ in range(6):
            peer.send({"type": "heartbeat"})
            time.sleep(0.2)
        assert peer.call({"type": "ping", "id": "q"})["type"] == "pong"
    finally:
        peer.close()


def test_a_resent_submit_with_the_same_key_is_the_same_job(server: ServerProcess,
                                                           clips: dict[str, str],
                                                           tmp_path: Path) -> None:
    peer = RawPeer(server.address)
    try:
        peer.hello(server.token)
        msg = {"type": "submit", "spec": key_spec(clips["short"], tmp_path / "o"),
               "subscribe": False, "key": "k-1"}
        first = peer.call({**msg, "id": "s1"}, timeout=60)
        peer.hello(server.token)  # a raw peer sends no heartbeats: it may have been forgotten
        again = peer.call({**msg, "id": "s2"}, timeout=60)
        assert (first["type"], again["type"]) == ("submitted", "submitted"), (first, again)
        assert first["job"] == again["job"] and again["id"] == "s2"
        jobs = peer.call({"type": "jobs", "id": "j"})["jobs"]
        assert [j["job"] for j in jobs] == [first["job"]]
    finally:
        peer.close()


def test_one_client_from_many_threads(client: Client) -> None:
    """Requests from several threads share the client's one socket safely."""
    import threading

    errors: list[BaseException] = []

    def ping_many(n: int) -> None:
        try:
            for _ in range(50):
                assert client.request("ping", timeout=30)["type"] == "pong"
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ping_many, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
