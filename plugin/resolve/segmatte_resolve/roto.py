"""The roto loop's state: prompts on several frames, one server session, previews, corrections.

The artist moves the playhead, types a prompt and adds it: :class:`KeyList`
keeps the prompts by source frame (what the window lists). **Preview** sends
the current frame's prompts through a server session (``session.open`` once,
then ``session.prompt``) and gets that frame's matte back as an EXR path: the
session opens on the playhead's frame (embedded before the reply), previews
come at the comp's size when it is smaller than the source.
**Go** sends the frames not sent yet and propagates (``session.propagate``):
a prompt added after a propagation is a correction, and the server re-tracks
only from the corrected frame. Network calls run on background threads; the
panel's timer takes the results from :attr:`RotoSession.inbox`.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

from segmatte.client.jobspec import ObjectPrompts

from .prompts import Prompts

OPEN_TIMEOUT_S = 300.0
"""Loading a model the first time; bounds a hang only."""
PROMPT_TIMEOUT_S = 120.0


class KeyList:
    """The artist's prompts by source frame, for one object (what the window lists)."""

    def __init__(self, object_id: str = "object") -> None:
        self.object_id = object_id
        self.frames: dict[int, Prompts] = {}

    def __bool__(self) -> bool:
        return any(self.frames.values())

    def set(self, frame: int, prompts: Prompts) -> None:
        """The prompts of ``frame`` become ``prompts`` (empty removes the frame)."""
        if prompts:
            self.frames[int(frame)] = prompts
        else:
            self.frames.pop(int(frame), None)

    def remove(self, frame: int) -> bool:
        return self.frames.pop(int(frame), None) is not None

    def lines(self) -> list[str]:
        return [f"frame {n}: {p.describe()}" for n, p in sorted(self.frames.items())]

    def to_object(self) -> ObjectPrompts:
        obj = ObjectPrompts(self.object_id)
        for n, p in sorted(self.frames.items()):
            obj.add(n, p.points, p.boxes)
        return obj


def _signature(prompts: Prompts) -> tuple:
    return (tuple(p.to_dict().items() for p in prompts.points),
            tuple(b.to_dict().items() for b in prompts.boxes))


@dataclass(frozen=True)
class SessionKey:
    """What a session is opened on; a change (other clip, model) opens a new one."""

    source: str
    first: int
    last: int
    engine: str
    model: str | None
    options: tuple


class RotoSession:
    """One server session on the shot. Every call runs on a background thread, one at a time."""

    def __init__(self, client_factory: Any, key: SessionKey, object_id: str,
                 preview_size: int | None = None) -> None:
        self.key = key
        self.object_id = object_id
        self.preview_size = preview_size
        """The previews' long side (the comp's size), None: source size."""
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        """("opened", reply) / ("preview", reply) / ("error", text) for the UI thread."""
        self._factory = client_factory
        self._lock = threading.Lock()
        self.client: Any = None
        self.session: str | None = None
        self.info: dict = {}
        self._sent: dict[int, tuple] = {}
        self._sent_text: dict[int, str] = {}
        self.found: dict[int, dict] = {}
        """A text session: source frame → the text prompt's reply (instances, union)."""
        self.propagated = False

    # --- on background threads ------------------------------------------------

    def _ensure_open(self, frame: int | None = None) -> None:
        """Open the session once; ``frame`` (the playhead's) is embedded before the reply."""
        if self.client is None:
            self.client = self._factory()
            self.client.connect(timeout=10.0)
        if self.session is None:
            k = self.key
            current = frame if frame is not None and k.first <= frame <= k.last else None
            self.info = self.client.session_open(
                k.source, engine=k.engine, model=k.model, options=dict(k.options) or None,
                range={"first": k.first, "last": k.last}, frame=current,
                timeout=OPEN_TIMEOUT_S)
            self.session = self.info["session"]
            self.inbox.put(("opened", self.info))

    def _send(self, frame: int, prompts: Prompts) -> dict:
        sig = _signature(prompts)
        points = [p.to_dict() for p in prompts.points] or None
        boxes = [b.to_dict() for b in prompts.boxes[-1:]] or None  # the session takes one box
        reply = self.client.session_prompt(self.session, frame, self.object_id, points=points,
                                           boxes=boxes, replace=True,
                                           preview_size=self.preview_size,
                                           timeout=PROMPT_TIMEOUT_S)
        self._sent[frame] = sig
        return reply

    def _send_text(self, frame: int, text: str) -> dict:
        """A text session: find every instance of ``text`` on ``frame`` (the reply's ``path``
        is their union; ``instances`` one preview each)."""
        reply = self.client.session_prompt(self.session, frame, text=text,
                                           preview_size=self.preview_size,
                                           timeout=PROMPT_TIMEOUT_S)
        self._sent_text[frame] = text
        return reply

    def _send_texts(self, texts: dict[int, str]) -> dict[int, dict]:
        return {n: self._send_text(n, t) for n, t in sorted(texts.items())
                if self._sent_text.get(n) != t}

    def _unsent(self, keys: dict[int, Prompts]) -> list[int]:
        return [n for n, p in sorted(keys.items()) if self._sent.get(n) != _signature(p)]

    def preview(self, frame: int, keys: dict[int, Prompts],
                texts: dict[int, str] | None = None) -> threading.Thread:
        """Send the frames not sent yet (``frame`` last) and post ``frame``'s preview reply;
        a text on ``frame`` (a text session) previews the union of the instances it finds."""
        keys, texts = dict(keys), dict(texts or {})

        def work() -> None:
            try:
                with self._lock:
                    self._ensure_open(frame)
                    self.found.update(self._send_texts(texts))
                    if frame not in keys:
                        self.inbox.put(("preview", self.found[frame]))
                        return
                    reply = None
                    for n in self._unsent(keys):
                        sent = self._send(n, keys[n])
                        reply = sent if n == frame else reply
                    if reply is None:  # already sent: ask again for the preview
                        reply = self._send(frame, keys[frame])
                    self.inbox.put(("preview", reply))
            except Exception as exc:
                self.inbox.put(("error", f"preview failed: {exc}"))

        thread = threading.Thread(target=work, name="segmatte-preview", daemon=True)
        thread.start()
        return thread

    def propagate_launch(self, keys: dict[int, Prompts], output: dict, direction: str | None,
                         texts: dict[int, str] | None = None, finish: dict | None = None):
        """The launch for a MatteJob: send what is new, then ``session.propagate`` (with the
        job's ``finish``: refine, …)."""
        keys, texts = dict(keys), dict(texts or {})

        def launch(client: Any) -> str:
            with self._lock:
                # Go without a Preview: the session embeds the first keyframe while it opens
                # (the frame the first prompt goes to), not the range's first frame.
                self._ensure_open(min([*keys, *texts], default=None))
                self.found.update(self._send_texts(texts))
                for n in self._unsent(keys):
                    self._send(n, keys[n])
                job = self.client.session_propagate(self.session, output,
                                                    direction=None if self.propagated else direction,
                                                    finish=finish or None)
                self.propagated = True
                return job

        return launch

    def client_factory(self) -> Any:
        """For the MatteJob: the session's own client (opened on first use)."""
        with self._lock:
            if self.client is None:
                self.client = self._factory()
            return self.client

    def close(self) -> None:
        """Close the session and its client on a thread (the UI never waits)."""
        client, session = self.client, self.session
        self.client = self.session = None
        if client is None:
            return

        def work() -> None:
            try:
                if session:
                    client.session_close(session, timeout=10.0)
            except Exception:
                pass
            client.close()

        threading.Thread(target=work, name="segmatte-session-close", daemon=True).start()
