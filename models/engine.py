"""The streaming interface every engine implements.

An engine is opened on a clip with the job's objects, then consumes source
frames one at a time and yields one :class:`~segmatte.models.frames.Matte` per
frame, at source resolution. Pulling frames lazily is what keeps memory flat
with clip length: an engine holds only the state it needs (a recurrent state,
a memory bank), never the clip.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .frames import ClipInfo, Frame, Matte
from .prompts import ObjectPrompts


class EngineOptions(BaseModel):
    """Base of each engine's own options model (validated at the door)."""

    model_config = ConfigDict(extra="forbid")


PATH_OPTION: dict[str, Any] = {"segmatte_path": True}
"""``json_schema_extra`` of an option field that may name a file (a clean plate,
weights): the server's path guard finds such fields by this mark, so a new
option that names a file is checked by declaring it, not by remembering to add
it to the guard. Hosts see the mark in the options schema (a file picker)."""

PATH_OR_NAME_OPTION: dict[str, Any] = {"segmatte_path": "or_name"}
"""The mark of an option that holds a catalog name *or* a path (a checkpoint
folder): the guard checks the values that look like a path."""


def path_options(options: type[BaseModel]) -> dict[str, bool | str]:
    """The fields of an options model marked as paths: name → the mark's value."""
    marks: dict[str, bool | str] = {}
    for name, f in options.model_fields.items():
        extra = f.json_schema_extra
        if isinstance(extra, dict) and extra.get("segmatte_path"):
            marks[name] = extra["segmatte_path"]  # type: ignore[assignment]
    return marks


class EngineError(RuntimeError):
    """An engine could not do what the job asked; the message is for the user."""


Travel = Literal["forward", "backward"]


@dataclass(frozen=True)
class Pass:
    """One run of an engine from a fresh state, as the pipeline feeds it.

    The pipeline reads ``prime`` and then ``frames`` through the bounded
    reader, in that order, and the engine yields one matte per frame of
    ``frames`` (none for ``prime``: those frames only rebuild the engine's
    state, e.g. the tracker's earlier keyframes). ``breaks`` are frames of
    ``frames`` where a new segment starts (a keyframe): what is temporal
    downstream (reduce chatter) starts afresh there too, so a segment's
    mattes never depend on what was computed before it.
    """

    direction: Travel
    frames: tuple[int, ...]
    prime: tuple[int, ...] = ()
    breaks: frozenset[int] = frozenset()


def default_passes(temporal: bool, direction: str, first: int, last: int,
                   todo: Collection[int]) -> list[Pass]:
    """The plan of an engine without segments.

    A frame-by-frame engine computes only what is to do; a temporal one (the
    person engine's recurrent state, or reduce chatter downstream) is fed the
    whole range in order and the pipeline writes only what is to do.
    """
    frames = list(range(first, last + 1))
    travel: Travel = "backward" if direction == "backward" else "forward"
    if travel == "backward":
        frames.reverse()
    if not temporal:
        wanted = set(todo)
        frames = [n for n in frames if n in wanted]
    return [Pass(travel, tuple(frames))] if frames else []


