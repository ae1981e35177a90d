"""``segmatte shapes --to blender`` in real Blender: the extension's Shapes operator.

Runs in the main environment: builds the extension zip, makes mattes of known
shapes (a ring with a hole, a disc that appears later and moves), runs the
real ``segmatte shapes`` on them, then runs ``inner_shapes/bpy_shapes.py``
inside each Blender's environment (``python3 install/blender_envs.py``),
which creates the Mask and renders it through the compositor; a second
matte (a soft-edged annulus beside a hard disc) checks the per-point feather.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapegen

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
INNER = HERE / "inner_shapes"
sys.path.insert(0, str(TESTS.parent / "install"))

import blender_envs  # noqa: E402
from test_blender import _this_platform  # noqa: E402

from segmatte.server.cli import main  # noqa: E402
from segmatte.server.installers import blender as installer  # noqa: E402
from segmatte.server.output.exr import write_matte  # noqa: E402

W, H = 160, 120
FIRST, LAST = 1001, 1006
TIMEOUT = 300

pytestmark = pytest.mark.slow


SOFT = 8.0
"""Width of the feather test's linear ramp, pixels."""
ANNULUS = (50.0, 60.0, 34.0, 12.0)
"""Soft annulus (cx, cy, r_out, r_in): a feathered outer edge and a feathered hole."""
HARD = (125.0, 60.0, 20.0)
"""A hard (anti-aliased) disc beside it."""


def feather_matte() -> np.ndarray:
    """A soft-edged annulus (ramp SOFT px across both edges) and a hard disc."""
    cx, cy, r_out, r_in = ANNULUS
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    d = np.hypot(xx - cx, yy - cy)
    soft = np.clip(np.minimum(r_out - d, d - r_in) / SOFT + 0.5, 0, 1)
    return np.maximum(soft, shapegen.discs(W, H, [HARD])).astype(np.float32)


def _matte(f: int) -> np.ndarray:
    ring = shapegen.ring(W, H, 105, 62, 36, 14)
    if f < FIRST + 2:
        return ring
    return np.maximum(ring, shapegen.discs(W, H, [(28 + 3 * (f - FIRST), 45, 17)]))


@pytest.fixture(scope="module")
def zips(tmp_path_factory) -> dict[str, Path]:
    here = _this_platform()
    if here is None:
        pytest.skip(f"no pyzmq wheels are bundled for {sys.platform}")
    try:
        made = installer.build(tmp_path_factory.mktemp("zips"), platforms=[here])
    except installer.BuildError as exc:
        pytest.skip(f"cannot build the Blender extension here: {exc}")
    return {f.key: path for f, path in zip(installer.FLAVOURS, made, strict=True)}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    mattes = {f: _matte(f) for f in range(FIRST, LAST + 1)}
    for f, m in mattes.items():
        write_matte(folder / f"m.{f:04d}.exr", m)
    assert main(["shapes", str(folder / "m.####.exr"), "--out", str(folder), "--name", "shapes",
                 "--to", "blender"]) == 0
    np.savez(folder / "mattes.npz", **{f"f{f}": m for f, m in mattes.items()})
    soft = folder / "soft"
    soft.mkdir()
    for f in (FIRST, FIRST + 1):
        write_matte(soft / f"m.{f:04d}.exr", feather_matte())
    assert main(["shapes", str(soft / "m.####.exr"), "--out", str(folder), "--name", "feather",
                 "--to", "blender"]) == 0
    np.savez(folder / "feather.npz", matte=feather_matte(), annulus=np.array(ANNULUS),
             hard=np.array(HARD), soft=SOFT)
    return folder


@pytest.mark.timeout(TIMEOUT + 120)
@pytest.mark.parametrize("version", list(blender_envs.BLENDERS))
def test_shapes_mask_in_blender(version: str, zips, data: Path, tmp_path: Path) -> None:
    python = blender_envs.ready_envs().get(version)
    if python is None:
        bpy_version, py = blender_envs.BLENDERS[version]
        pytest.skip(f"no environment with bpy {bpy_version} (Python {py}) in "
                    f"{blender_envs.default_root()}: run python3 install/blender_envs.py")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update({
        "BLENDER_USER_RESOURCES": str(tmp_path / "blender-user"),
        "SEGMATTE_HOST_ZIP": str(zips[installer.flavour_for(version).key]),
        "SEGMATTE_SHAPES_DIR": str(data),
    })
    cmd = [str(python), "-m", "pytest", "-c", str(HERE / "inner" / "pytest.ini"),
           "--rootdir", str(INNER), "-q", "-rs", "-s", "-p", "no:cacheprovider", str(INNER)]
    got = subprocess.run(cmd, cwd=INNER, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    lines = [ln for ln in got.stdout.splitlines()
             if not ln.startswith(("Fra:", "Read ", "Saved:", "Time:", " Time:"))]
    report = "\n".join(lines[-60:])
    print(f"--- Blender {version} ---\n{report}")
    assert got.returncode == 0, f"Blender {version}: {report}\n{got.stderr[-3000:]}"
