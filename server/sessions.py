"""Interactive tracking sessions: ``session.open / prompt / propagate / close``.

A session is one :class:`~segmatte.models.track.session.TrackSession` (the
model's memory of one clip) plus what the protocol needs around it: the probed
source, a folder for previews, the prompts so far (for the manifest) and the
files it has written per output.

Threading, as in the rest of the server: the :class:`SessionManager`'s tables
are touched only by the ROUTER thread. Each session owns **one worker
thread** (a one-thread executor): loading the model, every prompt and every
propagation run there, one at a time — a ``TrackSession`` is not thread-safe,
and this way the ROUTER loop never waits on the model. Results go back to the
ROUTER thread through the :class:`~segmatte.server.jobs.Mailbox`, like job
events.

A propagation is a **job**: the endpoint puts it in the job table (so
subscribe, cancel, status, ``jobs`` and the journal work as for a submitted
job) and the session thread runs it, writing frames with the pipeline's own
:func:`~segmatte.server.pipeline.write_frame`. After a correction the
``TrackSession`` re-tracks only in the direction the corrected frame was
tracked in, so a second propagation rewrites only those frames (and the
corrected frame itself, from its preview).

Models are loaded once and kept warm in a small :class:`ModelCache` shared by
all sessions (same name, dtype and device → same weights).

A session opened with engine ``text`` holds the SAM 3 detector beside the
tracker (one backbone): a prompt with ``text`` runs the detector on its frame
and seeds every instance found (``car_1 … car_N``, named as the job names
them) into the ``TrackSession`` from its detection mask; clicks on ``car_2``
refine that instance (on its detection frame together with its detection box,
as the text engine does). Its propagation is a ``text`` job, run by the
text engine on the session's warm parts, so its frames are a submitted job's.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from segmatte.client import __version__
from segmatte.client import protocol as P
from segmatte.client.events import Cancelled, Done, Event, Failed
from segmatte.client.protocol import Code, ProtocolError, Request
from segmatte.models import device as device_config

from .auth import PathGuard
from .jobs import Mailbox

log = logging.getLogger("segmatte.server.sessions")

SESSION_TIMEOUT_S = float(os.environ.get("SEGMATTE_SESSION_TIMEOUT", "120"))
"""A session whose client has gone (forgotten after missed heartbeats) and that
no other client touched is closed after this long: models hold a lot of memory."""
MAX_SESSIONS = 8
PROGRESS_INTERVAL_S = 0.1
OBJECT_ID = re.compile(r"^[A-Za-z0-9_\-]+$")
"""The same rule as a job spec's object ids (they name layers and files)."""

Reply = Callable[[dict[str, Any]], None]
"""Sends one message to the requesting peer (called on the ROUTER thread)."""
Offload = Callable[[Callable[[], Any], Callable[[Future[Any]], None]], None]


def _error(req: Request, code: str, message: str, field: str | None) -> ProtocolError:
    return ProtocolError(code, message, field, req.id)


def _pick_device() -> str:
    """The GPU when there is one: a preview should cost one model call, not a CPU's worth."""
    return device_config.resolve("auto")


def preview_shape(height: int, width: int, long_side: int | None) -> tuple[int, int] | None:
    """(height, width) of a preview whose long side is ``long_side`` (never above source size)."""
    if long_side is None or long_side >= max(height, width):
        return None
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class ModelCache:
    """Loaded (model, processor) pairs by (name, dtype, device), least recently used out.

    Sessions on the same model share its weights (inference keeps its state in
    the per-session inference session, not in the model). An evicted model
    lives on as long as a session still holds it.
    """

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._models: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, name: str, dtype: str, device: str, engine: str = "track") -> Any:
        """(model, processor) for ``track``; the text engine's ``TextParts`` for ``text``."""
        key = (name, dtype, device)
        with self._lock:  # loads are rare and serialised: never two copies of one model
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            if engine == "text":
                from segmatte.models.text.loader import load
            else:
                from segmatte.models.track.loader import load

            parts = load(name, dtype=dtype, device=device)
            self.loads += 1
            self._models[key] = parts
            while len(self._models) > self.size:
                self._models.popitem(last=False)
            return parts


