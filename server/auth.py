"""Who may talk to the server, and which folders a job may touch.

The token is a per-user secret in the config folder (mode 0600), created on
the server's first start: any local process of the same user can read it,
other users cannot, which is the boundary that matters for a loopback
service. Allowed roots keep a client from making the server read or write
where the user did not mean to (the server runs with the user's rights).
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from segmatte.client.protocol import Code, ProtocolError


def ensure_token(path: Path) -> str:
    """Read the token at ``path``, creating it (0600, parents 0700) if missing."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text:
            _tighten(path)
            return text
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.replace(tmp, path)
    _tighten(path)
    return path.read_text(encoding="utf-8").strip()


def _tighten(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def token_matches(expected: str, given: str) -> bool:
    """Constant-time comparison (no timing hints about the token)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


class PathGuard:
    """Checks that every path in a job spec lies under one of the allowed roots."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = tuple(Path(os.path.realpath(Path(r).expanduser())) for r in roots)

    def allows(self, path: str) -> bool:
        if not path or "\x00" in path:
            return False
        real = Path(os.path.realpath(Path(path).expanduser()))
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def check_spec(self, spec: dict[str, Any], msg_id: str | None) -> None:
        """Raise ProtocolError(bad_path) naming the first field whose path is outside.

        Works on the raw dict (already validated by ``parse_spec``) so the field
        names match what the client sent.
        """
        for field, value in _spec_paths(spec):
            if not self.allows(value):
                roots = ", ".join(str(r) for r in self.roots)
                raise ProtocolError(Code.BAD_PATH, f"{value!r} is outside the folders this server "
                                    f"may use ({roots}); start it with --allow-root to add one",
                                    field, msg_id)


def _spec_paths(spec: dict[str, Any]) -> Iterable[tuple[str, str]]:
    yield "spec.source", str(spec.get("source", ""))
    output = spec.get("output") or {}
    yield "spec.output.folder", str(output.get("folder", ""))
    for i, obj in enumerate(spec.get("objects") or ()):
        for k, key in enumerate((obj or {}).get("keyframes") or ()):
            mask = (key or {}).get("mask")
            if mask:
                yield f"spec.objects.{i}.keyframes.{k}.mask", str(mask)
