"""The person engine's card: its options and what the door checks, without torch.

:mod:`.engine_person` (torch) subclasses :class:`PersonCard`; clients that
only check a job import this module alone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..engine import PATH_OPTION, EngineCard, EngineError, EngineOptions
from .weights import LICENCE

TRAINED_LONG_SIDE = 512


def auto_downsample_ratio(height: int, width: int) -> float:
    """``min(1, 512 / max(H, W))`` (see the module docstring)."""
    return min(1.0, TRAINED_LONG_SIDE / max(height, width))


class PersonOptions(EngineOptions):
    """Options of the person engine."""

    downsample_ratio: Literal["auto"] | Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        "auto", description="share of the resolution the network sees, in (0, 1]; 'auto': "
        "min(1, 512 / long side). Raise it when people are small in frame")
    reset_on_cut: bool = Field(
        True, description="start the recurrent state afresh at a detected cut")
    cut_threshold: float = Field(
        0.5, gt=0.0, le=1.0, description="colour-histogram distance (0-1) between consecutive "
        "frames above which a cut is detected")
    foreground: bool = Field(
        False, description="also write the predicted foreground colour as an RGBA "
        "premultiplied EXR sequence beside the matte (name_foreground.####.exr)")
    snap: Annotated[float, Field(ge=0.0, lt=0.5)] | None = Field(
        None, description="alpha below this becomes exactly 0, above 1 - snap exactly 1 "
        "(smaller, faster EXRs; invisible); unset: only the writer's snap (0.001), done once")
    device: str | None = Field(
        None, description="torch device ('cpu', 'cuda', 'cuda:1', 'mps'); default: the job's")
    weights: str | None = Field(
        None, description="path of rvm_mobilenetv3.pth or rvm.json (or their folder); default: "
        "the weights cache, then the test assets", json_schema_extra=PATH_OPTION)

    def ratio_for(self, height: int, width: int) -> float:
        if self.downsample_ratio == "auto":
            return auto_downsample_ratio(height, width)
        if not 0 < self.downsample_ratio <= 1:
            raise EngineError(f"downsample_ratio must be in (0, 1], got {self.downsample_ratio}")
        return float(self.downsample_ratio)


class PersonCard(EngineCard):
    name = "person"
    description = ("automatic person matte with temporal memory (Robust Video Matting; "
                   f"weights {LICENCE}, opt-in: segmatte models pull rvm-mobilenetv3 "
                   "--accept-licence)")
    Options = PersonOptions
    temporal = True
    needs_objects = False
    # Half the cores, like the other engines: on a shared 2-core machine torch on
    # 2 threads made the whole 1080p job ~3× slower than on 1 (bench/bench_person.py).
    cpu_threads = "half"
