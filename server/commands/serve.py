"""``segmatte serve``: run the sidecar until Ctrl-C, SIGTERM or a ``shutdown`` request.

With ``--foreground`` it logs to the terminal; otherwise to a rotating log
file in the data folder (that is how ``segmatte matte --server`` starts it in
the background). Unfinished jobs in the journal resume at start.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import Any

from segmatte.client.protocol import DEFAULT_PORT


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="run the segmentation server (the sidecar hosts talk to)",
        description="Run the segmentation server on loopback. Hosts (Blender, Resolve) and "
        "`segmatte matte --server` send it jobs over ZeroMQ.")
    p.add_argument("--port", type=int, default=None,
                   help=f"TCP port (default {DEFAULT_PORT}, or `port` in config.json; 0 = any free)")
    p.add_argument("--host", default=None,
                   help="address to bind (default 127.0.0.1; others need --allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow binding a non-loopback address (no encryption: trusted networks only)")
    p.add_argument("--workers", type=int, default=None, help="jobs run at once (default 1)")
    p.add_argument("--allow-root", action="append", default=[], metavar="FOLDER",
                   help="also allow jobs to read/write under FOLDER (repeatable; default: "
                   "your home and the temp folder)")
    p.add_argument("--heartbeat", type=float, default=None, metavar="SECONDS",
                   help="heartbeat interval (default 1 s)")
    p.add_argument("--foreground", action="store_true", help="log to the terminal, not the log file")
    p.add_argument("--stop", action="store_true",
                   help="stop the running server (also one that `matte --server` or `batch` "
                   "started in the background); unfinished jobs resume at its next start")
    p.add_argument("--no-warm-up", action="store_true",
                   help="do not import torch and warm the default engine at start (config.json: "
                   "warm_engine, default key)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.add_argument("--runner", default=None, help=argparse.SUPPRESS)  # tests: MODULE:FACTORY
    p.set_defaults(func=run)


def setup_logging(data_dir: Path, foreground: bool, verbose: bool) -> None:
    root = logging.getLogger("segmatte")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if foreground:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        from segmatte.server.journal import private_folder

        private_folder(data_dir)
        handler = logging.handlers.RotatingFileHandler(
            data_dir / "server.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(fmt)
    root.addHandler(handler)


def _load_runner(spec: str | None) -> Any:
    if not spec:
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "Runner")()


def _lock(data_dir: Path) -> Any:
    """Hold an exclusive lock on the data folder: two servers must not share a journal."""
    from segmatte.server.journal import private_folder

    private_folder(data_dir)
    fh = open(data_dir / "server.lock", "a+")  # noqa: SIM115 - held for the process's life
    try:
        import fcntl
    except ImportError:  # Windows: the port bind is the guard
        return fh
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise SystemExit(f"segmatte: another server already uses {data_dir} "
                         "(stop it first, or set SEGMATTE_DATA_DIR)") from None
    return fh


def stop_running() -> int:
    """``serve --stop``: ask the server named by the endpoint file to shut down."""
    from segmatte.client import paths
    from segmatte.client.client import Client, ClientError

    address = paths.read_json(paths.endpoint_path()).get("address")
    if not address:
        print("segmatte: no server is running (no endpoint file at "
              f"{paths.endpoint_path()})", file=sys.stderr)
        return 1
    client = Client(address)
    try:
        client.connect(timeout=5)
        client.shutdown()
    except (TimeoutError, ClientError, ConnectionError) as exc:
        print(f"segmatte: cannot stop the server at {address}: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"segmatte: the server at {address} is stopping; unfinished jobs resume at its next "
          "start", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from segmatte.server.config import ConfigError, load
    from segmatte.server.endpoint import Server, ServerError

    from ..cli import EXIT_USAGE

    if args.stop:
        return stop_running()
    try:
        cfg = load(port=args.port, host=args.host, workers=args.workers,
                   heartbeat_s=args.heartbeat, allow_remote=args.allow_remote or None,
                   warm_engine="" if args.no_warm_up else None,
                   extra_roots=args.allow_root)
    except ConfigError as exc:  # a setting that cannot work: bad input, exit 2
        print(f"segmatte: {exc}", file=sys.stderr)
        return EXIT_USAGE
    lock = _lock(cfg.data_dir)
    setup_logging(cfg.data_dir, args.foreground, args.verbose)
    server = Server(cfg, runner=_load_runner(args.runner))
    try:
        address = server.bind()
    except ServerError as exc:
        print(f"segmatte: {exc}", file=sys.stderr)
        server.close()
        return 1

    def stop(signum: int, frame: Any) -> None:
        server.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    where = "logs here" if args.foreground else f"logs to {cfg.data_dir / 'server.log'}"
    print(f"segmatte server listening on {address} (pid {os.getpid()}; {where}). Stop it with "
          "Ctrl-C here or `segmatte serve --stop` from any terminal.", file=sys.stderr, flush=True)
    server.serve_forever()
    lock.close()
    return 0
