"""Building the Blender extension zips (no Blender, no network: a fake wheel cache)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from segmatte.server.cli import main
from segmatte.server.installers import blender as installer

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

FAKE_WHEELS = {
    "blender4.2-5.0": ["pyzmq-27.3.0-cp311-cp311-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl",
                       "pyzmq-27.3.0-cp311-cp311-win_amd64.whl",
                       "pyzmq-27.3.0-cp311-cp311-macosx_10_15_universal2.whl"],
    "blender5.1+": ["pyzmq-27.3.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl",
                    "pyzmq-27.3.0-cp312-abi3-win_amd64.whl",
                    "pyzmq-27.3.0-cp312-abi3-macosx_10_15_universal2.whl"],
}


@pytest.fixture
def wheel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "wheels"
    for key, names in FAKE_WHEELS.items():
        (cache / key).mkdir(parents=True)
        for name in names:
            with zipfile.ZipFile(cache / key / name, "w") as zf:
                zf.writestr("zmq/__init__.py", "")
    monkeypatch.setenv("SEGMATTE_WHEEL_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("version, key", [("4.2", "blender4.2-5.0"), ("4.5.15", "blender4.2-5.0"),
                                          ("5.0.1", "blender4.2-5.0"), ("5.1", "blender5.1+"),
                                          ("5.2.3", "blender5.1+"), ("6.0", "blender5.1+")])
def test_flavour_for_each_blender(version: str, key: str) -> None:
    assert installer.flavour_for(version).key == key


def test_blender_before_4_2_is_refused() -> None:
    with pytest.raises(installer.BuildError, match="4.2 or later"):
        installer.flavour_for("4.1")


def test_zips_vendor_the_client_and_one_python_of_wheels(wheel_cache: Path, tmp_path: Path) -> None:
    made = installer.build(tmp_path / "out")
    assert [p.name for p in made] == ["segmatte-0.1.0-blender4.2-5.0.zip",
                                      "segmatte-0.1.0-blender5.1+.zip"]
    for path, flavour in zip(made, installer.FLAVOURS, strict=True):
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
        assert {"__init__.py", "operators.py", "panels.py", "properties.py", "preferences.py",
                "sources.py", "prompts.py", "attach.py", "connection.py"} <= names
        assert {"client/__init__.py", "client/client.py", "client/protocol.py",
                "client/events.py", "client/paths.py"} <= names
        assert manifest["id"] == "segmatte" and manifest["type"] == "add-on"
        assert manifest["blender_version_min"] == flavour.blender_min
        assert manifest.get("blender_version_max") == flavour.blender_max
        wheels = sorted(w.removeprefix("./") for w in manifest["wheels"])
        assert wheels == sorted(f"wheels/{n}" for n in FAKE_WHEELS[flavour.key])
        assert set(wheels) <= names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".md")]


def test_platform_choice_bundles_only_its_wheels(wheel_cache: Path, tmp_path: Path) -> None:
    made = installer.build(tmp_path, (installer.FLAVOURS[1],), ["windows-x64"])
    with zipfile.ZipFile(made[0]) as zf:
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["wheels"] == ["./wheels/pyzmq-27.3.0-cp312-abi3-win_amd64.whl"]


def test_cli_build_only(wheel_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["install", "blender", "--build-only", "--blender-version", "5.2",
                 "--platform", "linux-x64", "--out", str(tmp_path)])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "segmatte-0.1.0-blender5.1+.zip")


def test_cli_without_blender_builds_and_says_how(wheel_cache: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code = main(["install", "blender", "--blender-version", "4.2", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "segmatte-0.1.0-blender4.2-5.0.zip" in out and "Install from Disk" in out
    assert main(["install", "blender", "--uninstall"]) == 2


def test_cli_installs_with_the_blender_found(wheel_cache: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in `blender` on the PATH: its version picks the zip, then install-file runs."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls.txt"
    fake = bindir / "blender"
    fake.write_text("#!/bin/sh\n"
                    f'echo "$@" >> "{calls}"\n'
                    'case "$*" in *--version*) echo "Blender 5.2.3 LTS";; esac\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    assert main(["install", "blender", "--platform", "linux-x64", "--out", str(tmp_path)]) == 0
    assert main(["install", "blender", "--uninstall"]) == 0
    lines = calls.read_text().splitlines()
    assert lines[0] == "--factory-startup --version"
    assert lines[1] == ("--command extension install-file -r user_default -e "
                        f"{tmp_path / 'segmatte-0.1.0-blender5.1+.zip'}")
    assert lines[2] == "--command extension remove user_default.segmatte"