class EngineCard:
    """What the door and the clients need of an engine, importable without torch.

    The name, options model, prompt kinds and the cheap class-level checks
    (:meth:`plan_passes`, :meth:`frame_digests`, :meth:`check_ready`) live
    here, in a module that imports no compute library, so ``segmatte batch``
    or ``matte --server`` can check a job without loading torch (as
    ``transformers`` keeps configurations apart from modelling code). The
    engine class subclasses its card; :mod:`.registry` imports it only to build.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[EngineOptions]] = EngineOptions
    temporal: ClassVar[bool] = False
    needs_objects: ClassVar[bool] = False
    cpu_threads: ClassVar[Literal["half", "all"]] = "half"
    """How many CPU threads torch gets for this engine's jobs on the CPU (see
    :mod:`segmatte.models.device`): half the cores, or all of them."""
    prompt_kinds: ClassVar[frozenset[str]] = frozenset()
    """Kinds of keyframe prompt the engine takes: ``points``, ``boxes``, ``mask``, ``text``.
    Checked at the door (an engine that takes none ignores no prompts: it refuses them)."""

    @classmethod
    def plan_passes(cls, direction: str, first: int, last: int,
                    objects: Sequence[ObjectPrompts], todo: Collection[int],
                    temporal_finish: bool = False) -> list[Pass]:
        """How to compute the frames in ``todo`` (the rest of the range is on disk).

        Engines with segments (the tracker) override this; see :class:`Pass`.
        """
        return default_passes(cls.temporal or temporal_finish, direction, first, last, todo)

    @classmethod
    def frame_digests(cls, direction: str, first: int, last: int,
                      objects: Sequence[ObjectPrompts]) -> dict[int, str]:
        """Per frame, a digest of the prompts (and direction) its matte depends on.

        By default every frame depends on all of them; the tracker narrows it
        to the keyframes its segment came from, so a changed prompt set
        re-computes only the frames whose digest changed.
        """
        from .prompts import prompt_digest

        digest = prompt_digest(tuple(objects)) + ":" + direction
        return dict.fromkeys(range(first, last + 1), digest)

    @classmethod
    def check_ready(cls, options: EngineOptions, model: str | None) -> None:
        """Raise EngineError if this engine cannot run here (e.g. weights missing).

        Called at the door, before anything is made, so a missing model fails
        with the command that fetches it rather than after the job started.
        Must be cheap: look, do not load. Engines without weights need nothing.
        """
        return None


class Engine(EngineCard, ABC):
    """Base class of all engines.

    Subclasses (or their :class:`EngineCard`) set ``name``, ``description``,
    ``Options`` and ``temporal``, and implement :meth:`stream`. ``temporal``
    says whether the matte of a frame depends on earlier frames: a resumed job
    may skip frames of a non-temporal engine entirely, but must feed a temporal
    engine every frame and only skip *writing* the ones already on disk.
    """

    def __init__(self, options: EngineOptions | dict[str, Any] | None = None, *,
                 model: str | None = None, device: str = "cpu") -> None:
        if options is None:
            options = {}
        self.options = options if isinstance(options, EngineOptions) else self.Options(**options)
        self.model = model
        self.device = device
        self.clip: ClipInfo | None = None
        self.objects: tuple[ObjectPrompts, ...] = ()
        self.fetch: Callable[[int], Frame] | None = None
        self.direction: str = "forward"
        self.passes: list[Pass] | None = None

    def schedule(self, direction: str, passes: Sequence[Pass] | None) -> None:
        """Say, before :meth:`open`, the job's direction and the plan the stream follows.

        ``passes`` is what :meth:`plan_passes` made, in the order the stream
        delivers it (None: the frames as they come). The direction is told,
        never read from the order frames arrive in.
        """
        self.direction = direction
        self.passes = list(passes) if passes is not None else None

    def open(self, clip: ClipInfo, objects: Sequence[ObjectPrompts] = (),
             fetch: Callable[[int], Frame] | None = None) -> None:
        """Prepare for a clip: load weights, read reference frames, check prompts.

        ``fetch`` gives random access to one source frame by its number, for
        engines that need a reference outside the stream (a clean plate);
        the tracker's keyframes come through the stream (see :class:`Pass`).
        """
        if self.needs_objects and not objects:
            raise EngineError(f"the {self.name} engine needs at least one object with prompts")
        self.clip = clip
        self.objects = tuple(objects)
        self.fetch = fetch

    @abstractmethod
    def stream(self, frames: Iterable[Frame]) -> Iterator[Matte]:
        """Yield one matte per frame, in the order the frames arrive."""

    def close(self) -> None:
        """Release what :meth:`open` took (GPU memory, files)."""
        return None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
