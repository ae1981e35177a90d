"""The built zip installs headless like a user's install, and brings what it needs."""

from __future__ import annotations

import os
import sys

import bpy
from conftest import EXT


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
