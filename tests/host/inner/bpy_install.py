"""The built zip installs headless like a user's install, and brings what it needs."""

from __future__ import annotations

import os
import sys

import bpy
import pytest
from conftest import EXT, wait


def test_enabled_from_the_user_extensions_folder(ext):
    assert EXT in bpy.context.preferences.addons
    user = os.path.realpath(os.environ["BLENDER_USER_RESOURCES"])
    assert os.path.realpath(ext.__file__).startswith(user)


def test_pyzmq_comes_from_the_bundled_wheel(ext):
    import zmq

    user = os.path.realpath(os.environ["BLENDER_USER_RESOURCES"])
    assert os.path.realpath(zmq.__file__).startswith(user), zmq.__file__
    assert zmq.zmq_version_info() >= (4, 3)


def test_client_is_vendored_and_nothing_heavy_loads(ext):
    assert ext.client.protocol.TAG == b"SGM1"
    assert ext.client.client.Client.__module__ == f"{EXT}.client.client"
    assert "segmatte" not in sys.modules  # not the server's package
    for heavy in ("torch", "transformers", "cv2", "OpenImageIO", "pydantic"):
        assert heavy not in sys.modules, heavy


def test_ui_and_preferences_are_registered(ext):
    for name in ("SEGMATTE_PT_clip", "SEGMATTE_PT_sequencer", "SEGMATTE_UL_objects"):
        assert hasattr(bpy.types, name), name
    for op in ("connect", "start_server", "track", "cancel", "gather", "attach"):
        assert hasattr(bpy.ops.segmatte, op), op
    prefs = bpy.context.preferences.addons[EXT].preferences
    assert prefs.autostart_command == "segmatte serve"
    assert prefs.port == ext.client.protocol.DEFAULT_PORT


def test_panel_icons_exist(ext):
    import re

    icons = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())
    with open(ext.panels.__file__, encoding="utf-8") as fh:
        used = set(re.findall(r'icon="([A-Z_]+)"', fh.read()))
    used |= {"CHECKMARK", "TIME", "ERROR", "UNLINKED"}
    assert used and used <= icons, used - icons


def test_start_server_connects_then_stop_server(ext, tmp_path, monkeypatch):
    """Start Server runs the preferences' command, connects once it is up; Stop Server stops it."""
    link = ext.connection.link
    monkeypatch.setenv("SEGMATTE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SEGMATTE_DATA_DIR", str(tmp_path / "data"))
    prefs = bpy.context.preferences.addons[EXT].preferences
    saved = prefs.autostart_command
    server = os.environ["SEGMATTE_HOST_SERVER_PYTHON"]
    try:
        prefs.autostart_command = f'"{server}" -m segmatte.server.cli serve --port 0'
        assert bpy.ops.segmatte.start_server() == {"FINISHED"}
        spawned = link.spawned
        wait(ext, lambda: link.connected and link.engines, what="the started server")
        assert link.address != ""
        assert bpy.ops.segmatte.stop_server() == {"FINISHED"}
        wait(ext, lambda: spawned.poll() is not None, what="the server's exit")
        assert spawned.returncode == 0
        assert link.state == "DISCONNECTED"

        prefs.autostart_command = f'"{sys.executable}" -c "import sys; sys.exit(3)"'
        assert bpy.ops.segmatte.start_server() == {"FINISHED"}
        wait(ext, lambda: "exited with code 3" in link.detail, what="the failed start")
        prefs.autostart_command = "no-such-segmatte-command --serve"
        with pytest.raises(RuntimeError, match="cannot start"):
            bpy.ops.segmatte.start_server()
    finally:
        prefs.autostart_command = saved
        link.disconnect()


def test_start_server_when_one_runs_connects_to_it(ext):
    """A second server refuses the data folder and exits; the running one is used."""
    link = ext.connection.link
    prefs = bpy.context.preferences.addons[EXT].preferences
    saved = prefs.autostart_command
    try:
        server = os.environ["SEGMATTE_HOST_SERVER_PYTHON"]
        prefs.autostart_command = f'"{server}" -m segmatte.server.cli serve --port 0'
        assert bpy.ops.segmatte.start_server() == {"FINISHED"}
        spawned = link.spawned
        wait(ext, lambda: link.connected and link.engines, what="connecting to the running server")
        assert spawned.poll() == 1
    finally:
        prefs.autostart_command = saved
        link.disconnect()
