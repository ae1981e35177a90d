"""The segmatte wire protocol: envelopes, message shapes and their validation.

Shared by both ends (the server imports this module; the host plugins vendor
it), so it needs only the standard library. ``docs/protocol.md`` is the human
spec of the same thing; the tables below are what both ends enforce.

A message on the wire is a ZeroMQ multipart message of two frames::

    [TAG, JSON]         TAG = b"SGM1" (protocol version 1), JSON = UTF-8 object

(the server's ROUTER socket sees the peer's identity frame in front). Every
request carries an ``id`` chosen by the client; every reply repeats it, and
every event names the ``job`` and the ``id`` of the request that subscribed.
Errors are values: ``{"type": "error", "id", "code", "field", "message"}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

TAG = b"SGM1"
PROTOCOL = 1
"""The protocol version this module speaks; the tag frame names it too."""
SUPPORTED_PROTOCOLS = (1,)

DEFAULT_PORT = 5790
DEFAULT_ADDRESS = f"tcp://127.0.0.1:{DEFAULT_PORT}"

MAX_MESSAGE = 1 << 20
"""Largest JSON frame either end accepts (1 MiB); larger gets ``too_large``."""
MAX_FRAMES = 8
"""Frames beyond this many are not even looked at."""
MAX_ID = 128

HEARTBEAT_S = 1.0
"""Default heartbeat interval; the server states its own in ``welcome``."""
LIVENESS = 3
"""Heartbeats missed before a peer is taken for gone."""

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED_STATES = ("done", "failed", "cancelled")


class Code:
    """Error codes (the ``code`` of an error reply). Stable strings, documented."""

    BAD_ENVELOPE = "bad_envelope"  # wrong number of frames, empty frame
    BAD_VERSION = "bad_version"  # unknown tag frame / unsupported protocol
    BAD_JSON = "bad_json"  # not UTF-8 JSON, or not an object
    TOO_LARGE = "too_large"  # JSON frame over MAX_MESSAGE
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"  # wrong type or value
    HELLO_REQUIRED = "hello_required"  # a request before a successful hello
    BAD_TOKEN = "bad_token"
    BAD_SPEC = "bad_spec"  # the job spec is invalid (field names the part)
    BAD_PATH = "bad_path"  # a path outside the allowed folders
    BAD_MEDIA = "bad_media"  # source missing/unreadable, range outside the clip
    BAD_ENGINE = "bad_engine"  # unknown engine or bad engine options
    NOT_FOUND = "not_found"  # unknown job or session
    NOT_IMPLEMENTED = "not_implemented"
    SHUTTING_DOWN = "shutting_down"
    BUSY = "busy"  # queue full, too many sessions, or a session propagating
    INTERNAL = "internal"  # a server bug; the message says what failed


class ProtocolError(ValueError):
    """A message that breaks the protocol; carries everything an error reply needs."""

    def __init__(self, code: str, message: str, field: str | None = None,
                 id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.id = id

    def reply(self) -> dict[str, Any]:
        return error_reply(self.id, self.code, self.message, self.field)


# --- field tables -------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a message: its JSON kind, whether it is required, its limits."""

    name: str
    kind: str
    """'str', 'int', 'number', 'bool', 'object', 'list'."""
    required: bool = True
    default: Any = None
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    """Bounds of a number, or of a string's / list's length."""


_JOB = Field("job", "str", min=1, max=64)
_SESSION = Field("session", "str", min=1, max=64)

