"""``segmatte models pull`` against a fake hub on loopback: layout, progress, resume, digests."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from segmatte.models.engine import EngineError
from segmatte.models.weights import cache, catalog, pull
from segmatte.models.weights.catalog import ModelEntry

REPO = "tester/tiny-sam2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class FakeHub:
    """Serves the hub's listing API and ``resolve`` URLs for one repo, with Range support."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []
        self.break_after: int | None = None  # cut the next big transfer after N bytes
        self.corrupt = False
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                hub.requests.append((self.path, self.headers.get("Range")))
                if self.path.startswith(f"/api/models/{REPO}/revision/"):
                    body = json.dumps(hub.listing()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                prefix = f"/{REPO}/resolve/{COMMIT}/"
                name = self.path[len(prefix):] if self.path.startswith(prefix) else None
                if name not in hub.files:
                    self.send_error(404)
                    return
                data = hub.files[name]
                if hub.corrupt and name.endswith(".safetensors"):
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                chunk = data[start:]
                if hub.break_after is not None and len(chunk) > hub.break_after:
                    self.wfile.write(chunk[:hub.break_after])
                    self.wfile.flush()
                    hub.break_after = None
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def listing(self) -> dict:
        sib = []
        for name, data in self.files.items():
            item = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
            if name.endswith(".safetensors"):
                item["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            sib.append(item)
        sib.append({"rfilename": "README.md", "size": 3, "blobId": git_blob_id(b"hi\n")})
        return {"id": REPO, "sha": COMMIT, "siblings": sib}

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, bytes]:
    from tiny_track import tiny_model, tiny_processor

    d = tmp_path_factory.mktemp("tiny")
    tiny_model().save_pretrained(d)
    tiny_processor().save_pretrained(d)
    return {p.name: p.read_bytes() for p in Path(d).iterdir() if p.is_file()}


@pytest.fixture
def hub(tiny_files):
    h = FakeHub(tiny_files)
    yield h
    h.close()


@pytest.fixture
def entry(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    e = ModelEntry("test-tiny", "track", "sam2_video", "Apache-2.0", repo=REPO,
                   files=("*.json", "*.safetensors"))
    monkeypatch.setitem(catalog._BY_NAME, e.name, e)
    return e


def test_pull_writes_the_hub_cache_layout(hub, entry, tiny_files, tmp_path):
    seen: dict[str, list[int]] = {}
    folder = pull.pull(entry, endpoint=hub.url,
                       progress=lambda n, d, t: seen.setdefault(n, []).append(d))
    root = tmp_path / "hub" / "models--tester--tiny-sam2"
    assert folder == root / "snapshots" / COMMIT
    assert (root / "refs" / "main").read_text() == COMMIT
    for name, data in tiny_files.items():
        link = folder / name
        assert link.is_symlink() and link.read_bytes() == data
    assert not (folder / "README.md").exists()  # only the catalog's patterns
    # progress: monotonic, ends at the size, for every file
    big = seen["model.safetensors"]
    assert big == sorted(big) and big[-1] == len(tiny_files["model.safetensors"])
    assert cache.local_path(entry) == folder
    # transformers and huggingface_hub find it offline
    from transformers import Sam2VideoModel

    model = Sam2VideoModel.from_pretrained(REPO, local_files_only=True,
                                           cache_dir=str(tmp_path / "hub"))
    assert model.config.image_size == 64
    from huggingface_hub import try_to_load_from_cache

    assert try_to_load_from_cache(REPO, "config.json", cache_dir=str(tmp_path / "hub"))


def test_pulled_model_runs_in_the_engine_offline(hub, entry):
    import numpy as np

    from segmatte.models.frames import ClipInfo, Frame
    from segmatte.models.prompts import Keyframe, ObjectPrompts, Point
    from segmatte.models.track.engine_track import TrackEngine

    pull.pull(entry, endpoint=hub.url)
    hub.close()  # from here on, no network
    img = np.random.default_rng(0).random((32, 48, 3)).astype(np.float32)
    engine = TrackEngine({"model": "test-tiny"})
    engine.open(ClipInfo(48, 32, 24.0, 0, 1), [ObjectPrompts(id="o", keyframes=(
        Keyframe(frame=0, points=(Point(x=20, y=16),)),))], fetch=lambda n: Frame(n, img))
    mattes = list(engine.stream([Frame(0, img), Frame(1, img)]))
    assert mattes[1].layers["o"].shape == (32, 48)


def test_resume_after_a_broken_transfer(hub, entry, tiny_files, tmp_path):
    size = len(tiny_files["model.safetensors"])
    hub.break_after = size // 3
    with pytest.raises(pull.PullError, match="run the same pull again to resume"):
        pull.pull(entry, endpoint=hub.url, retries=0)
    partial = list((tmp_path / "hub").rglob("*.incomplete"))
    assert len(partial) == 1 and partial[0].stat().st_size == size // 3
    assert cache.local_path(entry) is None
    pull.pull(entry, endpoint=hub.url)
    ranges = [r for p, r in hub.requests if p.endswith("model.safetensors") and r]
    assert ranges == [f"bytes={size // 3}-"]
    assert (cache.local_path(entry) / "model.safetensors").read_bytes() == tiny_files["model.safetensors"]
    assert not list((tmp_path / "hub").rglob("*.incomplete"))


def test_retry_resumes_within_one_pull(hub, entry, tiny_files):
    hub.break_after = 1000
    pull.pull(entry, endpoint=hub.url, retries=2)
    assert any(r == "bytes=1000-" for _, r in hub.requests)


def test_digest_mismatch_is_refused_and_nothing_kept(hub, entry, tmp_path):
    hub.corrupt = True
    with pytest.raises(pull.DigestMismatch):
        pull.pull(entry, endpoint=hub.url)
    assert cache.local_path(entry) is None
    leftovers = [p for p in (tmp_path / "hub").rglob("*") if p.is_file()] \
        if (tmp_path / "hub").exists() else []
    assert leftovers == []


def test_pinned_digest_wins_over_the_published_one(hub, entry, monkeypatch):
    pinned = replace(entry, sha256={"model.safetensors": "0" * 64})
    monkeypatch.setitem(catalog._BY_NAME, pinned.name, pinned)
    with pytest.raises(pull.DigestMismatch):
        pull.pull(pinned, endpoint=hub.url)


def test_opt_in_licence_needs_acceptance(hub, entry):
    gated = replace(entry, licence="GPL-3.0", opt_in=True)
    with pytest.raises(pull.LicenceNotAccepted, match="--accept-licence"):
        pull.pull(gated, endpoint=hub.url)
    assert hub.requests == []  # refused before any traffic
    assert pull.pull(gated, endpoint=hub.url, accept_licence=True).is_dir()


def test_offline_lookup_and_message(entry, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: no network use
    assert cache.local_path(entry) is None
    with pytest.raises(EngineError, match="segmatte models pull test-tiny"):
        cache.require(entry)
    with pytest.raises(pull.PullError, match="cannot reach"):
        pull.pull(entry)


def test_cli_list_pull_path(hub, entry, capsys):
    from segmatte.server.cli import main

    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["sam2.1-tiny"]["source"] == "facebook/sam2.1-hiera-tiny"
    assert rows["sam3-tracker"]["opt_in"] and not rows["test-tiny"]["pulled"]
    assert main(["models", "path", "test-tiny"]) == 1
    assert "segmatte models pull test-tiny" in capsys.readouterr().err
    assert main(["models", "pull", "test-tiny", "--endpoint", hub.url]) == 0
    out = capsys.readouterr().out.strip()
    assert main(["models", "path", "test-tiny"]) == 0
    assert capsys.readouterr().out.strip() == out
    assert main(["models", "pull", "sam3-tracker"]) == 2
    assert "--accept-licence" in capsys.readouterr().err
