#!/usr/bin/env python3
"""Make one Python environment per Blender version, with Blender as a module (PyPI ``bpy``).

The host tests (``tests/host/``) drive the real Blender inside these
environments. Each one lives in ``<root>/<bpy version>`` (root:
``$SEGMATTE_BLENDER_ENVS``, default ``~/.cache/segmatte/blender-envs``) and
is made with ``uv venv -p <python>`` + ``uv pip install bpy==<v> pytest``.

- bpy 4.2 … 5.0 are built for Python 3.11 only, 5.1+ for Python 3.13 only:
  the interpreter is found among this one, ``pyenv``'s versions and the PATH
  (uv never downloads one here).
- pyzmq is *not* installed: inside Blender it must come from the wheels the
  extension bundles, and the tests check that it does.
- Idempotent: an environment whose stamp file names the same bpy version and
  packages is left as it is; a half-made one is made again.

Usage: ``python3 install/blender_envs.py [--root DIR] [--versions 4.2,5.2] [--force]``;
exits 0 when every environment asked for is ready, 1 otherwise (saying why).
``--list`` prints ``version python-path`` of the ready ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BLENDERS: dict[str, tuple[str, str]] = {
    # short name: (bpy version on PyPI, Python it is built for)
    "4.2": ("4.2.23", "3.11"),
    "4.5": ("4.5.15", "3.11"),
    "5.0": ("5.0.1", "3.11"),
    "5.2": ("5.2.3", "3.13"),
}
"""The Blender versions the host tests cover: two LTS lines, 5.0 and the newest."""

PACKAGES = ("pytest>=8",)
STAMP = "segmatte-env.json"


def default_root() -> Path:
    env = os.environ.get("SEGMATTE_BLENDER_ENVS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "segmatte" / "blender-envs"


def env_dir(root: Path, short: str) -> Path:
    return root / BLENDERS[short][0]


def env_python(folder: Path) -> Path:
    if sys.platform == "win32":
        return folder / "Scripts" / "python.exe"
    return folder / "bin" / "python"


def _stamp(short: str) -> dict[str, object]:
    bpy_version, python = BLENDERS[short]
    return {"bpy": bpy_version, "python": python, "packages": list(PACKAGES)}


def is_ready(root: Path, short: str) -> bool:
    folder = env_dir(root, short)
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == _stamp(short) and env_python(folder).exists()


def find_python(version: str) -> str | None:
    """An interpreter for ``version`` ("3.11"): this one, pyenv's, or one on the PATH."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    pyenv = shutil.which("pyenv")
    if pyenv:
        got = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True)
        for name in sorted(got.stdout.split(), reverse=True):
            if name == version or name.startswith(version + "."):
                prefix = subprocess.run([pyenv, "prefix", name], capture_output=True, text=True)
                exe = Path(prefix.stdout.strip()) / "bin" / f"python{version}"
                if prefix.returncode == 0 and exe.exists():
                    return str(exe)
    for name in (f"python{version}", f"python{version.replace('.', '')}"):
        exe = shutil.which(name)
        if exe:
            got = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True)
            if got.stdout.strip() == version:
                return exe
    return None


def find_uv() -> list[str] | None:
    exe = shutil.which("uv")
    if exe:
        return [exe]
    got = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    return [sys.executable, "-m", "uv"] if got.returncode == 0 else None


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    got = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if got.returncode != 0:
        raise RuntimeError((got.stderr or got.stdout).strip()[-2000:])


def make_env(root: Path, short: str, force: bool = False) -> Path:
    """Make (or keep) the environment for Blender ``short``; returns its folder.

    Raises RuntimeError with one sentence when it cannot be made here.
    """
    bpy_version, python_version = BLENDERS[short]
    folder = env_dir(root, short)
    if not force and is_ready(root, short):
        print(f"Blender {bpy_version}: ready in {folder}")
        return folder
    python = find_python(python_version)
    if python is None:
        raise RuntimeError(f"bpy {bpy_version} needs Python {python_version}, and none was found "
                           "(pyenv install it, or put python" + python_version + " on the PATH)")
    uv = find_uv()
    if uv is None:
        raise RuntimeError("uv is needed to make the Blender environments: python3 -m pip install uv")
    (folder / STAMP).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    _run([*uv, "venv", "--quiet", "--clear", "-p", python, str(folder)])
    _run([*uv, "pip", "install", "--quiet", "-p", str(env_python(folder)),
          f"bpy=={bpy_version}", *PACKAGES])
    (folder / STAMP).write_text(json.dumps(_stamp(short)), encoding="utf-8")
    print(f"Blender {bpy_version}: made in {folder}")
    return folder


def ready_envs(root: Path | None = None) -> dict[str, Path]:
    """Short version → the environment's Python, for every ready environment."""
    root = root or default_root()
    return {s: env_python(env_dir(root, s)) for s in BLENDERS if is_ready(root, s)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_root())
    parser.add_argument("--versions", default=",".join(BLENDERS),
                        help=f"comma-separated, of {', '.join(BLENDERS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="make them again even if ready")
    parser.add_argument("--list", action="store_true", help="print the ready environments and exit")
    args = parser.parse_args(argv)
    if args.list:
        for short, python in ready_envs(args.root).items():
            print(short, python)
        return 0
    wanted = [v.strip() for v in args.versions.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in BLENDERS]
    if unknown:
        parser.error(f"unknown Blender version(s) {', '.join(unknown)}; known: {', '.join(BLENDERS)}")
    failures = []
    for short in wanted:
        try:
            make_env(args.root, short, args.force)
        except RuntimeError as exc:  # one version failing must not hide the others
            failures.append(f"blender_envs: Blender {BLENDERS[short][0]}: {exc}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
