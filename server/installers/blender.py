"""``segmatte install blender``: build the Blender extension and install it.

The extension is ``plugin/blender`` plus, added at build time,
``segmatte.client`` as its ``client`` sub-package and pyzmq wheels for every
platform in ``wheels/``. Blender's Python differs by version, and a manifest
that lists wheels for two Pythons is taken for the older one only, so there
are two zips:

- ``segmatte-<v>-blender4.2-5.0.zip``: Blender 4.2 … 5.0 (Python 3.11, cp311 wheels)
- ``segmatte-<v>-blender5.1+.zip``: Blender 5.1 and later (Python 3.13, abi3 wheels)

Installing runs ``blender --command extension install-file`` of the Blender
found (``--blender`` or ``blender`` on the PATH); without one it builds the
zip and says how to install it from Blender's preferences.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

EXTENSION_ID = "segmatte"
REPO = "user_default"
PYZMQ = "pyzmq==27.3.0"
"""The pyzmq bundled in the zips (wheels for 3.11 and abi3 for 3.12+ on every platform)."""


@dataclass(frozen=True)
class Flavour:
    """One zip: the Blender versions it serves and the Python its wheels are for."""

    key: str
    blender_min: str
    blender_max: str | None
    """Exclusive upper bound, as the manifest's ``blender_version_max``."""
    python: str
    abi: str | None
    """Wheel ABI asked of pip (None: the Python's own)."""


FLAVOURS = (
    Flavour("blender4.2-5.0", "4.2.0", "5.1.0", "3.11", None),
    Flavour("blender5.1+", "5.1.0", None, "3.13", "abi3"),
)

PLATFORMS = {
    # Blender platform: pip --platform tags, tried in order
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_11_0_arm64",),
    "macos-x64": ("macosx_10_15_x86_64",),
}


class BuildError(RuntimeError):
    """The extension could not be built; the message says why."""


def flavour_for(version: str) -> Flavour:
    """The zip for a Blender version such as ``4.5`` or ``5.2.3``."""
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if len(parts) < 2 or parts < (4, 2):
        raise BuildError(f"Blender {version} is too old: the extension needs Blender 4.2 or later")
    return FLAVOURS[0] if parts < (5, 1) else FLAVOURS[1]


def extension_source() -> Path:
    """``plugin/blender`` of this checkout, or the copy installed as package data."""
    here = Path(__file__).resolve()
    candidates = [here.parents[2] / "plugin" / "blender"]
    try:  # a wheel install: pyproject maps plugin/blender to segmatte.blender (not imported: bpy)
        spec = importlib.util.find_spec("segmatte.blender")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) for p in spec.submodule_search_locations]
    for folder in candidates:
        if (folder / "blender_manifest.toml").is_file():
            return folder
    raise BuildError("the Blender extension's sources (plugin/blender) are not installed")


def client_source() -> Path:
    import segmatte.client

    return Path(segmatte.client.__file__).parent


def wheel_cache() -> Path:
    env = os.environ.get("SEGMATTE_WHEEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "segmatte" / "wheels"


def download_wheels(flavour: Flavour, platforms: list[str], requirement: str = PYZMQ) -> list[Path]:
    """pyzmq wheels of ``flavour`` for ``platforms`` (cached; pip downloads what is missing)."""
    name, _, version = requirement.partition("==")
    out = wheel_cache() / flavour.key
    out.mkdir(parents=True, exist_ok=True)
    py = flavour.python.replace(".", "")
    found: list[Path] = []
    for platform in platforms:
        tags = PLATFORMS[platform]
        have = [w for w in out.glob(f"{name}-{version or ''}*.whl") if _wheel_fits(w.name, py, flavour, tags)]
        if not have:
            for tag in tags:
                cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                       "--only-binary=:all:", "--platform", tag, "--python-version", py,
                       "--implementation", "cp", "-d", str(out), requirement]
                if flavour.abi:
                    cmd[cmd.index("--implementation"):cmd.index("--implementation")] = [
                        "--abi", flavour.abi]
                got = subprocess.run(cmd, capture_output=True, text=True)
                have = [w for w in out.glob(f"{name}-{version or ''}*.whl")
                        if _wheel_fits(w.name, py, flavour, tags)]
                if got.returncode == 0 and have:
                    break
            if not have:
                raise BuildError(f"no {requirement} wheel for Python {flavour.python} on {platform}: "
                                 f"{(got.stderr or got.stdout).strip()[-500:]}")
        found.append(sorted(have)[-1])
    return sorted(set(found))


def _wheel_fits(filename: str, py: str, flavour: Flavour, tags: tuple[str, ...]) -> bool:
    parts = filename[:-4].split("-")
    python_tag, abi_tag, platform_tag = parts[-3:]
    if flavour.abi == "abi3":
        if abi_tag != "abi3":
            return False
    elif python_tag != f"cp{py}":
        return False
    arch = {t.rsplit("_", 1)[-1] if not t.startswith("win") else t for t in tags}
    plats = platform_tag.split(".")
    if any(t.startswith("win") for t in tags):
        return platform_tag in tags
    if any(t.startswith("macosx") for t in tags):
        want = next(iter(arch))
        return any(p.startswith("macosx") and (p.endswith("_" + want) or p.endswith("universal2"))
                   for p in plats)
    return any(p.startswith("manylinux") and p.endswith("_" + next(iter(arch))) for p in plats)


