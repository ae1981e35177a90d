"""Fuzz the server's front door: over 10 000 hostile or malformed messages.

Every message must get exactly one reply (a valid one-way heartbeat gets
none), every error must have the protocol's shape, nothing may hang, and the
server must still welcome a fresh client at the end. The expected reply count
comes from the protocol module itself (the same code both ends use).
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from serverkit import RawPeer, ServerProcess

from segmatte.client import protocol as P

EXAMPLES = int(os.environ.get("SEGMATTE_FUZZ_EXAMPLES", "110"))
PER_EXAMPLE = int(os.environ.get("SEGMATTE_FUZZ_BATCH", "50"))
TOTAL: dict[str, int] = {"sent": 0, "replies": 0, "errors": 0}
ERROR_KEYS = {"type", "id", "code", "field", "message"}
CODES = {v for k, v in vars(P.Code).items() if k.isupper()}

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)

FIELD_NAMES = sorted({f.name for fields in P.REQUESTS.values() for f in fields})
TYPES = sorted(P.REQUESTS) + ["", "HELLO", "submit ", "event", "welcome", "error", "x" * 200]


@st.composite
def spec_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Job specs that are nearly right: outside paths, unknown engines, bad ranges."""
    source = draw(st.sampled_from(["/etc/passwd", "/root/x.mp4", "../../etc/shadow",
                                   "/tmp/segmatte-fuzz/none.mp4", "", "\x00", "/proc/self/mem"]))
    folder = draw(st.sampled_from(["/etc", "/", "/tmp/segmatte-fuzz/out", "relative/out", "~"]))
    spec: dict[str, Any] = {"source": source, "engine": draw(st.sampled_from(
        ["key", "nope", "", "track", "person"])), "output": {"folder": folder}}
    if draw(st.booleans()):
        spec["range"] = {"first": draw(st.integers(-5, 10)), "last": draw(st.integers(-5, 10))}
    if draw(st.booleans()):
        spec[draw(st.sampled_from(["options", "finish", "objects", "direction", "bogus"]))] = \
            draw(json_values)
    return spec


@st.composite
def json_messages(draw: st.DrawFn) -> dict[str, Any]:
    msg: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        msg["type"] = draw(st.sampled_from(TYPES))
    else:
        msg["type"] = draw(json_values)
    id_choice = draw(st.integers(0, 9))
    if id_choice < 7:
        msg["id"] = draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=12))
    elif id_choice == 7:
        msg["id"] = draw(json_values)
    elif id_choice == 8:
        msg["id"] = "i" * 300
    kind = msg.get("type")
    specs = P.REQUESTS.get(kind) if isinstance(kind, str) else None
    for f in specs or ():
        roll = draw(st.integers(0, 9))
        if roll == 0:
            continue  # missing
        if roll == 1:
            msg[f.name] = draw(json_values)  # probably the wrong type
        elif f.name == "spec":
            msg[f.name] = draw(spec_dicts())
        elif f.kind == "str":
            msg[f.name] = draw(st.text(max_size=20))
        elif f.kind == "int":
            msg[f.name] = draw(st.integers(-10**6, 10**6))
        elif f.kind == "bool":
            msg[f.name] = draw(st.booleans())
        else:
            msg[f.name] = draw(json_values)
    if draw(st.integers(0, 5)) == 0:
        msg[draw(st.sampled_from(FIELD_NAMES + ["extra", ""]))] = draw(json_values)
    return msg


@st.composite
def wire_messages(draw: st.DrawFn) -> list[bytes]:
    """Frames as they go on the wire, from plausible to garbage."""
    roll = draw(st.integers(0, 19))
    if roll <= 12:
        return [P.TAG, json.dumps(draw(json_messages())).encode()]
    if roll == 13:
        return [draw(st.sampled_from([b"SGM2", b"SGM0", b"", b"sgm1", b"SGM1 "])),
                json.dumps(draw(json_messages())).encode()]
    if roll == 14:
        return [P.TAG, draw(st.binary(max_size=64))]
    if roll == 15:
        return [P.TAG, json.dumps(draw(json_values)).encode()]
    if roll == 16:
        return draw(st.lists(st.binary(max_size=16), min_size=1, max_size=5))
    if roll == 17:
        return [P.TAG, b'{"type":"ping","id":"x"}', draw(st.binary(max_size=8))]
    if roll == 18:
        return [P.TAG, b"[" * 100_000 + b"]" * 100_000]
    big = draw(st.integers(P.MAX_MESSAGE + 1, P.MAX_MESSAGE + 100))
    return [P.TAG, b'{"type":"ping","id":"big","pad":"' + b"x" * big + b'"}']


