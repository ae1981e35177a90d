"""``segmatte doctor``: one screen of what works here and what to do about what does not.

Each check is a small function returning a :class:`Check`; none of them may
raise or hang (the server probe has a short timeout), so the table always
prints, whatever is broken.
"""

from __future__ import annotations

import argparse
import glob
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segmatte.client import paths
from segmatte.client.protocol import DEFAULT_PORT


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    """ok, warn or missing."""
    detail: str
    todo: str = ""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("doctor", help="check this machine: GPU, ffmpeg, OpenImageIO, "
                              "models, server, host plugins",
                              description="Show what works on this machine and what to do.")
    p.add_argument("--torch", action="store_true", dest="load_torch",
                   help="load torch to confirm the compute device (slower: seconds, ~600 MB); "
                   "by default torch is looked at, not loaded")
    p.set_defaults(func=run)


def _torch_build() -> tuple[str, str | None] | None:
    """(version, CUDA version or None) of the installed torch, read from its files, not imported."""
    import importlib.util
    import re
    from importlib import metadata

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    version_py = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version_py.read_text()
    except OSError:
        text = ""
    m = re.search(r"^cuda\s*(?::[^=\n]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
    found = re.search(r"^__version__\s*(?::[^=\n]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if found:
        version = found.group(1)
    else:
        try:
            version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            version = "?"
    return version, (m.group(1) if m else None)


def _nvidia_gpus() -> list[tuple[str, float]]:
    """(name, GiB) of each NVIDIA GPU the driver lists (nvidia-smi), none without one."""
    import shutil

    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.stdout.splitlines() if out.returncode == 0 else ():
        name, _, mib = line.rpartition(",")
        try:
            gpus.append((name.strip(), float(mib) / 1024))
        except ValueError:
            continue
    return gpus


def _ram() -> str:
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        return f", {mem:.1f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        return ""


def check_torch() -> Check:
    """The compute device, without importing torch (that alone takes seconds and ~600 MB).

    torch's version and CUDA build are read from its files, the GPUs from the
    driver (nvidia-smi); ``segmatte doctor --torch`` loads torch to confirm.
    """
    import platform

    build = _torch_build()
    if build is None:
        return Check("torch", "missing", "torch is not installed",
                     "pip install torch (see the README for the CUDA build)")
    version, cuda_build = build
    gpus = _nvidia_gpus()
    if gpus and cuda_build:
        name, gib = gpus[0]
        return Check("compute device", "ok", f"CUDA: {name}, {gib:.1f} GiB (torch {version}, "
                     f"CUDA {cuda_build} build, {len(gpus)} GPU(s))")
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return Check("compute device", "ok", f"Apple MPS (torch {version})")
    where = f"CPU only: {os.cpu_count()} cores{_ram()} (torch {version})"
    if gpus:
        return Check("compute device", "warn", where, f"works, but slowly; the driver sees "
                     f"{gpus[0][0]} but torch is a CPU build: install a CUDA build of torch")
    advice = (f"works, but slowly; torch is a CUDA {cuda_build} build but sees no GPU: check the "
              "NVIDIA driver (nvidia-smi)" if cuda_build else
              "works, but slowly; install a CUDA build of torch for an NVIDIA GPU")
    return Check("compute device", "warn", where, advice)


def check_torch_loaded() -> Check:
    """The compute device as torch itself sees it (``doctor --torch``)."""
    try:
        import torch
    except Exception as exc:
        return Check("torch", "missing", f"cannot import torch: {exc}",
                     "pip install torch (see the README for the CUDA build)")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Check("compute device", "ok", f"CUDA: {props.name}, {props.total_memory / 2**30:.1f} GiB "
                     f"(torch {torch.__version__}, {torch.cuda.device_count()} GPU(s))")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return Check("compute device", "ok", f"Apple MPS (torch {torch.__version__})")
    memory = _ram()
    cuda_build = getattr(torch.version, "cuda", None)
    advice = (f"works, but slowly; torch is a CUDA {cuda_build} build but sees no GPU: check the "
              "NVIDIA driver (nvidia-smi)" if cuda_build else
              "works, but slowly; install a CUDA build of torch for an NVIDIA GPU")
    return Check("compute device", "warn", f"CPU only: {os.cpu_count()} cores{memory} "
                 f"(torch {torch.__version__})", advice)


def check_ffmpeg() -> Check:
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True,
                             timeout=10)
        version = (out.stdout.splitlines() or ["?"])[0]
        return Check("ffmpeg", "ok", f"{version} ({exe})")
    except Exception as exc:
        return Check("ffmpeg", "missing", f"no ffmpeg: {exc}", "pip install imageio-ffmpeg")


def check_oiio() -> Check:
    try:
        import OpenImageIO as oiio
    except Exception as exc:
        return Check("OpenImageIO", "missing", f"cannot import: {exc}", "pip install openimageio")
    formats = oiio.get_string_attribute("extension_list")
    exr = "openexr" in formats
    return Check("OpenImageIO", "ok" if exr else "missing",
                 f"{oiio.VERSION_STRING}, EXR {'supported' if exr else 'NOT supported'}",
                 "" if exr else "install an OpenImageIO build with OpenEXR")


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(home) / "hub"


def check_models() -> Check:
    cache = hf_cache_dir()
    models = sorted(p.name.removeprefix("models--").replace("--", "/")
                    for p in cache.glob("models--*")) if cache.is_dir() else []
    from .models import found_elsewhere

    person = found_elsewhere("rvm-mobilenetv3")
    extra = f"; person engine weights: {person}" if person else ""
    if not models:
        return Check("model cache", "ok" if person else "warn", f"no models in {cache}{extra}",
                     "`segmatte models pull NAME` fetches one (the key engine needs none)")
    shown = ", ".join(models[:8]) + (f" … (+{len(models) - 8})" if len(models) > 8 else "")
    return Check("model cache", "ok", f"{len(models)} in {cache}: {shown}{extra}")


def check_token() -> Check:
    path = paths.token_path()
    if not path.exists():
        return Check("auth token", "warn", f"none yet at {path}", "created on the server's first start")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        return Check("auth token", "warn", f"{path} is readable by others (mode {mode:o})",
                     f"chmod 600 {path}")
    return Check("auth token", "ok", f"{path} (mode {mode:o})")


def listening(address: str, timeout: float = 0.5) -> bool:
    """Whether anything accepts TCP connections at ``tcp://HOST:PORT``.

    ZeroMQ connects in the background and retries for ever, so with no server
    the client could only wait out its timeout (1.5 s of doctor's 2 s); a plain
    connect is refused at once.
    """
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def check_server() -> Check:
    from segmatte.client.client import Client, ClientError

    address = paths.server_address(DEFAULT_PORT)
    if not listening(address):
        return Check("server", "warn", f"nothing listens at {address}",
                     "`segmatte serve` (hosts and `matte --server` start it when needed)")
    client = Client(address, name="segmatte doctor")
    try:
        info = client.connect(timeout=1.5)
        pong = client.ping(timeout=2)
        pid = paths.read_json(paths.endpoint_path()).get("pid", "?")
        return Check("server", "ok", f"answers at {address} (segmatte {info.get('server')}, pid {pid}, "
                     f"{pong.get('running', 0)} running, {pong.get('jobs', 0)} queued)")
    except ClientError as exc:
        return Check("server", "warn", f"{address} refused us: {exc.message}",
                     "run doctor as the same user as the server")
    except (TimeoutError, OSError) as exc:
        return Check("server", "warn", f"nothing answers at {address} ({exc.__class__.__name__})",
                     "`segmatte serve` (hosts and `matte --server` start it when needed)")
    finally:
        client.close(timeout=0.5)


def blender_folders() -> list[Path]:
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", "")) / "Blender Foundation" / "Blender"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "Blender"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "blender"
    return [Path(p) for p in sorted(glob.glob(str(base / "*")))]


def resolve_folders() -> list[Path]:
    if sys.platform == "win32":
        roots = [Path(os.environ.get("APPDATA", "")) / "Blackmagic Design" / "DaVinci Resolve" /
                 "Support" / "Fusion" / "Scripts",
                 Path(os.environ.get("PROGRAMDATA", "C:/ProgramData")) / "Blackmagic Design" /
                 "DaVinci Resolve" / "Fusion" / "Scripts"]
    elif sys.platform == "darwin":
        roots = [Path.home() / "Library" / "Application Support" / "Blackmagic Design" /
                 "DaVinci Resolve" / "Fusion" / "Scripts",
                 Path("/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts")]
    else:
        roots = [Path.home() / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts",
                 Path("/opt/resolve/Fusion/Scripts")]
    return roots


def check_blender() -> Check:
    versions = blender_folders()
    found = [p for v in versions for p in v.glob("extensions/*/segmatte*")] + \
            [p for v in versions for p in v.glob("scripts/addons/segmatte*")]
    if found:
        return Check("Blender extension", "ok", ", ".join(str(p) for p in found))
    where = ", ".join(v.name for v in versions) or "no Blender config folder found"
    return Check("Blender extension", "warn", f"not installed ({where})",
                 "`segmatte install blender` (Blender 4.2 LTS or later)")


def check_resolve() -> Check:
    found = [p for root in resolve_folders() for p in root.glob("*/segmatte*")]
    if found:
        return Check("Resolve scripts", "ok", ", ".join(str(p) for p in found))
    present = [str(r) for r in resolve_folders() if r.is_dir()]
    return Check("Resolve scripts", "warn",
                 "not installed" + (f" (Fusion Scripts: {present[0]})" if present else
                                    " (no Resolve found)"),
                 "`segmatte install resolve`")


CHECKS: tuple[Callable[[], Check], ...] = (
    check_torch, check_ffmpeg, check_oiio, check_models, check_token, check_server,
    check_blender, check_resolve)


def gather(load_torch: bool = False) -> list[Check]:
    out = []
    for check in CHECKS:
        if load_torch and check is check_torch:
            check = check_torch_loaded
        try:
            out.append(check())
        except Exception as exc:  # a broken check is itself a finding, not a crash
            out.append(Check(check.__name__.removeprefix("check_"), "missing",
                             f"check failed: {exc}"))
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from segmatte.client import __version__

    table = Table(title=f"segmatte {__version__} doctor  (config {paths.config_dir()}, "
                  f"data {paths.data_dir()})")
    table.add_column("")
    table.add_column("check")
    table.add_column("found", overflow="fold")
    table.add_column("to do", overflow="fold")
    marks = {"ok": "[green]✔[/]", "warn": "[yellow]![/]", "missing": "[red]✘[/]"}
    checks = gather(load_torch=getattr(args, "load_torch", False))
    for c in checks:
        table.add_row(marks.get(c.status, "?"), c.name, c.detail, c.todo)
    Console().print(table)
    return 1 if any(c.status == "missing" for c in checks) else 0
