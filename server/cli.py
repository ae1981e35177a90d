"""The ``segmatte`` command line: one subcommand per module in ``commands/``.

Exit codes a shell user can act on: 0 done, 1 the job failed, 2 bad input or
usage, 130 cancelled (Ctrl-C). Errors are one sentence on stderr, never a
traceback (``SEGMATTE_DEBUG=1`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from segmatte.client import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130

COMMANDS = ("matte", "batch", "probe", "serve", "jobs", "doctor", "models", "install", "shapes")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that subcommand's module is imported.

    Each command module imports what its work needs only when it runs, and
    ``main`` registers only the command asked for: ``segmatte jobs`` or
    ``doctor`` never pays for importing the shapes or media code.
    """
    parser = argparse.ArgumentParser(
        prog="segmatte", description="AI mattes for video, written as OpenEXR sequences.")
    parser.add_argument("--version", action="version", version=f"segmatte {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else COMMANDS:
        try:
            module = importlib.import_module(f"segmatte.server.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"segmatte.server.commands.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("segmatte: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # the last line of defence: one sentence, no traceback
        if os.environ.get("SEGMATTE_DEBUG"):
            raise
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
