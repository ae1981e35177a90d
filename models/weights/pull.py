"""Fetch a model's files into the cache: progress, resume, digest check.

Why not ``huggingface_hub.snapshot_download``: we need a progress callback the
CLI renders with rich, a verdict on the digest *before* a file becomes visible
in the cache (a mismatch leaves nothing behind), resume of a broken transfer
with an HTTP ``Range`` request across runs, and a transport that tests can aim
at a loopback server. The layout written is exactly the hub cache's, so
``from_pretrained(repo, local_files_only=True)`` and ``huggingface_hub`` both
find the result.

Protocol used (the hub's public HTTP API; ``HF_ENDPOINT`` or ``endpoint=``
points it elsewhere):

- ``GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true`` → the
  commit (``sha``) and ``siblings`` (``rfilename``, ``size``, ``blobId``,
  ``lfs.sha256``);
- ``GET {endpoint}/{repo}/resolve/{commit}/{file}`` (with ``Range: bytes=N-``
  to resume) → the bytes.

Large (LFS) files are checked against their sha256, small ones against their
git blob id (sha1 of ``"blob <size>\\0" + content``) — the same ids the hub
cache names its blobs with.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..engine import EngineError
from .cache import repo_dir, url_cache_dir
from .catalog import ModelEntry, get

Progress = Callable[[str, int, int], None]
"""progress(file name, bytes done, bytes total) — called as bytes arrive."""

CHUNK = 1 << 20


class PullError(EngineError):
    """A pull failed; the message says what to do."""


class LicenceNotAccepted(PullError):
    pass


class DigestMismatch(PullError):
    pass


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    digest: str
    algo: str  # "sha256" (LFS) or "git-sha1"

    @property
    def blob_name(self) -> str:
        return self.digest


def endpoint_url(endpoint: str | None = None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    if token:
        return token
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:
        return None


def _request(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0):
    headers = dict(headers or {})
    headers.setdefault("User-Agent", "segmatte-models-pull")
    token = _token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def licence_notice(entry: ModelEntry) -> str:
    terms = f" ({entry.licence_url})" if entry.licence_url else ""
    gated = (" The hub also requires an account that accepted these terms, and a token "
             "(HF_TOKEN or `huggingface-cli login`).") if entry.gated else ""
    return f"{entry.name} is licensed under {entry.licence}{terms}.{gated}"


def check_licence(entry: ModelEntry, accept_licence: bool) -> None:
    if entry.opt_in and not accept_licence:
        raise LicenceNotAccepted(
            f"{licence_notice(entry)} Read the terms, then run: "
            f"segmatte models pull {entry.name} --accept-licence")


def list_files(entry: ModelEntry, endpoint: str | None = None) -> tuple[str, list[RemoteFile]]:
    """The commit the revision points at, and the files to fetch with their digests."""
    url = f"{endpoint_url(endpoint)}/api/models/{entry.repo}/revision/{entry.revision}?blobs=true"
    try:
        with _request(url) as resp:
            info = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise PullError(f"the hub refused {entry.repo} ({exc.code}): "
                            f"{licence_notice(entry)}") from None
        raise PullError(f"cannot list {entry.repo}@{entry.revision}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PullError(f"cannot reach {endpoint_url(endpoint)} ({exc}); "
                        "pull needs the network once, jobs then run offline") from None
    commit = info.get("sha") or entry.revision
    files = []
    for sib in info.get("siblings", []):
        name = sib["rfilename"]
        if not any(fnmatch.fnmatch(name, pat) for pat in entry.files):
            continue
        lfs = sib.get("lfs")
        if lfs:
            files.append(RemoteFile(name, int(lfs.get("size", sib.get("size", 0))),
                                    lfs["sha256"], "sha256"))
        else:
            files.append(RemoteFile(name, int(sib.get("size", 0)), sib["blobId"], "git-sha1"))
    pinned = {k: v for k, v in entry.sha256.items() if v}
    files = [RemoteFile(f.name, f.size, pinned[f.name], "sha256") if f.name in pinned else f
             for f in files]
    missing = [r for r in entry.required if r not in {f.name for f in files}]
    if missing:
        raise PullError(f"{entry.repo}@{entry.revision} has no {', '.join(missing)}")
    return commit, files


def _hasher(algo: str, size: int):
    if algo == "sha256":
        return hashlib.sha256()
    h = hashlib.sha1()
    h.update(f"blob {size}\0".encode())
    return h


def download(url: str, dest: Path, expected: RemoteFile, progress: Progress | None = None,
             retries: int = 2) -> None:
    """Download ``url`` to ``dest`` via ``dest.incomplete``, resuming and verifying.

    A broken transfer leaves ``.incomplete`` behind for the next run (or retry)
    to resume from; a digest mismatch deletes it and raises.
    """
    part = dest.with_name(dest.name + ".incomplete")
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            if not (expected.size and have >= expected.size):
                with _request(url, headers) as resp:
                    status = getattr(resp, "status", 200)
                    if have and status != 206:  # server ignored the range: start over
                        have = 0
                    total = expected.size or (have + int(resp.headers.get("Content-Length", 0)))
                    with open(part, "ab" if have else "wb") as out:
                        done = have
                        if progress:
                            progress(expected.name, done, total)
                        while chunk := resp.read(CHUNK):
                            out.write(chunk)
                            done += len(chunk)
                            if progress:
                                progress(expected.name, done, total)
                    # http.client's read(n) returns b"" on an early close instead of raising
                    if total and done < total:
                        raise ConnectionError(f"connection closed at {done} of {total} bytes")
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416:  # range not satisfiable: we already have it all
                break
            if exc.code in (401, 403):
                raise PullError(f"the server refused {expected.name} ({exc.code})") from None
            raise PullError(f"{expected.name}: HTTP {exc.code}") from None
        except (OSError, urllib.error.URLError) as exc:  # includes IncompleteRead, resets
            attempt += 1
            if attempt > retries:
                got = part.stat().st_size if part.exists() else 0
                raise PullError(f"transfer of {expected.name} broke after {got} bytes ({exc}); "
                                "run the same pull again to resume") from None
    h = _hasher(expected.algo, part.stat().st_size)
    with open(part, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    if h.hexdigest() != expected.digest:
        part.unlink(missing_ok=True)
        raise DigestMismatch(f"{expected.name}: {expected.algo} {h.hexdigest()} does not match "
                             f"the published {expected.digest}; nothing was kept")
    part.replace(dest)


def pull(name: str | ModelEntry, *, accept_licence: bool = False, endpoint: str | None = None,
         progress: Progress | None = None, retries: int = 2) -> Path:
    """Fetch a model into the cache and return its folder (the snapshot)."""
    entry = get(name) if isinstance(name, str) else name
    check_licence(entry, accept_licence)
    if entry.repo is None:
        return _pull_url(entry, progress, retries)
    commit, files = list_files(entry, endpoint)
    root = repo_dir(entry.repo)
    created_root = not root.exists()
    blobs = root / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    new_blobs: list[Path] = []
    try:
        for f in files:
            blob = blobs / f.blob_name
            if blob.is_file():
                if progress:
                    progress(f.name, f.size, f.size)
                continue
            url = f"{endpoint_url(endpoint)}/{entry.repo}/resolve/{commit}/{f.name}"
            download(url, blob, f, progress, retries)
            new_blobs.append(blob)
    except DigestMismatch:
        for b in new_blobs:
            b.unlink(missing_ok=True)
        if created_root and not any(p.is_file() for p in root.rglob("*")):
            shutil.rmtree(root, ignore_errors=True)
        raise
    snap = root / "snapshots" / commit
    for f in files:
        link = snap / f.name
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(blobs / f.blob_name, link.parent)
        if link.is_symlink() or link.exists():
            link.unlink()
        try:
            link.symlink_to(target)
        except OSError:  # no symlinks (Windows without developer mode): copy
            shutil.copyfile(blobs / f.blob_name, link)
    if commit != entry.revision:
        ref = root / "refs" / entry.revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit)
    return snap


def _pull_url(entry: ModelEntry, progress: Progress | None, retries: int) -> Path:
    folder = url_cache_dir() / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    for fname in entry.files:
        digest = entry.sha256.get(fname)
        if not digest:
            raise PullError(f"{entry.name}: no pinned sha256 for {fname}; refusing an unverified "
                            "download")
        dest = folder / fname
        if dest.is_file():
            continue
        download(entry.url if len(entry.files) == 1 else f"{entry.url}/{fname}", dest,
                 RemoteFile(fname, 0, digest, "sha256"), progress, retries)
    return folder