def _manifest(text: str, flavour: Flavour, wheels: list[str]) -> str:
    listed = ", ".join(f'"./wheels/{w}"' for w in wheels)
    text, n = re.subn(r"(?m)^wheels\s*=.*$", f"wheels = [{listed}]", text)
    if n != 1:
        raise BuildError("blender_manifest.toml must have one `wheels = ...` line")
    text = re.sub(r'(?m)^blender_version_min\s*=.*$', f'blender_version_min = "{flavour.blender_min}"',
                  text)
    text = re.sub(r"(?m)^blender_version_max\s*=.*\n", "", text)
    if flavour.blender_max:
        text = text.replace(f'blender_version_min = "{flavour.blender_min}"',
                            f'blender_version_min = "{flavour.blender_min}"\n'
                            f'blender_version_max = "{flavour.blender_max}"')
    return text


def _version(manifest: str) -> str:
    m = re.search(r'(?m)^version\s*=\s*"([^"]+)"', manifest)
    return m.group(1) if m else "0"


def build(out: Path, flavours: tuple[Flavour, ...] = FLAVOURS,
          platforms: list[str] | None = None) -> list[Path]:
    """Build one zip per flavour into ``out``; returns their paths."""
    src = extension_source()
    client = client_source()
    platforms = platforms or list(PLATFORMS)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for flavour in flavours:
        wheels = download_wheels(flavour, platforms)
        text = (src / "blender_manifest.toml").read_text(encoding="utf-8")
        manifest = _manifest(text, flavour, [w.name for w in wheels])
        target = out / f"{EXTENSION_ID}-{_version(text)}-{flavour.key}.zip"
        tmp = target.with_suffix(".zip.part")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("blender_manifest.toml", manifest)
            for path in sorted(src.glob("*.py")):
                zf.write(path, path.name)
            for path in sorted(client.glob("*.py")):
                zf.write(path, f"client/{path.name}")
            for wheel in wheels:
                zf.write(wheel, f"wheels/{wheel.name}")
        os.replace(tmp, target)
        made.append(target)
    return made


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- installing into a Blender ----------------------------------------------------------


def find_blender(explicit: str | None) -> str | None:
    if explicit:
        return explicit if Path(explicit).exists() or shutil.which(explicit) else None
    return shutil.which("blender")


def blender_version(blender: str) -> str:
    got = subprocess.run([blender, "--factory-startup", "--version"], capture_output=True,
                         text=True, timeout=120)
    m = re.search(r"Blender (\d+\.\d+(?:\.\d+)?)", got.stdout)
    if not m:
        raise BuildError(f"{blender} --version did not say its version")
    return m.group(1)


def run(args: argparse.Namespace) -> int:
    platforms = args.platform or None
    try:
        if args.build_only:
            flavours = (flavour_for(args.blender_version),) if args.blender_version else FLAVOURS
            out = Path(args.out or ".").resolve()
            for zip_path in build(out, flavours, platforms):
                print(zip_path)
            return 0
        blender = find_blender(args.blender)
        if args.uninstall:
            if blender is None:
                print("segmatte: no Blender found; remove segmatte in Blender: Edit > Preferences > "
                      "Add-ons > segmatte > Uninstall", file=sys.stderr)
                return 2
            cmd = [blender, "--command", "extension", "remove",
                   f"{REPO}.{EXTENSION_ID}"]
            return subprocess.run(cmd).returncode
        version = args.blender_version or (blender_version(blender) if blender else None)
        if version is None:
            raise BuildError("no Blender found: pass --blender PATH, or --blender-version X.Y "
                             "to build the zip for it")
        flavour = flavour_for(version)
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="segmatte-blender-"))
        zip_path = build(out, (flavour,), platforms)[0]
        if blender is None:
            print(f"Built {zip_path}\nIn Blender {version}: Edit > Preferences > Get Extensions > "
                  "(menu at the top right) > Install from Disk..., pick that file.")
            return 0
        # Not --factory-startup: Blender saves the preferences with the extension enabled.
        cmd = [blender, "--command", "extension", "install-file",
               "-r", REPO, "-e", str(zip_path)]
        got = subprocess.run(cmd)
        if got.returncode == 0:
            print(f"segmatte installed in Blender {version}; start the server with "
                  "`segmatte serve` (or Start Server in the segmatte panel)")
        return got.returncode
    except BuildError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        return 2


def register(hosts: argparse._SubParsersAction) -> None:
    p = hosts.add_parser(
        "blender", help="install the Blender extension (Blender 4.2 and later)",
        description="Build the segmatte Blender extension (with its pyzmq wheels) and install it "
        "into Blender for this user.")
    p.add_argument("--blender", metavar="PATH", help="the Blender to install into "
                   "(default: `blender` on the PATH)")
    p.add_argument("--blender-version", metavar="X.Y",
                   help="build for this Blender version (default: ask the Blender found)")
    p.add_argument("--uninstall", action="store_true", help="remove the extension")
    p.add_argument("--build-only", action="store_true",
                   help="only build the zip(s) (both flavours unless --blender-version)")
    p.add_argument("--out", metavar="DIR", help="where the zips go (default: current folder "
                   "with --build-only, else a temporary folder)")
    p.add_argument("--platform", action="append", choices=sorted(PLATFORMS),
                   help="bundle wheels for this platform only (repeatable; default: all)")
    p.set_defaults(func=run)
