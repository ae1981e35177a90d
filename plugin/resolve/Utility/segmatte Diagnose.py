"""segmatte Diagnose: what this Resolve does where the scripting README is silent (Workspace > Scripts).

A launcher only: the work is in ``segmatte_resolve`` (installed beside the
Scripts menu folders by ``segmatte install resolve``). Standard library only.
"""

import os
import sys

SUPPORT_DIR = None  # the installer writes the absolute support folder here
ENTRY = "diagnose_main"


def _support_dir():
    """The folder holding ``segmatte_resolve``: as installed, else found from this file."""
    candidates = [SUPPORT_DIR]
    here = globals().get("__file__")
    if here:
        parent = os.path.dirname(os.path.dirname(os.path.abspath(here)))
        candidates += [os.path.join(parent, "segmatte_support"), parent]
    for folder in candidates:
        if folder and os.path.isdir(os.path.join(folder, "segmatte_resolve")):
            return folder
    return None


def _main(g):
    if sys.version_info < (3, 7):  # noqa: UP036 - Resolve may run any Python >= 3.6
        print(f"segmatte: this Python is {sys.version_info[0]}.{sys.version_info[1]}; the "
              "segmatte scripts need Python 3.7 or newer (Resolve uses the newest it finds)")
        return 1
    support = _support_dir()
    if support is None:
        print("segmatte: the segmatte_resolve support folder is missing; "
              "run `segmatte install resolve` again")
        return 1
    if support not in sys.path:
        sys.path.insert(0, support)
    from segmatte_resolve import launch

    return getattr(launch, ENTRY)(g)


_main(globals())
