"""Find pyzmq and the segmatte client from inside Resolve's or Fusion's Python.

Resolve runs scripts in whatever Python it finds on the machine (≥ 3.6 by the
README; 3.13 and a bundled 3.14 without pip are reported in the wild), so
nothing but the standard library may be assumed. The installer copies the
client (pure Python) beside this package under ``vendor/`` and writes
``segmatte_paths.json`` naming the site-packages of the Python that runs
``segmatte``; pyzmq is a compiled module, so it only loads from there when
both Pythons share a version. Failing that we ask ``segmatte`` on PATH which
interpreter it runs. Foreign folders are *appended* to ``sys.path`` so the
host's own modules always win.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

PATHS_FILE = "segmatte_paths.json"
ASK_TIMEOUT_S = 15.0
_PROBE = ("import os, sys, zmq; "
          "print(os.path.dirname(os.path.dirname(zmq.__file__))); "
          "print('%d.%d' % sys.version_info[:2])")


@dataclass
class Located:
    """What was found; ``ok`` with ``message`` empty, or a message saying what to do."""

    ok: bool
    message: str = ""
    tried: list[str] = field(default_factory=list)


def _host_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _append_path(folder: str) -> bool:
    if folder and os.path.isdir(folder) and folder not in sys.path:
        sys.path.append(folder)
        return True
    return False


def _can_import_zmq() -> str:
    """'' when ``import zmq`` works, else the first line of the error."""
    try:
        import zmq  # noqa: F401
    except Exception as exc:  # ImportError, or an ABI mismatch surfacing as OSError
        for name in [m for m in sys.modules if m == "zmq" or m.startswith("zmq.")]:
            del sys.modules[name]
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        return f"{type(exc).__name__}: {first[:200]}"
    return ""


def _try_folder(folder: str, version: str | None, found: Located, added: list[str]) -> str:
    """Try pyzmq from a foreign site-packages of the same Python version; '' on success."""
    if version and version != _host_version():
        found.tried.append(f"{folder} (Python {version}, skipped)")
        return "no pyzmq built for this Python version"
    found.tried.append(str(folder))
    if _append_path(str(folder)):
        added.append(str(folder))
    return _can_import_zmq()


def read_paths_file(support_dir: str) -> dict:
    """The installer's notes (python, site_packages, python_version, segmatte), or {}."""
    try:
        with open(os.path.join(support_dir, PATHS_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _interpreter_of(exe: str) -> str | None:
    """The Python behind a ``segmatte`` console script (shebang, or a venv's python.exe)."""
    if exe.lower().endswith(".exe"):  # venv\Scripts\python.exe, or C:\Python3X\python.exe
        folder = os.path.dirname(exe)
        for candidate in (os.path.join(folder, "python.exe"),
                          os.path.join(os.path.dirname(folder), "python.exe")):
            if os.path.isfile(candidate):
                return candidate
        return None
    try:
        with open(exe, "rb") as fh:
            first = fh.readline(4096).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and os.path.isfile(parts[0]):
            return parts[0]
    return None


def ask_segmatte() -> tuple[str, str] | None:
    """(site-packages holding zmq, its Python version) from ``segmatte`` on PATH, or None."""
    exe = shutil.which("segmatte")
    python = _interpreter_of(exe) if exe else None
    if not python:
        return None
    try:
        out = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True,
                             timeout=ASK_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    return (lines[0], lines[1]) if out.returncode == 0 and len(lines) == 2 else None


def add_vendor(support_dir: str) -> None:
    """The vendored ``segmatte.client`` (standard library modules importable without pyzmq)."""
    _append_path(os.path.join(support_dir, "vendor"))


def ensure_client(support_dir: str) -> Located:
    """Make ``import zmq`` and ``import segmatte.client`` work; say exactly what to do if not."""
    found = Located(ok=False)
    add_vendor(support_dir)
    error = _can_import_zmq()
    if error:
        notes = read_paths_file(support_dir)
        added: list[str] = []
        for folder in notes.get("site_packages") or []:
            if not _try_folder(folder, notes.get("python_version"), found, added):
                error = ""
                break
        if error:
            asked = ask_segmatte()
            if asked and not _try_folder(asked[0], asked[1], found, added):
                error = ""
        if error:
            for folder in added:  # leave the host's sys.path as we found it
                sys.path.remove(folder)
            found.message = _advice(error, notes, found.tried)
            return found
    try:
        import segmatte.client.client  # noqa: F401
    except Exception as exc:
        found.message = (f"The segmatte client did not load ({type(exc).__name__}: {exc}). "
                         "Run `segmatte install resolve` again, then restart Resolve.")
        return found
    found.ok = True
    return found


def _advice(error: str, notes: dict, tried: list[str]) -> str:
    host = _host_version()
    theirs = notes.get("python_version")
    lines = [f"pyzmq does not load in this Python {host} ({sys.executable}): {error}."]
    if tried:
        lines.append("Looked in: " + "; ".join(tried) + ".")
    if theirs and theirs != host:
        lines.append(f"segmatte runs on Python {theirs}; pyzmq is compiled per Python version, "
                     "so that copy cannot load here.")
    lines.append(f"Fix: install pyzmq for the Python Resolve uses: `{sys.executable} -m pip install "
                 "--user pyzmq` (or py -3.X / python3.X -m pip ... for that version), "
                 "then run the script again.")
    lines.append("If that Python has no pip, install a python.org Python of a version Resolve "
                 "supports, add pyzmq to it, and run `segmatte install resolve` again.")
    return " ".join(lines)
