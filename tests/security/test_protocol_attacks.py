"""Attacks on the wire: invalid Unicode, a stolen routing id, a connection flood.

Each runs against a real ``segmatte serve`` on loopback and is bounded: a
fixed number of messages or sockets, every wait with a deadline.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import zmq
from serverkit import LONG_FRAMES, RawPeer, ServerProcess, key_spec

from segmatte.client import protocol as P
from segmatte.client.client import Client
from segmatte.client.events import Done

WAIT = 120.0


def _raw(text: str) -> list[bytes]:
    """A message frame pair from JSON text written by hand (escapes kept as written)."""
    return [P.TAG, text.encode("ascii")]


def test_lone_surrogates_are_bad_json_and_the_id_is_not_echoed(server: ServerProcess) -> None:
    peer = RawPeer(server.address)
    try:
        reply = peer.call(_raw('{"type":"ping","id":"\\ud800"}'))
        assert reply["type"] == "error" and reply["code"] == "bad_json", reply
        assert reply["id"] is None  # the unencodable id is never sent back
        assert "surrogate" in reply["message"]
        assert peer.hello(server.token)["type"] == "welcome"
        # in a submit's key (the journal looks keys up): refused before it gets there
        reply = peer.call(_raw('{"type":"submit","id":"s1","key":"\\udfff",'
                               '"spec":{"source":"/x.mp4","engine":"key","output":{"folder":"/o"}}}'))
        assert reply["code"] == "bad_json" and reply["id"] is None, reply
        # in a key of a nested object, too
        reply = peer.call(_raw('{"type":"ping","id":"p","x":{"\\ud83d":1}}'))
        assert reply["code"] == "bad_json", reply
        # a correctly paired surrogate escape is ordinary Unicode
        reply = peer.call(_raw('{"type":"ping","id":"\\ud83d\\ude00"}'))
        assert reply["type"] == "pong" and reply["id"] == "\U0001F600", reply
    finally:
        peer.close()
    log = server.stderr()
    assert "UnicodeEncodeError" not in log and "handling a message failed" not in log


def test_a_second_socket_with_a_logged_in_routing_id_is_not_served(server: ServerProcess) -> None:
    ctx = zmq.Context.instance()
    victim = RawPeer(server.address)  # reconnect with a chosen routing id
    victim.sock.close(0)
    victim.sock = ctx.socket(zmq.DEALER)
    victim.sock.setsockopt(zmq.LINGER, 0)
    victim.sock.setsockopt(zmq.ROUTING_ID, b"artist-1")
    victim.sock.connect(server.address)
    attacker = RawPeer(server.address)
    attacker.sock.close(0)
    attacker.sock = ctx.socket(zmq.DEALER)
    attacker.sock.setsockopt(zmq.LINGER, 0)
    attacker.sock.setsockopt(zmq.ROUTING_ID, b"artist-1")
    try:
        assert victim.hello(server.token)["type"] == "welcome"
        attacker.sock.connect(server.address)
        attacker.send({"type": "jobs", "id": "steal"})
        for _ in range(10):  # 2 s; the victim keeps its heartbeat going meanwhile
            victim.send({"type": "heartbeat"})
            with pytest.raises(TimeoutError):  # never a jobs listing, nor anything else
                attacker.recv(timeout=0.2, skip=())
        # the logged-in client keeps its connection and its login
        assert victim.call({"type": "ping", "id": "still-me"})["type"] == "pong"
    finally:
        attacker.close()
        victim.close()


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_connection_flood_cannot_starve_the_server(server_factory, clips: dict[str, str],
                                                     tmp_path: Path) -> None:
    # 256 descriptors (a quarter kept for jobs), hello within 1 s: 300 idle
    # DEALERs (no token) are more than the server has descriptors for.
    server: ServerProcess = server_factory(slow=0.05, max_files=256,
                                           config={"hello_timeout_s": 1.0}).start()
    client = server.client(name="artist")
    ctx = zmq.Context()
    flood: list[zmq.Socket] = []
    try:
        # A flood while torch is still being imported can break the import (EMFILE mid-way;
        # see the closing note): the door is what this tests, so the server is warm first.
        deadline = time.monotonic() + 120
        while client.ping().get("warm") == "warming" and time.monotonic() < deadline:
            time.sleep(0.2)
        running = client.submit(key_spec(clips["long"], tmp_path / "running"))
        for _ in range(300):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(server.address)
            flood.append(sock)
        time.sleep(2.0)  # the flood is in place (and keeps reconnecting when dropped)
        assert _open_fds(server.proc.pid) < 256

        # hello and submit still answered while the flood goes on
        newcomer = Client(server.address, server.token, name="newcomer")
        try:
            newcomer.connect(timeout=30)
            assert newcomer.ping()["type"] == "pong"
            second = newcomer.submit(key_spec(clips["short"], tmp_path / "second"))
            assert isinstance(newcomer.wait(second, WAIT), Done)
        finally:
            newcomer.close()
        end = client.wait(running, WAIT)  # the running job kept its descriptors
        assert isinstance(end, Done), end
        assert end.written == LONG_FRAMES
    finally:
        for sock in flood:
            sock.close(0)
        ctx.term()
        client.close()
    assert server.proc.poll() is None  # it survived
    deadline = time.monotonic() + 30
    while _open_fds(server.proc.pid) > 64 and time.monotonic() < deadline:
        time.sleep(0.2)  # the flood's connections are gone, not leaked
    assert _open_fds(server.proc.pid) <= 64
    assert "dropping connections over the limit" in server.stderr()  # and it said so


def test_idle_connections_without_hello_are_dropped(server_factory) -> None:
    server: ServerProcess = server_factory(config={"hello_timeout_s": 0.5}).start()
    base = _open_fds(server.proc.pid)
    ctx = zmq.Context()
    socks = []
    try:
        for _ in range(20):
            sock = ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RECONNECT_IVL, 60_000)  # dropped stays dropped
            sock.connect(server.address)
            socks.append(sock)
        deadline = time.monotonic() + 10
        seen = base
        while time.monotonic() < deadline and seen < base + 20:
            seen = _open_fds(server.proc.pid)
            time.sleep(0.05)
        assert seen >= base + 15  # they got in ...
        deadline = time.monotonic() + 30
        while _open_fds(server.proc.pid) > base + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _open_fds(server.proc.pid) <= base + 2  # ... and were dropped without a hello
        assert "no hello in time" in server.stderr()
        # a client that says hello stays
        client = server.client()
        try:
            time.sleep(1.5)
            assert client.ping()["type"] == "pong"
        finally:
            client.close()
    finally:
        for sock in socks:
            sock.close(0)
        ctx.term()
