"""``segmatte install resolve`` into temporary homes, for the three OS layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segmatte.server.cli import main
from segmatte.server.installers import resolve as installer

LAYOUTS = {
    "windows": "AppData/Roaming/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts",
    "macos": "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
    "linux": ".local/share/DaVinciResolve/Fusion/Scripts",
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def dirs(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


@pytest.mark.parametrize("os_name", sorted(LAYOUTS))
def test_install_reinstall_uninstall(os_name: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    scripts = home / LAYOUTS[os_name]
    (scripts / "Utility").mkdir(parents=True)  # the artist's own script is already there
    (scripts / "Utility" / "my_tool.py").write_text("print('mine')\n")
    before_dirs = dirs(home)

    assert main(["install", "resolve", "--os", os_name, "--home", str(home)]) == 0
    assert str(scripts) in capsys.readouterr().out
    launcher = scripts / "Utility" / installer.LAUNCHER
    assert launcher.is_file() and (scripts / "Comp" / installer.LAUNCHER).is_file()
    diagnose = scripts / "Utility" / installer.DIAGNOSE
    assert 'ENTRY = "diagnose_main"' in diagnose.read_text()
    assert f"SUPPORT_DIR = {str(scripts / installer.SUPPORT)!r}" in diagnose.read_text()
    assert f"SUPPORT_DIR = {str(scripts / installer.SUPPORT)!r}" in launcher.read_text()
    support = scripts / installer.SUPPORT
    assert (support / "segmatte_resolve" / "panel.py").is_file()
    assert (support / "vendor" / "segmatte" / "client" / "client.py").is_file()
    assert not (support / "vendor" / "segmatte" / "__init__.py").exists()  # a namespace portion
    notes = json.loads((support / installer.PATHS_FILE).read_text())
    assert notes["site_packages"] and notes["python_version"]
    record = json.loads((support / installer.RECORD).read_text())
    assert "Utility/my_tool.py" not in record["files"]
    first = tree(home)

    assert main(["install", "resolve", "--os", os_name, "--home", str(home)]) == 0
    assert tree(home) == first  # idempotent

    (support / "segmatte_resolve" / "__pycache__").mkdir()  # as if Resolve ran the scripts
    (support / "segmatte_resolve" / "__pycache__" / "panel.cpython-311.pyc").write_bytes(b"x")
    assert main(["install", "resolve", "--uninstall", "--os", os_name, "--home", str(home)]) == 0
    assert tree(home) == {f"{LAYOUTS[os_name]}/Utility/my_tool.py": b"print('mine')\n"}
    assert dirs(home) == before_dirs


def test_uninstall_into_an_empty_home_leaves_nothing(tmp_path: Path) -> None:
    scripts = installer.scripts_dir("macos", tmp_path)
    installer.install(scripts)
    installer.uninstall(scripts)
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_file_at_our_path_is_not_overwritten(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    scripts = installer.scripts_dir("linux", tmp_path)
    (scripts / "Comp").mkdir(parents=True)
    (scripts / "Comp" / installer.LAUNCHER).write_text("# someone else's\n")
    assert main(["install", "resolve", "--os", "linux", "--home", str(tmp_path)]) == 2
    assert "was not installed by segmatte" in capsys.readouterr().err
    assert (scripts / "Comp" / installer.LAUNCHER).read_text() == "# someone else's\n"
    assert not (scripts / "Utility").exists()


def test_files_an_older_version_wrote_are_dropped_on_reinstall(tmp_path: Path) -> None:
    scripts = installer.scripts_dir("linux", tmp_path)
    installer.install(scripts)
    old = scripts / installer.SUPPORT / "segmatte_resolve" / "gone.py"
    old.write_text("# from an older segmatte\n")
    record_path = scripts / installer.SUPPORT / installer.RECORD
    record = json.loads(record_path.read_text())
    record["files"]["segmatte_support/segmatte_resolve/gone.py"] = "0"
    record_path.write_text(json.dumps(record))
    installer.install(scripts)
    assert not old.exists()


def test_windows_uses_appdata_without_home() -> None:
    env = {"APPDATA": r"C:\Users\ana\AppData\Roaming"}
    assert installer.scripts_dir("windows", None, env) == Path(env["APPDATA"]).joinpath(
        "Blackmagic Design", "DaVinci Resolve", "Support", "Fusion", "Scripts")