REQUESTS: dict[str, tuple[Field, ...]] = {
    "hello": (
        Field("protocol", "int", min=0, max=1_000_000),
        Field("client", "str", min=1, max=64),
        Field("token", "str", min=1, max=256),
        Field("name", "str", required=False, default="", max=128),
    ),
    "ping": (),
    "heartbeat": (),
    "engines": (),
    "submit": (
        Field("spec", "object"),
        Field("priority", "int", required=False, default=0, min=-100, max=100),
        Field("subscribe", "bool", required=False, default=True),
        Field("key", "str", required=False, default=None, min=1, max=MAX_ID),
    ),
    "status": (_JOB,),
    "cancel": (_JOB,),
    "subscribe": (_JOB,),
    "unsubscribe": (_JOB,),
    "jobs": (
        Field("state", "str", required=False, default=None, choices=JOB_STATES),
        Field("limit", "int", required=False, default=100, min=1, max=1000),
    ),
    "session.open": (
        Field("source", "str", min=1, max=4096),
        Field("engine", "str", required=False, default="track", min=1, max=64),
        Field("model", "str", required=False, default=None, max=128),
        Field("options", "object", required=False, default=None),
        Field("range", "object", required=False, default=None),
        # the host's current frame: decoded and embedded before the reply, so the first
        # click there skips the image encoder (default: the range's first frame)
        Field("frame", "int", required=False, default=None, min=0),
    ),
    "session.prompt": (
        _SESSION,
        Field("frame", "int", min=0),
        # required unless ``text`` is given (a text prompt's object is its label by default)
        Field("object", "str", required=False, default=None, min=1, max=64),
        # a text session's concept prompt ("red car"): every instance found on the frame
        Field("text", "str", required=False, default=None, min=1, max=256),
        Field("points", "list", required=False, default=None, max=1000),
        Field("boxes", "list", required=False, default=None, max=100),
        Field("mask", "str", required=False, default=None, min=1, max=4096),
        Field("replace", "bool", required=False, default=False),
        Field("keyframe", "bool", required=False, default=False),
        # the preview's long side in pixels (the host's display size); default: source size
        Field("preview_size", "int", required=False, default=None, min=16, max=16384),
    ),
    "session.propagate": (
        _SESSION,
        Field("output", "object"),
        Field("range", "object", required=False, default=None),
        # None: the session decides (both ways from a new keyframe; a correction
        # re-propagates only in the direction its frame was tracked in)
        Field("direction", "str", required=False, default=None,
              choices=("forward", "backward", "both")),
        Field("start", "int", required=False, default=None, min=0),
        Field("subscribe", "bool", required=False, default=True),
        # finishing as in a job spec's ``finish`` (choke, feather, reduce chatter …)
        Field("finish", "object", required=False, default=None),
    ),
    "session.close": (_SESSION,),
    "shutdown": (),
}
"""Every request type and its fields (besides ``type`` and ``id``)."""

NO_ID_REQUESTS = frozenset({"heartbeat"})
"""One-way messages: no ``id``, no reply."""

REPLIES = frozenset({
    "welcome", "pong", "engines", "submitted", "status", "cancelling", "subscribed",
    "unsubscribed", "jobs", "ok", "error",
    "session.opened", "session.preview", "session.propagating", "session.closed",
})
"""Reply types: each names the ``id`` of the request it answers."""

PUSHES = frozenset({"event", "heartbeat"})
"""Messages the server sends on its own (an ``event`` still names the subscribing ``id``)."""


@dataclass(frozen=True)
class Request:
    """A validated request: its type, id and fields (defaults filled in)."""

    type: str
    id: str | None
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


# --- envelopes ----------------------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def encode(message: dict[str, Any]) -> list[bytes]:
    """A message dict → the frames to send. Raises ProtocolError if too large."""
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(Code.TOO_LARGE, f"message of {len(data)} bytes is over the "
                            f"{MAX_MESSAGE} byte limit", id=message.get("id"))
    return [TAG, data]


def decode(frames: list[bytes]) -> dict[str, Any]:
    """The frames of one message (without a ROUTER identity) → its JSON object.

    Checks the envelope only: the tag, the frame count, the size and that the
    payload is a JSON object. Raises ProtocolError (with the ``id`` when it can
    be read) so the caller can always answer with a structured error.
    """
    if not frames:
        raise ProtocolError(Code.BAD_ENVELOPE, "empty message")
    if bytes(frames[0]) != TAG:
        tag = bytes(frames[0][:16])
        if tag.startswith(b"SGM"):
            raise ProtocolError(Code.BAD_VERSION, f"protocol tag {tag!r} is not supported; "
                                f"this end speaks {TAG.decode()}")
        raise ProtocolError(Code.BAD_ENVELOPE, f"first frame must be the tag {TAG.decode()!r}")
    if len(frames) != 2:
        raise ProtocolError(Code.BAD_ENVELOPE, f"a message is 2 frames (tag, JSON), got {len(frames)}")
    payload = bytes(frames[1])
    if len(payload) > MAX_MESSAGE:
        raise ProtocolError(Code.TOO_LARGE, f"message of {len(payload)} bytes is over the "
                            f"{MAX_MESSAGE} byte limit")
    try:
        obj = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise ProtocolError(Code.BAD_JSON, "JSON nested too deeply") from None
    except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
        raise ProtocolError(Code.BAD_JSON, f"payload is not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(Code.BAD_JSON, "payload must be a JSON object")
    if b"\\ud" in payload.lower() and _has_lone_surrogate(obj):
        # JSON may spell half of a UTF-16 pair ("\\ud800"): Python reads it into
        # a str that cannot be encoded again, so nothing downstream (journal,
        # replies, logs) could handle it. Refused here, before any id is read.
        raise ProtocolError(Code.BAD_JSON, "payload holds an unpaired UTF-16 surrogate "
                            "(\\ud800-\\udfff escape); it is not valid Unicode")
    return obj


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) inside ``value`` holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# --- validation ---------------------------------------------------------------


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    raise AssertionError(kind)


_KIND_WORDS = {"str": "a string", "int": "an integer", "number": "a number", "bool": "true or false",
               "object": "a JSON object", "list": "a list"}


