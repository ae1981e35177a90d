"""Batch mattes for editors: every shot of a cut (OTIO, EDL, FCP XML) or a CSV shot list.

>>> shots = read_shots("cut.edl", handles=8)             # source frame numbers, per clip
>>> result = run_batch(shots, BatchSettings(output=Path("/mattes/cut")), InProcessRunner())
>>> result.manifest.failed()                              # every shot's result, with reasons

Runners: :class:`~.runner_local.ServerRunner` (the local server's queue, the
CLI's default), :class:`~.runner_local.InProcessRunner`, and
:class:`~.runner_ray.RayRunner`. ``segmatte batch`` is
:mod:`segmatte.server.commands.batch`; the editor's flow is in README.md here.
"""

from .driver import BatchResult, run_batch
from .manifest import BatchManifest, ShotRecord
from .plan import BatchSettings, ShotJob, shot_spec
from .runner_local import InProcessRunner, ServerRunner
from .shots import BatchInputError, Placement, Shot, read_shots

__all__ = [
    "BatchInputError",
    "BatchManifest",
    "BatchResult",
    "BatchSettings",
    "InProcessRunner",
    "Placement",
    "ServerRunner",
    "Shot",
    "ShotJob",
    "ShotRecord",
    "read_shots",
    "run_batch",
    "shot_spec",
]
