"""The distribution maps the repo's folders to ``segmatte.*``: nothing is left out.

Editable installs find unlisted subpackages through their parent's path, so a
missing entry in pyproject's ``packages`` would only break real (wheel)
installs — this test catches it here.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed():
    cfg = _config()
    listed = set(cfg["packages"])
    found = set()
    for prefix, folder in cfg["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([prefix, *rel.parts]) if rel.parts else prefix)
    assert found - listed == set(), "add these to pyproject's [tool.setuptools] packages"
    assert listed - found == set(), "pyproject lists packages that have no folder"


def test_no_top_level_server_or_models_module():
    cfg = _config()
    assert all(p.startswith("segmatte.") for p in cfg["packages"])
    import segmatte.client
    import segmatte.models
    import segmatte.server

    assert Path(segmatte.server.__file__).parent == ROOT / "server"
    assert Path(segmatte.client.__file__).parent == ROOT / "plugin" / "client"