def expected_replies(frames: list[bytes]) -> int:
    """0 for a valid one-way heartbeat, else 1 (as the protocol module judges it)."""
    try:
        req = P.validate_request(P.decode(frames))
    except P.ProtocolError:
        return 1
    return 0 if req.type == "heartbeat" else 1


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    os.makedirs("/tmp/segmatte-fuzz", exist_ok=True)
    # The anonymous peer never says hello: a long hello timeout keeps it
    # connected (tests/security checks that idle connections are dropped).
    srv = ServerProcess(Path(tmp_path_factory.mktemp("fuzz")), heartbeat=1.0,
                        config={"hello_timeout_s": 600}).start()
    yield srv
    srv.stop(10)


@pytest.fixture(scope="module")
def peers(fuzz_server: ServerProcess) -> Iterator[dict[str, RawPeer]]:
    made = {"authed": RawPeer(fuzz_server.address), "anon": RawPeer(fuzz_server.address)}
    yield made
    for p in made.values():
        p.close()


def _exchange(peer: RawPeer, batch: list[list[bytes]], sentinel: str,
              want: int) -> list[dict[str, Any]]:
    """Send a batch and a ping; read until the pong and ``want`` replies have come.

    Submits and engine listings are answered from a thread pool, so their
    replies may overtake the pong; a short quiet wait then catches extras.
    """
    for frames in batch:
        peer.send(frames)
    peer.send({"type": "ping", "id": sentinel})
    replies: list[dict[str, Any]] = []
    pong = False
    while not pong or len(replies) < want:
        msg = peer.recv(timeout=30.0)  # TimeoutError here = a hang
        if msg.get("id") == sentinel:  # pong, or hello_required for the anonymous peer
            pong = True
        else:
            replies.append(msg)
    while peer.sock.poll(10):
        replies.append(peer.recv(timeout=1.0))
    return replies


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],  # shrinking 50-message batches is too slow
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(batch=st.lists(wire_messages(), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_every_message_gets_one_structured_answer(fuzz_server: ServerProcess,
                                                       peers: dict[str, RawPeer],
                                                       batch: list[list[bytes]]) -> None:
    authed, anon = peers["authed"], peers["anon"]
    assert authed.hello(fuzz_server.token, id="fuzz-hello")["type"] == "welcome"
    # Everything goes to the peer that never said hello; all but hello and shutdown also
    # to the welcomed one (which must stay welcomed and running).
    mine = [f for f in batch
            if not (len(f) > 1 and (b'"hello"' in f[1] or b'"shutdown"' in f[1]))]
    for peer, msgs, expect_authed in ((authed, mine, True), (anon, batch, False)):
        want = sum(expected_replies(m) for m in msgs)
        replies = _exchange(peer, msgs, f"sentinel-{TOTAL['sent']}", want)
        assert len(replies) == want, (msgs, replies)
        for r in replies:
            assert r["type"] in P.REPLIES, r
            if r["type"] == "error":
                assert set(r) == ERROR_KEYS and r["code"] in CODES, r
                assert r["code"] != "internal", r
                if not expect_authed:
                    assert r["code"] != "shutting_down"
            else:
                assert expect_authed, r
        TOTAL["sent"] += len(msgs)
        TOTAL["replies"] += len(replies)
        TOTAL["errors"] += sum(r["type"] == "error" for r in replies)


def test_fuzz_totals_and_server_still_answers(fuzz_server: ServerProcess) -> None:
    print(f"fuzz totals: {TOTAL}")
    assert TOTAL["sent"] >= 10_000, TOTAL
    # A frame over ZeroMQ's own limit only disconnects its sender.
    brute = RawPeer(fuzz_server.address)
    brute.send([P.TAG, b"x" * (5 * P.MAX_MESSAGE)])
    brute.close()
    fresh = RawPeer(fuzz_server.address)
    try:
        assert fresh.hello(fuzz_server.token)["type"] == "welcome"
        assert fresh.call({"type": "jobs", "id": "j"})["jobs"] == []
    finally:
        fresh.close()
    assert fuzz_server.proc is not None and fuzz_server.proc.poll() is None
    assert "Traceback" not in fuzz_server.stderr()
