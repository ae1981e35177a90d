"""Server messages in the panel's words: name the control, not the CLI flag (no bpy).

The server writes one sentence for every client; some of them name the
command line's flags (``pass --overwrite``). In Blender the artist has a
toggle or a button instead, so those phrases are replaced.
"""

from __future__ import annotations

import re

_PHRASES = (
    (re.compile(r"pass --overwrite to replace it"), "turn on Overwrite (in the panel's Output) "
     "to replace it"),
    (re.compile(r"--overwrite"), "the Overwrite toggle"),
    (re.compile(r"another folder or --name"), "another Output Folder or Output Name "
     "(add-on preferences)"),
    (re.compile(r"(?:run )?`?segmatte models pull ([A-Za-z0-9_.\-]+)`?"),
     r"the Pull button next to the model \1 in the panel"),
    (re.compile(r"--accept-licen[cs]e"), "the licence confirmation of the Pull button"),
)


def for_panel(message: str) -> str:
    """``message`` with CLI flags replaced by the panel's controls."""
    text = str(message)
    for rx, words in _PHRASES:
        text = rx.sub(words, text)
    return text