def _check_field(spec: Field, value: Any, msg_id: str | None) -> Any:
    if value is None and not spec.required:
        return spec.default
    if not _kind_ok(value, spec.kind):
        raise ProtocolError(Code.BAD_FIELD, f"{spec.name} must be {_KIND_WORDS[spec.kind]}",
                            spec.name, msg_id)
    if spec.choices and value not in spec.choices:
        raise ProtocolError(Code.BAD_FIELD, f"{spec.name} must be one of "
                            f"{', '.join(map(str, spec.choices))}", spec.name, msg_id)
    size = len(value) if spec.kind in ("str", "list") else value if spec.kind in (
        "int", "number") else None
    if size is not None:
        if spec.min is not None and size < spec.min:
            what = "length" if spec.kind in ("str", "list") else "value"
            raise ProtocolError(Code.BAD_FIELD, f"{spec.name} {what} must be at least "
                                f"{spec.min:g}", spec.name, msg_id)
        if spec.max is not None and size > spec.max:
            what = "length" if spec.kind in ("str", "list") else "value"
            raise ProtocolError(Code.BAD_FIELD, f"{spec.name} {what} must be at most "
                                f"{spec.max:g}", spec.name, msg_id)
    return value


def read_id(message: dict[str, Any]) -> str | None:
    """The message's ``id`` if it is a usable one, else None (for error replies)."""
    value = message.get("id")
    if isinstance(value, str) and 0 < len(value) <= MAX_ID and _encodable(value):
        return value
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_request(message: dict[str, Any]) -> Request:
    """Check a decoded message against :data:`REQUESTS`; raise ProtocolError naming the field.

    Unknown extra fields are refused too: a typo in a field name would
    otherwise pass silently with its default.
    """
    msg_id = read_id(message)
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(Code.MISSING_FIELD if kind is None else Code.BAD_FIELD,
                            "type must be a string naming the request", "type", msg_id)
    specs = REQUESTS.get(kind)
    if specs is None:
        raise ProtocolError(Code.UNKNOWN_TYPE, f"unknown request type {kind[:64]!r}", "type", msg_id)
    if kind not in NO_ID_REQUESTS:
        raw_id = message.get("id")
        if raw_id is None:
            raise ProtocolError(Code.MISSING_FIELD, "id is required", "id")
        if msg_id is None:
            raise ProtocolError(Code.BAD_FIELD, f"id must be a string of 1 to {MAX_ID} characters",
                                "id")
    names = {s.name for s in specs}
    for key in message:
        if key not in names and key not in ("type", "id"):
            raise ProtocolError(Code.BAD_FIELD, f"unknown field {str(key)[:64]!r} in {kind}",
                                str(key)[:64], msg_id)
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.name not in message:
            if spec.required:
                raise ProtocolError(Code.MISSING_FIELD, f"{spec.name} is required in {kind}",
                                    spec.name, msg_id)
            values[spec.name] = spec.default
            continue
        values[spec.name] = _check_field(spec, message[spec.name], msg_id)
    return Request(kind, msg_id, values)


def validate_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Light check of a server message on the client side.

    Lenient on purpose: a newer server may add fields, and a client should
    still read what it knows. Raises ProtocolError when the message cannot be
    routed (no known type, a reply without an id, an event without a job).
    """
    kind = message.get("type")
    if kind not in REPLIES and kind not in PUSHES:
        raise ProtocolError(Code.UNKNOWN_TYPE, f"unknown message type {str(kind)[:64]!r}", "type")
    if kind in REPLIES and kind != "error" and read_id(message) is None:
        raise ProtocolError(Code.MISSING_FIELD, f"{kind} reply without an id", "id")
    if kind == "event":
        if not isinstance(message.get("job"), str) or not isinstance(message.get("event"), dict):
            raise ProtocolError(Code.BAD_FIELD, "event without a job or an event object", "event")
        if not isinstance(message.get("seq"), int):
            raise ProtocolError(Code.BAD_FIELD, "event without a seq number", "seq")
    return message


# --- builders -----------------------------------------------------------------


def request(kind: str, id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A request dict; fields that are None are left out (the server fills defaults)."""
    msg: dict[str, Any] = {"type": kind}
    if id is not None:
        msg["id"] = id
    msg.update({k: v for k, v in fields.items() if v is not None})
    return msg


def reply(kind: str, id: str | None, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "id": id, **fields}


def error_reply(id: str | None, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape. ``field`` names the part of the request at fault, if any."""
    return {"type": "error", "id": id, "code": code, "field": field, "message": message}


def event_message(id: str | None, job: str, seq: int, event: dict[str, Any]) -> dict[str, Any]:
    """An event pushed to a subscriber: ``id`` of its subscribe (or submit) request."""
    return {"type": "event", "id": id, "job": job, "seq": seq, "event": event}


def heartbeat(now: float) -> dict[str, Any]:
    return {"type": "heartbeat", "time": now}
