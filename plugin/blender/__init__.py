"""segmatte for Blender: AI mattes for movie clips and sequencer strips.

This module only registers; see operators, panels, properties, preferences,
sources (clip/strip → source and frame mapping), prompts (markers, masks,
annotations → points and boxes), attach (mattes → image, compositor,
sequencer) and connection (the background client and its UI timer). The
``client`` sub-package is segmatte.client, vendored when the extension is built.
"""

from __future__ import annotations

from . import connection, operators, panels, preferences, properties, shapes_mask

_modules = (preferences, properties, operators, shapes_mask, panels)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    connection.shutdown()
    for module in reversed(_modules):
        module.unregister()
