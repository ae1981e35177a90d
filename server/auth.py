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
from collections.abc import Iterable, Mapping
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
    """The one check every path in a request passes before anything touches the disk.

    Sources, masks, clean plates, weights, output folders: whatever names a
    file goes through :meth:`check`. The answer depends on the text of the
    path and the allowed roots only (symlinks resolved), never on whether a
    file is there, so a refusal tells a client nothing about what exists
    outside the roots. Paths must be absolute: the server's working folder is
    not the client's.
    """

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = tuple(Path(os.path.realpath(Path(r).expanduser())) for r in roots)

    def allows(self, path: str) -> bool:
        if not isinstance(path, str) or not path or "\x00" in path:
            return False
        expanded = Path(path).expanduser()
        if not expanded.is_absolute():
            return False
        real = Path(os.path.realpath(expanded))
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def check(self, path: Any, field: str, msg_id: str | None = None) -> None:
        """Raise ProtocolError(bad_path) naming ``field`` unless ``path`` may be used."""
        if not isinstance(path, str) or not path or "\x00" in path:
            raise ProtocolError(Code.BAD_PATH, f"{field} must be a file path", field, msg_id)
        if not Path(path).expanduser().is_absolute():
            raise ProtocolError(Code.BAD_PATH, f"{field} must be an absolute path, not {path!r}: "
                                "the server does not share the client's working folder", field,
                                msg_id)
        if not self.allows(path):
            roots = ", ".join(str(r) for r in self.roots)
            raise ProtocolError(Code.BAD_PATH, f"{field} {path!r} is outside the folders this "
                                f"server may use ({roots}); start it with --allow-root to add one",
                                field, msg_id)

    def check_spec(self, spec: dict[str, Any], msg_id: str | None,
                   option_paths: Mapping[str, bool | str] | Iterable[str] = ()) -> None:
        """Raise ProtocolError(bad_path) naming the first field whose path may not be used.

        Works on the raw dict (already validated by ``parse_spec``) so the field
        names match what the client sent. ``option_paths`` names the engine
        options that hold a path (:func:`segmatte.models.engine.path_options`);
        a string in one of them is a path, anything else (a frame number) is not.
        """
        for field, value in spec_paths(spec, option_paths):
            self.check(value, field, msg_id)


def looks_like_path(value: str) -> bool:
    """For a field that takes a catalog name or a folder: is this value a path?

    Catalog names hold no separators; anything with one, or starting with
    ``~`` or ``.``, is taken for a path (and so must pass the guard).
    """
    return "/" in value or "\\" in value or value.startswith(("~", "."))


def spec_paths(spec: dict[str, Any], option_paths: Mapping[str, bool | str] | Iterable[str] = ()
               ) -> Iterable[tuple[str, Any]]:
    """Every (field, path) of a raw spec dict: source, output folder, masks, path options.

    ``option_paths`` maps an option's name to its mark (``True``: always a path;
    ``"or_name"``: a path when it looks like one); a plain list means ``True``.
    """
    yield "spec.source", spec.get("source", "")
    output = spec.get("output") or {}
    yield "spec.output.folder", output.get("folder", "")
    model = spec.get("model")
    if isinstance(model, str) and looks_like_path(model):
        yield "spec.model", model
    options = spec.get("options") or {}
    marks = option_paths if isinstance(option_paths, Mapping) else dict.fromkeys(option_paths, True)
    for name, mark in marks.items():
        value = options.get(name)
        if isinstance(value, str) and (mark is True or looks_like_path(value)):
            yield f"spec.options.{name}", value
    for i, obj in enumerate(spec.get("objects") or ()):
        for k, key in enumerate((obj or {}).get("keyframes") or ()):
            mask = (key or {}).get("mask")
            if mask is not None:
                yield f"spec.objects.{i}.keyframes.{k}.mask", mask
