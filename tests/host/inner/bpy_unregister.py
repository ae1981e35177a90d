"""Disabling the extension unregisters everything and stops the timer; enabling brings it back.

Runs last (file order): it reloads the extension.
"""

from __future__ import annotations

import bpy
from conftest import EXT


def test_disable_and_enable_again(ext):
    ext.connection.ensure_timer()
    assert bpy.ops.preferences.addon_disable(module=EXT) == {"FINISHED"}
    assert not hasattr(bpy.types.Scene, "segmatte")
    assert not hasattr(bpy.types, "SEGMATTE_PT_clip")
    assert not bpy.app.timers.is_registered(ext.connection.poll)
    assert ext.connection.link.client is None
    assert bpy.ops.preferences.addon_enable(module=EXT) == {"FINISHED"}
    assert hasattr(bpy.types.Scene, "segmatte") and hasattr(bpy.types, "SEGMATTE_PT_sequencer")
