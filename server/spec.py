"""The job spec: what one matte job asks for, validated at the door.

A spec arrives as JSON (from a host over ZeroMQ, from the CLI, from a batch
list). :func:`parse_spec` turns it into a :class:`JobSpec` or raises
:class:`SpecError` with one sentence that names the field at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from segmatte.models.finish.options import FinishOptions
from segmatte.models.prompts import ObjectPrompts

Channels = Literal["rgba", "a", "y"]
Compression = Literal["zip", "zips", "piz", "rle", "none", "pxr24", "b44", "dwaa", "dwab"]
Direction = Literal["forward", "backward", "both"]
ShapesFormat = Literal["blender", "fusion", "nuke", "json", "svg"]

MAX_FRAMES = 1_000_000
"""Above this a range is taken for a typo, not a shot."""


class SpecError(ValueError):
    """A job spec that cannot run; ``str()`` is one sentence for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrameRange(_Strict):
    """Inclusive range of *source* frame numbers."""

    first: int = Field(ge=0)
    last: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> FrameRange:
        if self.last < self.first:
            raise ValueError(f"range {self.first}-{self.last} ends before it starts")
        if self.last - self.first + 1 > MAX_FRAMES:
            raise ValueError(f"range {self.first}-{self.last} is longer than {MAX_FRAMES} frames")
        return self

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    @classmethod
    def parse(cls, text: str) -> FrameRange:
        """``"A-B"`` or ``"A"`` → a range; raises SpecError."""
        m = re.fullmatch(r"\s*(\d+)\s*(?:[-:]\s*(\d+)\s*)?", text)
        if not m:
            raise SpecError(f"range {text!r} is not of the form A-B (source frame numbers)")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        try:
            return cls(first=first, last=last)
        except ValidationError as exc:
            raise SpecError(_first_error(exc, "range")) from None


class OutputSpec(_Strict):
    folder: str = Field(min_length=1)
    name: str = Field("matte", min_length=1, max_length=128)
    padding: int = Field(4, ge=1, le=10)
    channels: Channels = "rgba"
    compression: Compression = "zip"
    datatype: Literal["half", "float"] = "half"
    overwrite: bool = Field(False, description="replace segmatte files of a *different* job")
    layers: Literal["files", "channels"] = Field(
        "files", description="several layers (objects, classes): one sequence each (files), or "
        "one multi-channel EXR per frame with channels named <layer>.A (channels)")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_\-.]+", v) or v.startswith("."):
            raise ValueError(
                f"name {v!r} may hold only letters, digits, '_', '-' and '.', and not start with '.'"
            )
        return v


class JobSpec(_Strict):
    source: str = Field(min_length=1, description="video file, image sequence pattern or still")
    part: str | None = Field(None, min_length=1, max_length=256,
                             description="multi-part EXR: the part to read, by name or index; "
                             "None = the first")
    range: FrameRange | None = Field(None, description="source frame numbers; None = whole clip")
    engine: str = Field(min_length=1)
    model: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="the engine's own options")
    objects: tuple[ObjectPrompts, ...] = ()
    direction: Direction = "forward"
    hold_gaps: bool = Field(False, description="an image sequence with missing frames: hold the "
                            "previous frame over each gap (the first frame after, for a gap at "
                            "the head) instead of refusing the job at the door")
    finish: FinishOptions = FinishOptions()
    output: OutputSpec
    retrack: FrameRange | None = Field(
        None, description="re-track only these source frames (from the nearest keyframe), "
        "whatever is on disk; frames outside are left as they are")
    shapes: tuple[ShapesFormat, ...] = Field(
        (), description="after the mattes: editable shapes of each layer in these formats "
        "(as `segmatte shapes --to`), written beside them as NAME.shapes.json, NAME.setting, "
        "NAME.nk, NAME.<frame>.svg and NAME.shapes-manifest.json")

    @field_validator("shapes", mode="before")
    @classmethod
    def _shape_formats(cls, v: Any) -> Any:
        known = ShapesFormat.__args__  # type: ignore[attr-defined]
        for f in v if isinstance(v, (list, tuple)) else ():
            if f not in known:
                raise ValueError(f"{f!r} is not a shapes format; choose from {', '.join(known)}")
        return v

    def digest(self) -> str:
        """Identity of the whole job: settings and prompts (not the range or folder)."""
        keep = self.model_dump(mode="json", exclude={"range": True, "retrack": True,
                                                     "hold_gaps": True, "shapes": True,
                                                     "output": {"folder", "overwrite"}})
        _keep_old_digest(keep)
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def settings_digest(self) -> str:
        """Identity of the job without its prompts and direction: what makes it *this* job.

        Written into every matte's header (``segmatte/settings``). Files with the
        same settings digest are this job's, so a changed prompt set (a
        correction) may rewrite them without ``overwrite``; a different one is
        another job's and needs ``overwrite``.
        """
        keep = self.model_dump(mode="json", exclude={
            "range": True, "retrack": True, "hold_gaps": True, "shapes": True, "objects": True,
            "direction": True, "output": {"folder", "overwrite"}})
        _keep_old_digest(keep)
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def _keep_old_digest(keep: dict[str, Any]) -> None:
    """Fields added since at their defaults are left out of a digest: specs written
    before they existed keep their digest (their mattes stay this job's)."""
    if keep.get("part") is None:
        keep.pop("part", None)
    finish = keep.get("finish")
    if isinstance(finish, dict) and finish.get("refine_solve") is True:
        finish.pop("refine_solve")


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    msg = err.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    where = f"{prefix}.{where}" if prefix and where else (where or prefix)
    return f"{where}: {msg}" if where else msg


def parse_spec(data: dict[str, Any] | str) -> JobSpec:
    """Validate a spec dict (or JSON text); raises SpecError naming the field."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise SpecError(f"job spec is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(data, dict):
        raise SpecError("job spec must be a JSON object")
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_first_error(exc)) from None
