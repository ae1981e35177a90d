"""segmatte for Blender: AI mattes for movie clips and sequencer strips.

This module only registers; see operators (jobs), ops_session (the
interactive loop in the Movie Clip Editor), panels, properties, options_ui
(engine options from the server's schema), preferences, sources (clip/strip
→ source and frame mapping), prompts (markers, masks, annotations → points
and boxes on any frame), specs (→ ``client.jobspec``), overlay (mattes over
the clip, timeline marks), qc, attach (mattes → image, compositor,
sequencer), relpaths and connection (the background client and its UI
timer). The ``client`` sub-package is segmatte.client, vendored when the
extension is built.
"""

from __future__ import annotations

from . import (
    connection,
    operators,
    ops_session,
    overlay,
    panels,
    preferences,
    properties,
    relpaths,
    shapes_mask,
)

_modules = (preferences, properties, operators, ops_session, overlay, relpaths, shapes_mask,
            panels)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    connection.shutdown()
    for module in reversed(_modules):
        module.unregister()
