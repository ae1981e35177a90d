"""The wire protocol module: envelopes, request validation, builders (no sockets)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmatte.client import protocol as P
from segmatte.client.events import (
    Accepted,
    Connection,
    Done,
    FrameWritten,
    JobState,
    event_from_dict,
)


def frames(obj: object) -> list[bytes]:
    return [P.TAG, json.dumps(obj).encode()]


def code_of(fn, *args) -> str:
    with pytest.raises(P.ProtocolError) as err:
        fn(*args)
    return err.value.code


def test_encode_decode_round_trip() -> None:
    msg = P.request("submit", "r1", spec={"source": "/a/ü.mp4"}, priority=3)
    wire = P.encode(msg)
    assert wire[0] == P.TAG and len(wire) == 2
    assert P.decode(wire) == msg
    req = P.validate_request(P.decode(wire))
    assert req.type == "submit" and req.id == "r1"
    assert req["priority"] == 3 and req["subscribe"] is True and req["key"] is None


def test_request_builder_leaves_out_none() -> None:
    assert P.request("jobs", "j", state=None, limit=5) == {"type": "jobs", "id": "j", "limit": 5}
    assert P.request("heartbeat") == {"type": "heartbeat"}


@pytest.mark.parametrize("wire,code", [
    ([], P.Code.BAD_ENVELOPE),
    ([P.TAG], P.Code.BAD_ENVELOPE),
    ([P.TAG, b"{}", b"extra"], P.Code.BAD_ENVELOPE),
    ([b"SGM2", b"{}"], P.Code.BAD_VERSION),
    ([b"HTTP", b"{}"], P.Code.BAD_ENVELOPE),
    ([P.TAG, b"\xff\xfe"], P.Code.BAD_JSON),
    ([P.TAG, b"not json"], P.Code.BAD_JSON),
    ([P.TAG, b"[1, 2]"], P.Code.BAD_JSON),
    ([P.TAG, b'{"a": NaN}'], P.Code.BAD_JSON),
    ([P.TAG, b"[" * 50_000 + b"]" * 50_000], P.Code.BAD_JSON),
    ([P.TAG, b"x" * (P.MAX_MESSAGE + 1)], P.Code.TOO_LARGE),
])
def test_decode_refuses_bad_envelopes(wire: list[bytes], code: str) -> None:
    assert code_of(P.decode, wire) == code


def test_encode_refuses_oversized_and_nan() -> None:
    assert code_of(P.encode, {"type": "ping", "id": "x", "pad": "y" * P.MAX_MESSAGE}) == P.Code.TOO_LARGE
    with pytest.raises(ValueError):
        P.encode({"type": "ping", "id": "x", "v": float("nan")})


@pytest.mark.parametrize("msg,code,field", [
    ({"id": "a"}, P.Code.MISSING_FIELD, "type"),
    ({"type": 3, "id": "a"}, P.Code.BAD_FIELD, "type"),
    ({"type": "frobnicate", "id": "a"}, P.Code.UNKNOWN_TYPE, "type"),
    ({"type": "ping"}, P.Code.MISSING_FIELD, "id"),
    ({"type": "ping", "id": ""}, P.Code.BAD_FIELD, "id"),
    ({"type": "ping", "id": 7}, P.Code.BAD_FIELD, "id"),
    ({"type": "ping", "id": "x" * 129}, P.Code.BAD_FIELD, "id"),
    ({"type": "ping", "id": "a", "extra": 1}, P.Code.BAD_FIELD, "extra"),
    ({"type": "hello", "id": "a", "protocol": 1, "client": "c"}, P.Code.MISSING_FIELD, "token"),
    ({"type": "hello", "id": "a", "protocol": "1", "client": "c", "token": "t"}, P.Code.BAD_FIELD,
     "protocol"),
    ({"type": "hello", "id": "a", "protocol": True, "client": "c", "token": "t"}, P.Code.BAD_FIELD,
     "protocol"),
    ({"type": "submit", "id": "a", "spec": []}, P.Code.BAD_FIELD, "spec"),
    ({"type": "submit", "id": "a", "spec": {}, "priority": 1000}, P.Code.BAD_FIELD, "priority"),
    ({"type": "submit", "id": "a", "spec": {}, "subscribe": 1}, P.Code.BAD_FIELD, "subscribe"),
    ({"type": "status", "id": "a"}, P.Code.MISSING_FIELD, "job"),
    ({"type": "cancel", "id": "a", "job": ""}, P.Code.BAD_FIELD, "job"),
    ({"type": "jobs", "id": "a", "state": "sleeping"}, P.Code.BAD_FIELD, "state"),
    ({"type": "jobs", "id": "a", "limit": 0}, P.Code.BAD_FIELD, "limit"),
    ({"type": "session.prompt", "id": "a", "session": "s", "frame": -1, "object": "o"},
     P.Code.BAD_FIELD, "frame"),
])
def test_validation_names_the_field(msg: dict, code: str, field: str) -> None:
    with pytest.raises(P.ProtocolError) as err:
        P.validate_request(msg)
    assert (err.value.code, err.value.field) == (code, field)
    reply = err.value.reply()
    assert set(reply) == {"type", "id", "code", "field", "message"}
    assert reply["id"] == P.read_id(msg)


def test_every_request_type_validates_with_its_required_fields() -> None:
    samples = {"str": "x", "int": 1, "number": 1.0, "bool": True, "object": {}, "list": []}
    for kind, fields in P.REQUESTS.items():
        msg = {"type": kind, "id": "a"}
        msg.update({f.name: (f.choices[0] if f.choices else samples[f.kind])
                    for f in fields if f.required})
        req = P.validate_request(msg)
        assert req.type == kind
        assert set(req.fields) == {f.name for f in fields}


def test_heartbeat_needs_no_id() -> None:
    assert P.validate_request({"type": "heartbeat"}).id is None


def test_validate_reply_is_lenient_but_routable() -> None:
    assert P.validate_reply({"type": "pong", "id": "a", "new_field": 1})["id"] == "a"
    assert P.validate_reply({"type": "error", "id": None, "code": "bad_json", "field": None,
                             "message": "m"})
    for bad in ({"type": "pong"}, {"type": "what", "id": "a"},
                {"type": "event", "job": "j", "event": {}},
                {"type": "event", "job": "j", "seq": 1}):
        with pytest.raises(P.ProtocolError):
            P.validate_reply(bad)


def test_event_messages_round_trip_through_the_event_classes() -> None:
    for event in (Accepted(job="j", total=5), FrameWritten(job="j", frame=3, paths=("/a.exr",)),
                  Done(job="j", manifest="/m.json", written=5),
                  JobState(job="j", state="running", done=2, total=5, seq=7),
                  Connection(state="lost", detail="x")):
        msg = P.validate_reply(P.decode(P.encode(P.event_message("r", "j", 1, event.to_dict()))))
        back = event_from_dict({**msg["event"], "job": event.job})
        assert back == event


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda s: st.lists(s, max_size=3) | st.dictionaries(st.text(max_size=4), s, max_size=3)),
    max_size=6))
def test_validate_request_only_ever_raises_protocol_error(msg: dict) -> None:
    try:
        P.validate_request(P.decode(frames(msg)))
    except P.ProtocolError as exc:
        assert exc.code in {v for k, v in vars(P.Code).items() if k.isupper()}
