"""Installers for the host plugins: each module exposes ``register(subparsers)``
adding ``segmatte install <host>`` (and its uninstall) — see commands/install.py."""
