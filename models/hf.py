"""The ``transformers`` module, safe to import from any thread.

``transformers/__init__`` swaps itself for a lazy module at its end; a thread
whose ``import`` waited for another thread's (the server's warm-up imports it
at start) is handed the first, empty module object, so a loader looks the
module up in ``sys.modules`` again rather than trusting the name the import
bound. Found on the first text session of a fresh server ("needs transformers
>= 5.0.0" on transformers 5.25).
"""

from __future__ import annotations

import sys
from types import ModuleType


def transformers_module() -> ModuleType:
    """``transformers`` once its import (in any thread) has finished; ImportError if absent."""
    import transformers  # noqa: F401 - waits for another thread's import to finish

    return sys.modules["transformers"]