class FrameSource:
    """``fetch(n)`` for a TrackSession: cheap for both of its access patterns.

    A prompt asks for one frame (often the same one again: several clicks),
    so the last few frames are kept. A propagation asks for n, n±1, n±2…:
    once two requests are neighbours, one sequential reader is opened in that
    direction instead of seeking (an ffmpeg start) per frame.
    """

    KEEP = 3

    def __init__(self, media: Any, first: int, last: int) -> None:
        self.media, self.first, self.last = media, first, last
        self._recent: OrderedDict[int, Any] = OrderedDict()
        self._reader: Any = None
        self._next: int | None = None
        self._step = 0
        self._previous: int | None = None

    def fetch(self, number: int) -> Any:
        from .media import open_reader, read_frame

        frame = self._recent.get(number)
        if frame is None:
            step = number - self._previous if self._previous is not None else 0
            if self._reader is not None and number == self._next:
                frame = next(self._reader)
                self._next = number + self._step
            elif step in (1, -1):
                self.close()
                end = self.last if step == 1 else self.first
                self._reader = open_reader(self.media, min(number, end), max(number, end),
                                           reverse=step == -1)
                self._step = step
                frame = next(self._reader)
                self._next = number + step
            else:
                self.close()  # a jump: the sequential reader is no use any more
                frame = read_frame(self.media, number)
            self._recent[number] = frame
            while len(self._recent) > self.KEEP:
                self._recent.popitem(last=False)
        self._recent.move_to_end(number)
        self._previous = number
        return frame

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._next = None, None


@dataclass
class Propagation:
    """A ``session.propagate`` checked at the door: the job it runs, waiting for its id."""

    session: Session
    spec: Any
    """The validated ``JobSpec``: the session's prompts as keyframes, the output, finishing."""
    plan: Any = None
    """The pipeline's ``JobPlan`` (made off the ROUTER thread by ``check_job``)."""
    subscribe: bool = True

    def spec_dict(self) -> dict[str, Any]:
        """What the job table and the journal record (``jobs`` lists it like a job)."""
        return {"session": self.session.id, **self.spec.model_dump(mode="json")}


@dataclass
class Session:
    """One open session. ROUTER-thread fields first; the rest belong to its worker."""

    id: str
    owner: bytes
    source: str
    model: str
    options: Any
    folder: Path
    executor: ThreadPoolExecutor
    last_used: float
    engine: str = "track"
    """``track`` or ``text`` (the job engine a propagation runs)."""
    width: int = 0
    height: int = 0
    first: int = 0
    last: int = 0
    fps: float = 0.0
    job: str | None = None
    """The running propagation's job id; prompts wait for its end."""
    job_cancel: threading.Event | None = None
    objects: list[str] = field(default_factory=list)
    prompted: bool = False
    orphan_since: float | None = None
    closed: threading.Event = field(default_factory=threading.Event)
    # --- the worker thread's ---
    media: Any = None
    frames: FrameSource | None = None
    track: Any = None
    device: str = "cpu"
    last_prompt: int | None = None
    direction: str | None = None
    """The direction of the last propagation: a correction re-tracks that way by default."""
    keyframes: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    """Object → frame → prompts so far: the keyframes of every propagation's job."""
    parts: Any = None
    """A text session's ``TextParts`` (the detector and the tracker, warm)."""
    detector: Any = None
    concepts: dict[str, tuple[int, str]] = field(default_factory=dict)
    """A text session's concept label → (frame, text) of its text prompt (ROUTER thread)."""
    boxes: dict[tuple[int, str], tuple[float, float, float, float]] = field(default_factory=dict)
    """(frame, instance) → its detection box: a refinement there goes with it."""

    def submit(self, mailbox: Mailbox, fn: Callable[[], Any],
               then: Callable[[Future[Any]], None]) -> None:
        """Run ``fn`` on this session's thread; ``then(future)`` runs on the ROUTER thread."""
        future = self.executor.submit(fn)
        future.add_done_callback(lambda f: mailbox.post(then, f))

    def prompt_objects(self) -> tuple[Any, ...]:
        from segmatte.models.prompts import Keyframe, ObjectPrompts

        concepts = tuple(ObjectPrompts(id=label, keyframes=(Keyframe(frame=n, text=text),))
                         for label, (n, text) in self.concepts.items())
        return concepts + tuple(ObjectPrompts(id=obj, keyframes=tuple(
            Keyframe(frame=n, **kf) for n, kf in sorted(frames.items())))
            for obj, frames in self.keyframes.items())


