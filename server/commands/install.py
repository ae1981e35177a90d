"""``segmatte install HOST``: put the host plugins where Blender and Resolve find them."""

from __future__ import annotations

import argparse
import importlib

HOSTS = ("blender", "resolve")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install", help="install the Blender extension or the Resolve scripts",
                       description="Install (or uninstall) segmatte's host plugins for this user.")
    hosts = p.add_subparsers(dest="host", metavar="HOST")
    for host in HOSTS:
        try:
            module = importlib.import_module(f"segmatte.server.installers.{host}")
        except ModuleNotFoundError as exc:
            if exc.name == f"segmatte.server.installers.{host}":
                continue
            raise
        module.register(hosts)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
