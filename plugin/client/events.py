"""Job events: what the server (or an in-process job) tells its watchers.

Plain dataclasses with ``to_dict`` / ``from_dict`` so they travel as JSON and
can be parsed inside a host with the standard library alone. Every event names
its job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"
    job: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class Accepted(Event):
    type: ClassVar[str] = "accepted"
    total: int = 0
    """Frames the job will produce."""


@dataclass(frozen=True)
class Progress(Event):
    type: ClassVar[str] = "progress"
    done: int = 0
    total: int = 0
    fps: float = 0.0
    eta_s: float | None = None


@dataclass(frozen=True)
class FrameWritten(Event):
    type: ClassVar[str] = "frame"
    frame: int = 0
    """Source frame number."""
    paths: tuple[str, ...] = ()
    skipped: bool = False
    """True when the frame was already on disk and valid (resume)."""


@dataclass(frozen=True)
class Done(Event):
    type: ClassVar[str] = "done"
    manifest: str = ""
    written: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Failed(Event):
    type: ClassVar[str] = "failed"
    reason: str = ""
    frame: int | None = None


@dataclass(frozen=True)
class Cancelled(Event):
    type: ClassVar[str] = "cancelled"
    written: int = 0


@dataclass(frozen=True)
class Heartbeat(Event):
    type: ClassVar[str] = "heartbeat"
    job: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobState(Event):
    """A job's state as a whole: the first event a (late) subscriber gets.

    ``seq`` is the number of the last event folded into this state; the
    events that follow carry higher numbers.
    """

    type: ClassVar[str] = "state"
    state: str = "queued"
    """queued, running, done, failed or cancelled."""
    total: int = 0
    done: int = 0
    written: int = 0
    skipped: int = 0
    fps: float = 0.0
    eta_s: float | None = None
    seq: int = 0
    manifest: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Connection(Event):
    """Not from a job: the client's link to the server changed.

    ``state`` is "connected", "lost" (no sign of life within the heartbeat
    liveness; the client is reconnecting) or "refused" (the hello failed; the
    ``detail`` says why, e.g. a wrong token).
    """

    type: ClassVar[str] = "connection"
    job: str = ""
    state: str = "connected"
    detail: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (Accepted, Progress, FrameWritten, Done, Failed, Cancelled, Heartbeat,
                              JobState, Connection)
}

TERMINAL = (Done, Failed, Cancelled)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Parse an event dict; raises ``ValueError`` naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("an event must be a JSON object")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if "paths" in kwargs:
        kwargs["paths"] = tuple(kwargs["paths"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad {kind} event: {exc}") from None
