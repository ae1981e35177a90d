"""``segmatte install resolve``: the Resolve/Fusion scripts into this user's Fusion Scripts folder.

What goes where (``<Scripts>`` is the per-OS user folder from Blackmagic's
README, see :func:`scripts_dir`)::

    <Scripts>/Utility/segmatte Matte.py        Workspace > Scripts (Resolve)
    <Scripts>/Utility/segmatte Diagnose.py     Workspace > Scripts: what this Resolve does
    <Scripts>/Comp/segmatte Matte.py           Fusion page / Fusion: Scripts menu
    <Scripts>/segmatte_support/                not a menu folder: shared code
        segmatte_resolve/*.py                  the panel, spec, attach (stdlib only)
        vendor/segmatte/client/*.py            the protocol client (stdlib + pyzmq)
        segmatte_paths.json                    where this Python's pyzmq lives
        install-record.json                    what we wrote and the folders we made

User level only, nothing needs admin rights. Uninstall removes exactly the
files in the record and then the folders we made if they are empty, so the
artist's own scripts beside ours are never touched. Re-installing replaces our
files and drops ones an older version wrote that this one no longer has.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

SUPPORT = "segmatte_support"
RECORD = "install-record.json"
PATHS_FILE = "segmatte_paths.json"
LAUNCHER = "segmatte Matte.py"
DIAGNOSE = "segmatte Diagnose.py"
MENUS = ("Utility", "Comp")
OSES = ("windows", "macos", "linux")
PLACEHOLDER = "SUPPORT_DIR = None  # the installer writes the absolute support folder here"


class InstallError(RuntimeError):
    """Something we will not do (overwrite the user's file); the message says what."""


def this_os() -> str:
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


def scripts_dir(os_name: str, home: Path | None = None, env: dict[str, str] | None = None) -> Path:
    """The user's Fusion Scripts folder for Resolve on ``os_name``.

    Windows ``%APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts``,
    macOS ``~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts``,
    Linux ``~/.local/share/DaVinciResolve/Fusion/Scripts``. With ``home`` given,
    Windows uses ``home/AppData/Roaming`` rather than ``%APPDATA%``.
    """
    env = os.environ if env is None else env
    base = Path(home) if home is not None else Path.home()
    if os_name == "windows":
        appdata = base / "AppData" / "Roaming" if home is not None or not env.get("APPDATA") \
            else Path(env["APPDATA"])
        return appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts"
    if os_name == "macos":
        return (base / "Library" / "Application Support" / "Blackmagic Design" / "DaVinci Resolve"
                / "Fusion" / "Scripts")
    if os_name == "linux":
        return base / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts"
    raise InstallError(f"unknown OS {os_name!r}; one of {', '.join(OSES)}")


def _plugin_root() -> Path:
    """plugin/resolve: beside plugin/client in a checkout (editable install), and
    ``segmatte/resolve`` beside ``segmatte/client`` in a wheel (package-dir maps it)."""
    candidate = _client_dir().parent / "resolve"
    if (candidate / "segmatte_resolve").is_dir():
        return candidate
    raise InstallError("the Resolve scripts are not part of this segmatte installation "
                       f"(looked in {candidate})")


def _client_dir() -> Path:
    import segmatte.client as client_pkg

    return Path(client_pkg.__file__).resolve().parent


def _zmq_site() -> list[str]:
    try:
        import zmq
    except ImportError:
        return []
    return [str(Path(zmq.__file__).resolve().parent.parent)]


def planned_files(scripts: Path) -> dict[str, bytes]:
    """Relative path (posix) → content of everything we install."""
    root = _plugin_root()
    support = scripts / SUPPORT
    files: dict[str, bytes] = {}
    for menu in MENUS:
        for script in sorted((root / menu).glob("*.py")):  # the menu entries (launchers)
            text = script.read_text(encoding="utf-8")
            if PLACEHOLDER not in text:
                raise InstallError(f"{menu}/{script.name} lacks its SUPPORT_DIR line")
            text = text.replace(PLACEHOLDER, f"SUPPORT_DIR = {str(support)!r}")
            files[f"{menu}/{script.name}"] = text.encode("utf-8")
    for src in sorted((root / "segmatte_resolve").glob("*.py")):
        files[f"{SUPPORT}/segmatte_resolve/{src.name}"] = src.read_bytes()
    for src in sorted(_client_dir().glob("*.py")):
        files[f"{SUPPORT}/vendor/segmatte/client/{src.name}"] = src.read_bytes()
    notes = {"python": sys.executable, "python_version": f"{sys.version_info[0]}.{sys.version_info[1]}",
             "site_packages": _zmq_site(), "segmatte": shutil.which("segmatte")}
    files[f"{SUPPORT}/{PATHS_FILE}"] = (json.dumps(notes, indent=2) + "\n").encode("utf-8")
    return files


def read_record(scripts: Path) -> dict:
    try:
        data = json.loads((scripts / SUPPORT / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"files": {}, "dirs": []}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"files": {}, "dirs": []}
    data.setdefault("dirs", [])
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install(scripts: Path) -> list[str]:
    """Write our files; returns the relative paths written. Refuses to replace foreign files."""
    record = read_record(scripts)
    files = planned_files(scripts)
    for rel in files:
        target = scripts / rel
        if target.exists() and rel not in record["files"] and not rel.startswith(SUPPORT + "/"):
            raise InstallError(f"{target} exists and was not installed by segmatte; move it "
                               "away and install again")
    made_dirs = set(record["dirs"])
    for rel, data in files.items():
        target = scripts / rel
        folder = target.parent
        while not folder.exists():  # every folder we make, up to Resolve's own if missing
            made_dirs.add(str(folder))
            folder = folder.parent
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".segmatte-tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    for rel in set(record["files"]) - set(files):  # left over from an older version
        (scripts / rel).unlink(missing_ok=True)
    new_record = {"version": 1, "files": {rel: _sha(d) for rel, d in files.items()},
                  "dirs": sorted(made_dirs)}
    (scripts / SUPPORT / RECORD).write_text(json.dumps(new_record, indent=2) + "\n",
                                            encoding="utf-8")
    return sorted(files)


def uninstall(scripts: Path) -> list[str]:
    """Remove what the record lists, then our folders if empty; returns what was removed."""
    record = read_record(scripts)
    removed = []
    for rel in sorted(record["files"]):
        path = scripts / rel
        if path.is_file():
            path.unlink()
            removed.append(rel)
    (scripts / SUPPORT / RECORD).unlink(missing_ok=True)
    for folder in (scripts / SUPPORT / "segmatte_resolve" / "__pycache__",
                   scripts / SUPPORT / "vendor" / "segmatte" / "client" / "__pycache__"):
        if folder.is_dir():  # Python made these when the scripts ran
            shutil.rmtree(folder, ignore_errors=True)
    ours = {Path(folder) for folder in record["dirs"]} | {
        scripts / SUPPORT / "segmatte_resolve", scripts / SUPPORT / "vendor" / "segmatte" / "client",
        scripts / SUPPORT / "vendor" / "segmatte", scripts / SUPPORT / "vendor", scripts / SUPPORT}
    for folder in sorted(ours, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()  # only when empty: never the user's things
        except OSError:
            pass
    return removed


def register(hosts: argparse._SubParsersAction) -> None:
    p = hosts.add_parser(
        "resolve", help="install the DaVinci Resolve / Fusion scripts for this user",
        description="Copy the segmatte scripts into this user's Fusion Scripts folder "
        "(Workspace > Scripts > Utility in Resolve, Scripts > Comp in Fusion).")
    p.add_argument("--uninstall", action="store_true", help="remove exactly what was installed")
    p.add_argument("--home", type=Path, default=None,
                   help="install under this home folder instead of yours (tests, other users)")
    p.add_argument("--os", dest="os_name", choices=OSES, default=None,
                   help="folder layout to use (default: this machine's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scripts = scripts_dir(args.os_name or this_os(), args.home)
    try:
        if args.uninstall:
            removed = uninstall(scripts)
            print(f"segmatte: removed {len(removed)} files from {scripts}")
            return 0
        written = install(scripts)
    except InstallError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return 2
    print(f"segmatte: installed {len(written)} files into {scripts}")
    print("  Resolve: Workspace > Scripts > segmatte Matte; Fusion: Scripts > segmatte Matte")
    if not _zmq_site():
        print("  note: pyzmq is missing from this Python; the scripts will say how to add it")
    return 0
