"""The Blender extension in real Blender: 4.2 LTS, 4.5 LTS, 5.0 and 5.2 (PyPI ``bpy``).

Runs in the main environment. It builds the extension zips (linux wheels
only), generates tiny clips, starts a real ``segmatte serve`` on a free
loopback port with its own config and data folders, then runs the inner tests
(``inner/bpy_*.py``) with pytest *inside* each Blender's environment, made by
``python3 install/blender_envs.py``. A Blender whose environment is missing is
skipped with the reason; the inner tests' own skips are printed
(``pytest -rs -s`` shows them).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
INNER = HERE / "inner"
sys.path.insert(0, str(TESTS.parent / "install"))
sys.path.insert(0, str(TESTS / "integration"))

import blender_envs  # noqa: E402
import clipgen  # noqa: E402
from serverkit import ServerProcess  # noqa: E402

from segmatte.server.installers import blender as installer  # noqa: E402

W, H = 160, 120
GREEN_FRAMES = 8
LONG_FRAMES = 40
FRAME_DELAY = 0.1
"""The server sleeps this long after each frame it writes, so a job can be cancelled mid-way."""
INNER_TIMEOUT = 420
"""Bounds a hang (one Blender's inner tests take tens of seconds on 2 cores)."""

pytestmark = pytest.mark.slow


def _this_platform() -> str | None:
    machine = platform.machine().lower()
    arch = "x64" if machine in ("x86_64", "amd64") else "arm64" if machine in ("arm64", "aarch64") else ""
    name = {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform, "")
    key = f"{name}-{arch}"
    return key if key in installer.PLATFORMS else None


@pytest.fixture(scope="module")
def zips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    here = _this_platform()
    if here is None:
        pytest.skip(f"no pyzmq wheels are bundled for {sys.platform}/{platform.machine()}")
    out = tmp_path_factory.mktemp("blender-zips")
    try:
        made = installer.build(out, platforms=[here])
    except installer.BuildError as exc:
        pytest.skip(f"cannot build the Blender extension here: {exc}")
    return {f.key: path for f, path in zip(installer.FLAVOURS, made, strict=True)}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("blender-media")
    clipgen.write_green_screen_clip(folder / "green.mp4", GREEN_FRAMES, W, H)
    clipgen.write_green_screen_clip(folder / "long.mp4", LONG_FRAMES, W, H)
    clipgen.write_video(folder / "numbered.mp4",
                        (clipgen.numbered_image(n, W, H) for n in range(12)), 24.0)
    numbers = range(1001, 1009)
    clipgen.write_sequence(folder / "seq", "numbered", numbers,
                           (clipgen.numbered_image(n, W, H) for n in numbers), ext="png",
                           dtype="uint8")
    return folder




@pytest.fixture(scope="module")
def host_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face cache with the tiny random SAM 2 (track) and SAM 3 (text) models."""
    from tiny_text import save_to_hub
    from tiny_track import save_hub

    root = tmp_path_factory.mktemp("host-hub")
    save_hub(root)
    return save_to_hub(root)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, host_hub: Path):
    hub = host_hub
    with pytest.MonkeyPatch.context() as mp:  # ServerProcess copies os.environ at start
        mp.setenv("HF_HUB_CACHE", str(hub))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("SEGMATTE_TORCH_THREADS", "1")
        srv = ServerProcess(tmp_path_factory.mktemp("blender-server"), slow=FRAME_DELAY).start()
    yield srv
    srv.stop(10)


@pytest.mark.timeout(INNER_TIMEOUT + 60)
@pytest.mark.parametrize("version", list(blender_envs.BLENDERS))
def test_extension_in_blender(version: str, zips: dict[str, Path], media: Path,
                              server: ServerProcess, tmp_path: Path) -> None:
    python = blender_envs.ready_envs().get(version)
    if python is None:
        bpy_version, py = blender_envs.BLENDERS[version]
        pytest.skip(f"no environment with bpy {bpy_version} (Python {py}) in "
                    f"{blender_envs.default_root()}: run python3 install/blender_envs.py")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "SEGMATTE_ADDRESS")}
    env.update({
        "BLENDER_USER_RESOURCES": str(tmp_path / "blender-user"),
        "SEGMATTE_HOST_ZIP": str(zips[installer.flavour_for(version).key]),
        "SEGMATTE_HOST_MEDIA": str(media),
        "SEGMATTE_HOST_WORK": str(work),
        "SEGMATTE_TESTS_DIR": str(TESTS),
        "SEGMATTE_HOST_SERVER_PYTHON": sys.executable,
        "SEGMATTE_CONFIG_DIR": str(server.config_dir),
        "SEGMATTE_DATA_DIR": str(server.data_dir),
    })
    if os.environ.get("SEGMATTE_SCREENSHOT_DIR"):  # docs/images: the README's screenshot
        env["SEGMATTE_SCREENSHOT_DIR"] = os.environ["SEGMATTE_SCREENSHOT_DIR"]
    cmd = [str(python), "-m", "pytest", "-c", str(INNER / "pytest.ini"), "--rootdir", str(INNER),
           "-q", "-rs", "-p", "no:cacheprovider", str(INNER)]
    try:
        got = subprocess.run(cmd, cwd=INNER, env=env, capture_output=True, text=True,
                             timeout=INNER_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"Blender {version}: inner tests ran over {INNER_TIMEOUT} s:\n"
                    f"{(exc.stdout or b'')[-6000:]!s}")
    lines = [ln for ln in got.stdout.splitlines() if not ln.startswith(("Fra:", "Read ", "Saved:",
                                                                         "Time:", " Time:"))]
    report = "\n".join(lines[-80:])
    print(f"--- Blender {version} (bpy {blender_envs.BLENDERS[version][0]}) ---\n{report}")
    assert got.returncode == 0, f"Blender {version}: inner tests failed:\n{report}\n{got.stderr[-3000:]}"