class SessionManager:
    """The server's open sessions: door checks on the ROUTER thread, work on each session's."""

    def __init__(self, data_dir: Path, guard: PathGuard, mailbox: Mailbox, offload: Offload, *,
                 timeout_s: float = SESSION_TIMEOUT_S, max_sessions: int = MAX_SESSIONS) -> None:
        self.root = data_dir / "sessions"
        self.guard = guard
        self.mailbox = mailbox
        self.offload = offload
        self.timeout_s = timeout_s
        self.max_sessions = max_sessions
        self.models = ModelCache()
        self.sessions: dict[str, Session] = {}
        self.opening = 0
        self.stopping = False
        self._closing: list[Session] = []

    # --- helpers ----------------------------------------------------------------
    def _find(self, req: Request, owner: bytes) -> Session:
        s = self.sessions.get(req["session"])
        if s is None:
            raise _error(req, Code.NOT_FOUND, f"no session {req['session']!r} (closed, timed out, "
                         "or opened on another server run)", "session")
        s.owner, s.orphan_since, s.last_used = owner, None, time.monotonic()
        return s

    def _answer(self, req: Request, reply: Reply, kind: str) -> Callable[[Future[Any]], None]:
        """A ``then`` that sends the work's dict as a ``kind`` reply, or its error."""
        def then(f: Future[Any]) -> None:
            exc = f.exception()
            if isinstance(exc, ProtocolError):
                reply(exc.reply())
            elif exc is not None:
                log.error("%s failed: %r", req.type, exc, exc_info=exc)
                reply(P.error_reply(req.id, Code.INTERNAL, f"{req.type} failed: {exc}"))
            else:
                reply(P.reply(kind, req.id, **f.result()))
        return then

    # --- session.open ---------------------------------------------------------
    def open(self, req: Request, owner: bytes, reply: Reply) -> None:
        from segmatte.models.text.options import TextOptions
        from segmatte.models.track.options import TrackOptions

        from .spec import FrameRange, _first_error

        if req["engine"] not in ("track", "text"):
            raise _error(req, Code.BAD_ENGINE, f"sessions run the track or the text engine, not "
                         f"{req['engine']!r}", "engine")
        self.guard.check(req["source"], "source", req.id)
        try:
            options = (TextOptions if req["engine"] == "text" else TrackOptions)(
                **(req["options"] or {}))
        except ValidationError as exc:
            raise _error(req, Code.BAD_ENGINE, _first_error(exc, "options"), "options") from None
        except TypeError:
            raise _error(req, Code.BAD_ENGINE, "options must be a JSON object", "options") from None
        frange = None
        if req["range"] is not None:
            try:
                frange = FrameRange.model_validate(req["range"])
            except ValidationError as exc:
                raise _error(req, Code.BAD_FIELD, _first_error(exc, "range"), "range") from None
        if len(self.sessions) + self.opening >= self.max_sessions:
            raise _error(req, Code.BUSY, f"{self.max_sessions} sessions are open; close one first",
                         None)
        sid = uuid.uuid4().hex[:12]
        s = Session(id=sid, owner=owner, source=req["source"], model=req["model"] or options.model,
                    options=options, folder=self.root / sid, last_used=time.monotonic(),
                    engine=req["engine"], executor=ThreadPoolExecutor(1, thread_name_prefix=f"segmatte-session-{sid}"))
        self.opening += 1

        def then(f: Future[Any]) -> None:
            self.opening -= 1
            if f.exception() is None and self.stopping:  # opened while the server stops
                self._retire(s)
                reply(P.error_reply(req.id, Code.SHUTTING_DOWN, "the server is stopping"))
                return
            if f.exception() is None:
                self.sessions[sid] = s
                log.info("session %s opened on %s (%s)", sid, s.source, s.model)
            else:
                self._retire(s)
            self._answer(req, reply, "session.opened")(f)

        s.submit(self.mailbox, lambda: self._open_work(s, req, frange), then)

    def _open_work(self, s: Session, req: Request, frange: Any) -> dict[str, Any]:
        """Probe, check the model is pulled, load it (or reuse a warm one): session thread."""
        from segmatte.models import device as device_config
        from segmatte.models.engine import EngineError
        from segmatte.models.frames import ClipInfo
        from segmatte.models.track.session import TrackSession
        from segmatte.models.weights import cache, catalog

        from .media import MediaError, probe

        try:
            media = probe(s.source)
        except MediaError as exc:
            raise _error(req, Code.BAD_MEDIA, str(exc), "source") from None
        first, last = (frange.first, frange.last) if frange else (media.first, media.last)
        if first < media.first or last > media.last:
            raise _error(req, Code.BAD_MEDIA, f"range {first}-{last} is outside the source's "
                         f"frames {media.first}-{media.last}", "range")
        current = req["frame"] if req["frame"] is not None else first
        if not first <= current <= last:
            raise _error(req, Code.BAD_FIELD, f"frame {current} is outside the session's frames "
                         f"{first}-{last}", "frame")
        try:
            entry = catalog.get(s.model)
            if s.engine == "text":
                from segmatte.models.text.loader import entry_for, require_classes

                require_classes()  # the transformers version needed, at the door
                entry = entry_for(s.model)
            elif entry.engine != "track":
                raise EngineError(f"model {s.model} is not a tracking model")
            cache.require(entry)  # the pull command, before anything loads
            device = _pick_device()
            device_config.configure(device)
            parts = self.models.get(s.model, s.options.dtype, device, s.engine)
        except EngineError as exc:
            raise _error(req, Code.BAD_ENGINE, str(exc),
                         "model" if req["model"] else "options.model") from None
        s.media, s.width, s.height = media, media.width, media.height
        s.first, s.last, s.fps = first, last, float(media.fps or 0.0)
        s.frames = FrameSource(media, first, last)
        clip = ClipInfo(width=s.width, height=s.height, fps=s.fps, first=first, last=last)
        if s.engine == "text":
            from segmatte.models.text.detector import Detector
            from segmatte.models.track.loader import DTYPES

            s.parts = parts
            s.detector = Detector(parts.detector, parts.detector_processor, device=device,
                                  dtype=DTYPES[s.options.dtype])
            s.track = TrackSession(parts.tracker, parts.tracker_processor, clip, s.frames.fetch,
                                   options=s.options.track_options(), device=device)
        else:
            model, processor = parts
            s.track = TrackSession(model, processor, clip, s.frames.fetch, options=s.options,
                                   device=device)
        s.device = device
        # decode and embed the host's current frame now: the first click there skips the
        # image encoder (most of its cost) and the reply is the moment the host waits anyway
        s.track.prepare(current)
        s.folder.mkdir(parents=True, exist_ok=True)
        return {"session": s.id, "width": s.width, "height": s.height, "first": first,
                "last": last, "fps": s.fps, "model": s.model, "device": device}

    # --- session.prompt -------------------------------------------------------
    def prompt(self, req: Request, owner: bytes, reply: Reply) -> None:
        s = self._find(req, owner)
        if s.job is not None:
            raise _error(req, Code.BUSY, f"session {s.id} is propagating (job {s.job}); wait for "
                         "its end or cancel it", "session")
        frame, obj, text = req["frame"], req["object"], req["text"]
        if not s.first <= frame <= s.last:
            raise _error(req, Code.BAD_FIELD, f"frame {frame} is outside the session's frames "
                         f"{s.first}-{s.last}", "frame")
        if text is not None:
            self._text(req, owner, reply, s)
            return
        if obj is None:
            raise _error(req, Code.BAD_FIELD, "a prompt needs an object (or, in a text session, "
                         "a text)", "object")
        if not OBJECT_ID.match(obj):
            raise _error(req, Code.BAD_FIELD, f"object {obj!r} may hold only letters, digits, "
                         "'_' and '-' (it names a layer and files)", "object")
        if s.engine == "text":
            self._check_refinement(req, s, obj)
        points, box = self._shapes(req, s)
        mask = req["mask"]
        if mask is not None:
            if points or box is not None:
                raise _error(req, Code.BAD_FIELD, "a mask cannot be combined with points or a "
                             "box in one prompt", "mask")
            self.guard.check(mask, "mask", req.id)
        elif not points and box is None:
            raise _error(req, Code.BAD_FIELD, "a prompt needs points, a box or a mask", "points")

        def then(f: Future[Any]) -> None:
            if f.exception() is None:
                s.prompted = True
                if obj not in s.objects:
                    s.objects.append(obj)
            self._answer(req, reply, "session.preview")(f)

        s.submit(self.mailbox, lambda: self._prompt_work(s, req, points, box), then)

    # --- text prompts (a text session) ----------------------------------------
    def _text(self, req: Request, owner: bytes, reply: Reply, s: Session) -> None:
        """A concept prompt: checked here, detected on the session's thread."""
        from segmatte.models.text.concepts import label_for

        text = req["text"]
        if s.engine != "text":
            raise _error(req, Code.BAD_FIELD, f"session {s.id} runs the {s.engine} engine, which "
                         "takes points, boxes or a mask, not text; open the session with engine "
                         "\"text\" for text prompts", "text")
        if req["points"] or req["boxes"] or req["mask"] is not None:
            raise _error(req, Code.BAD_FIELD, "a text prompt goes alone: refine one of its "
                         "instances (car_1, car_2, ...) with points or a box in a next prompt",
                         "text")
        label = req["object"] or label_for(text)
        if not OBJECT_ID.match(label) or len(label) > 60:
            raise _error(req, Code.BAD_FIELD, f"object {label!r} may hold only letters, digits, "
                         "'_' and '-', at most 60 (it names the instances' layers)", "object")
        if label in s.concepts:
            n, earlier = s.concepts[label]
            raise _error(req, Code.BAD_FIELD, f"{label} already has its text prompt "
                         f"({earlier!r} on frame {n}); a session takes one per label: refine "
                         f"its instances with points on {label}_1, {label}_2, ...", "text")
        if label in s.objects or any(o.startswith(label + "_") for o in s.objects):
            raise _error(req, Code.BAD_FIELD, f"object {label} (or one named like its instances) "
                         "was already prompted with clicks; give the text another object id",
                         "object")

        s.concepts[label] = (req["frame"], text)  # at the door: a second text waits for no reply

        def then(f: Future[Any]) -> None:
            if f.exception() is not None:
                s.concepts.pop(label, None)
            else:
                s.prompted = True
                for inst in f.result()["instances"]:
                    if inst["object"] not in s.objects:
                        s.objects.append(inst["object"])
            self._answer(req, reply, "session.preview")(f)

        s.submit(self.mailbox, lambda: self._text_work(s, req, label, text), then)

    def _check_refinement(self, req: Request, s: Session, obj: str) -> None:
        """Clicks in a text session: on an instance (``car_2``) or a plain object, not a label."""
        if obj in s.concepts:
            raise _error(req, Code.BAD_FIELD, f"object {obj} is a text prompt's label; clicks "
                         f"refine one instance: put them on {obj}_1, {obj}_2, ...", "object")
        m = re.fullmatch(r"(.+)_([0-9]+)", obj)
        top = s.options.max_instances
        if m and m.group(1) in s.concepts and not 1 <= int(m.group(2)) <= top:
            raise _error(req, Code.BAD_FIELD, f"object {obj} refines instance {m.group(2)} of "
                         f"{m.group(1)}, but instances run from 1 to max_instances ({top})",
                         "object")

    def _text_work(self, s: Session, req: Request, label: str, text: str) -> dict[str, Any]:
        """Detect ``text`` on the frame and seed each instance from its mask: session thread.

        Instances are numbered by score, best first (``label_1`` …), as the text
        engine numbers them on a first keyframe. Each instance's preview is
        written, and the union of them as the label's preview (``path``).
        """
        import numpy as np

        from segmatte.models.text.concepts import instance_id

        from .output.exr import sequence_path, write_matte

        frame = req["frame"]
        opts = s.options
        image = s.frames.fetch(frame).image
        found = s.detector.detect(image, text, threshold=opts.detection_threshold,
                                  nms_iou=opts.nms_iou, limit=opts.max_instances)
        size = preview_shape(s.height, s.width, req["preview_size"])
        matte = None
        layers = []
        for n, det in enumerate(found, start=1):
            layer = instance_id(label, n)
            matte = s.track.add_prompt(frame, layer, mask=det.mask, size=size)
            s.boxes[(frame, layer)] = det.box
            layers.append(layer)
        s.last_prompt = frame
        meta = {"engine": "text", "model": s.model, "source": s.source, "frame": frame,
                "text": text, "session": s.id, "version": __version__}
        instances = []
        for layer in layers:
            path = sequence_path(s.folder, f"preview_{layer}", frame)
            write_matte(path, matte.layers[layer], channels="rgba", metadata={**meta, "layer": layer})
            instances.append({"object": layer, "path": str(path),
                              "score": round(float(matte.scores.get(layer, 0.0)), 6),
                              "detection": round(found[layers.index(layer)].score, 6)})
        height, width = size or (s.height, s.width)
        union = (np.maximum.reduce([matte.layers[x] for x in layers]) if layers
                 else np.zeros((height, width), np.float32))
        path = sequence_path(s.folder, f"preview_{label}", frame)
        write_matte(path, union, channels="rgba", metadata={**meta, "layer": label})
        scores = {k: round(float(v), 6) for k, v in matte.scores.items()} if matte else {}
        return {"session": s.id, "frame": frame, "object": label, "text": text, "path": str(path),
                "score": max((i["score"] for i in instances), default=0.0),
                "instances": instances, "scores": scores}

    @staticmethod
    def _shapes(req: Request, s: Session) -> tuple[list[Any], Any]:
        """Points and the box as prompt models, each checked to lie inside the frame."""
        from segmatte.models.prompts import Box, Point

        from .spec import _first_error

        def inside(x: float, y: float, where: str, what: str) -> None:
            if not (0 <= x <= s.width and 0 <= y <= s.height):
                raise _error(req, Code.BAD_FIELD, f"{what} ({x:g}, {y:g}) lies outside the "
                             f"{s.width}x{s.height} frame", where)

        points = []
        for i, raw in enumerate(req["points"] or ()):
            try:
                p = Point.model_validate(raw)
            except ValidationError as exc:
                raise _error(req, Code.BAD_FIELD, _first_error(exc, f"points.{i}"),
                             f"points.{i}") from None
            inside(p.x, p.y, f"points.{i}", "point")
            points.append(p)
        boxes = req["boxes"] or ()
        if len(boxes) > 1:
            raise _error(req, Code.BAD_FIELD, "one box per object and frame (SAM takes one)",
                         "boxes")
        box = None
        if boxes:
            try:
                box = Box.model_validate(boxes[0])
            except ValidationError as exc:
                raise _error(req, Code.BAD_FIELD, _first_error(exc, "boxes.0"), "boxes.0") from None
            inside(box.x0, box.y0, "boxes.0", "box corner")
            inside(box.x1, box.y1, "boxes.0", "box corner")
        return points, box

    def _prompt_work(self, s: Session, req: Request, points: list[Any], box: Any) -> dict[str, Any]:
        """One model call on the prompted frame, its matte written as the preview: session thread."""
        from segmatte.models.engine import EngineError

        from .output.exr import sequence_path, write_matte

        frame, obj = req["frame"], req["object"]
        clicks, seed, replace = points, box, req["replace"]
        detected = s.boxes.get((frame, obj))
        if detected is not None and box is None and not req["mask"]:
            # a text instance on its detection frame: its detection box and every click there,
            # as the text engine prompts it (a negative point removes, a positive one adds)
            from segmatte.models.prompts import Box, Point

            kf = s.keyframes.get(obj, {}).get(frame)
            earlier = [] if kf is None or replace else [Point(**p) for p in kf["points"]]
            x0, y0, x1, y1 = detected
            x0, y0, x1, y1 = min(x0, s.width), min(y0, s.height), min(x1, s.width), min(y1, s.height)
            if x1 > x0 and y1 > y0:
                clicks, seed, replace = [*earlier, *points], Box(x0=x0, y0=y0, x1=x1, y1=y1), True
        try:
            matte = s.track.add_prompt(frame, obj, points=clicks, box=seed, mask=req["mask"],
                                       replace=replace, as_keyframe=req["keyframe"],
                                       size=preview_shape(s.height, s.width, req["preview_size"]))
        except EngineError as exc:
            raise _error(req, Code.BAD_FIELD, str(exc),
                         "mask" if req["mask"] else "points") from None
        s.last_prompt = frame
        kf = s.keyframes.setdefault(obj, {}).get(frame)
        if kf is None or req["replace"] or req["mask"] or box is not None:
            kf = {"points": [], "boxes": [], "mask": None}
        kf["points"] = [*kf["points"], *(p.model_dump() for p in points)]
        if box is not None:
            kf["boxes"] = [box.model_dump()]
        if req["mask"]:
            kf["mask"] = req["mask"]
        s.keyframes[obj][frame] = kf
        path = sequence_path(s.folder, f"preview_{obj}", frame)
        write_matte(path, matte.layers[obj], channels="rgba",
                    metadata={"engine": s.engine, "model": s.model, "source": s.source,
                              "frame": frame, "layer": obj, "session": s.id,
                              "version": __version__})
        return {"session": s.id, "frame": frame, "object": obj, "path": str(path),
                "score": round(float(matte.scores.get(obj, 0.0)), 6),
                "scores": {k: round(float(v), 6) for k, v in matte.scores.items()}}

    # --- session.propagate ----------------------------------------------------
    def propagate(self, req: Request, owner: bytes, reply: Reply,
                  ready: Callable[[Propagation], None]) -> None:
        """Check at the door; the job's own door (``check_job``) runs off this thread.

        A propagation is a job of the session's prompts: every prompted frame is a
        keyframe, and the pipeline re-tracks only the frames whose keyframes changed
        (a correction on frame F re-tracks from F on, in the job's direction).
        ``range`` re-tracks just those frames; ``start`` re-tracks from it on in
        the direction.
        """
        from segmatte.models.finish.options import FinishOptions

        from .pipeline import check_job
        from .spec import FrameRange, JobSpec, OutputSpec, SpecError, _first_error

        s = self._find(req, owner)
        if s.job is not None:
            raise _error(req, Code.BUSY, f"session {s.id} is already propagating (job {s.job})",
                         "session")
        if not s.prompted:
            raise _error(req, Code.BAD_FIELD, "nothing to propagate: prompt an object first",
                         "session")
        try:
            output = OutputSpec.model_validate(req["output"])
        except ValidationError as exc:
            msg = _first_error(exc, "output")
            raise _error(req, Code.BAD_SPEC, msg, msg.split(":", 1)[0]) from None
        if not os.path.isabs(os.path.expanduser(output.folder)):
            raise _error(req, Code.BAD_SPEC, "output.folder must be an absolute path "
                         "(the server has its own working folder)", "output.folder")
        if not self.guard.allows(output.folder):
            roots = ", ".join(str(r) for r in self.guard.roots)
            raise _error(req, Code.BAD_PATH, f"{output.folder!r} is outside the folders this "
                         f"server may use ({roots}); start it with --allow-root to add one",
                         "output.folder")
        try:
            finish = FinishOptions.model_validate(req["finish"] or {})
        except ValidationError as exc:
            msg = _first_error(exc, "finish")
            raise _error(req, Code.BAD_SPEC, msg, msg.split(":", 1)[0]) from None
        direction = req["direction"] or s.direction or "both"
        retrack = None
        if req["range"] is not None:
            try:
                r = FrameRange.model_validate(req["range"])
            except ValidationError as exc:
                raise _error(req, Code.BAD_FIELD, _first_error(exc, "range"), "range") from None
            if r.first < s.first or r.last > s.last:
                raise _error(req, Code.BAD_FIELD, f"range {r.first}-{r.last} is outside the "
                             f"session's frames {s.first}-{s.last}", "range")
            retrack = r
        start = req["start"]
        if start is not None:
            if not s.first <= start <= s.last:
                raise _error(req, Code.BAD_FIELD, f"start {start} is outside the session's "
                             f"frames {s.first}-{s.last}", "start")
            if direction == "forward":
                retrack = FrameRange(first=start, last=s.last)
            elif direction == "backward":
                retrack = FrameRange(first=s.first, last=start)
        try:
            spec = JobSpec(source=s.source, range=FrameRange(first=s.first, last=s.last),
                           engine=s.engine, model=s.model,
                           options=s.options.model_dump(mode="json"),
                           objects=s.prompt_objects(), direction=direction, finish=finish,
                           output=output, retrack=retrack)
        except ValidationError as exc:
            raise _error(req, Code.BAD_SPEC, _first_error(exc), None) from None
        prop = Propagation(s, spec, subscribe=req["subscribe"])
        s.job = "(checking)"  # no second propagation or prompt slips in during the check

        def work() -> Any:
            prop.plan = check_job(spec)

        def then(f: Future[Any]) -> None:
            s.job = None
            exc = f.exception()
            if exc is None and s.id in self.sessions:
                s.direction = direction
                ready(prop)
            elif exc is None:
                reply(P.error_reply(req.id, Code.NOT_FOUND, f"session {s.id} was closed", "session"))
            elif isinstance(exc, SpecError):
                msg = str(exc)
                reply(P.error_reply(req.id, Code.BAD_SPEC, msg,
                                    "output.folder" if "output folder" in msg else None))
            else:
                reply(P.error_reply(req.id, Code.BAD_SPEC, f"cannot propagate: {exc}"))

        self.offload(work, then)

    def start(self, prop: Propagation, job_id: str, cancel: threading.Event,
              emit: Callable[[Event], None], started: Callable[[], None]) -> None:
        """Run a propagation's job (its id made) on the session's thread, warm model and all."""
        s = prop.session
        s.job, s.job_cancel = job_id, cancel

        def free() -> None:
            if s.job == job_id:
                s.job, s.job_cancel = None, None
            s.last_used = time.monotonic()

        def emit_end(event: Event) -> None:
            if isinstance(event, (Done, Failed, Cancelled)):
                # The mailbox keeps order: the session is free before its client hears the
                # end, so a click right after ``done`` is never refused as busy.
                self.mailbox.post(free)
            emit(event)

        def engine(plan: Any, device: str) -> Any:
            from segmatte.models.track.engine_track import TrackEngine

            if s.engine == "text":
                from segmatte.models.text.engine_text import TextEngine

                return TextEngine(plan.options, model=s.model, device=s.device, parts=s.parts)
            tracker = s.track.tracker  # the session's warm model, not a second copy
            return TrackEngine(plan.options, model=s.model, device=s.device,
                               parts=(tracker.model, tracker.processor))

        def work() -> None:
            from .pipeline import run_job

            started()
            run_job(prop.spec, job_id=job_id, emit=emit_end, cancel=cancel, device=s.device,
                    plan=prop.plan, engine_factory=engine)

        s.submit(self.mailbox, work, lambda _f: free())

    # --- session.close and the end of sessions --------------------------------
    def close(self, req: Request, owner: bytes, reply: Reply) -> None:
        s = self._find(req, owner)
        self._retire(s, lambda: reply(P.reply("session.closed", req.id, session=s.id)))

    def _retire(self, s: Session, then: Callable[[], None] | None = None) -> None:
        """Forget ``s``, stop its propagation, free its model state and previews."""
        self.sessions.pop(s.id, None)
        if s.job_cancel is not None:
            s.job_cancel.set()
        self._closing.append(s)

        def work() -> None:
            try:
                if s.track is not None:
                    s.track.close()
                if s.frames is not None:
                    s.frames.close()
            finally:
                s.track = s.frames = s.detector = s.parts = None
                shutil.rmtree(s.folder, ignore_errors=True)
                s.closed.set()

        def done(_f: Future[Any]) -> None:
            if s in self._closing:
                self._closing.remove(s)
            log.info("session %s closed", s.id)
            if then is not None:
                then()

        s.submit(self.mailbox, work, done)
        s.executor.shutdown(wait=False)

    def reap(self, now: float, live: Callable[[bytes], bool]) -> None:
        """Close sessions whose client is gone and that nobody touched for the timeout."""
        for s in list(self.sessions.values()):
            if live(s.owner):
                s.orphan_since = None
                continue
            if s.orphan_since is None:
                s.orphan_since = max(now, s.last_used)
            elif now - s.orphan_since > self.timeout_s and s.job is None:
                log.info("session %s: its client went away %.0f s ago; closing it", s.id,
                         now - s.orphan_since)
                self._retire(s)

    def close_all(self) -> None:
        """Server shutdown: cancel propagations and close every session."""
        self.stopping = True
        for s in list(self.sessions.values()):
            self._retire(s)

    def alive(self) -> bool:
        """Whether a session is still opening or closing (its thread still busy)."""
        return self.opening > 0 or any(not s.closed.is_set() for s in self._closing)
