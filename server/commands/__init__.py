"""One module per ``segmatte`` subcommand; each exposes ``register(subparsers)``.

``register`` adds its parser and sets ``func`` (taking the parsed args,
returning the exit code) as the parser's default.
"""
