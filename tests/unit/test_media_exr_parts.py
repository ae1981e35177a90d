"""EXR files nobody here made: deep images are refused at the door, multi-part files
read the part asked for (``--part``) and say which one they read.

Both are written with OpenImageIO, as a renderer's output would be: a deep
scanline EXR (two samples per pixel) and a two-part EXR (``beauty`` RGBA and
``depth`` Z, each with its own channels).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from segmatte.server.media import MediaError, probe, read_frame
from segmatte.server.spec import parse_spec

W, H = 32, 24


def write_deep(path: Path) -> Path:
    """Deep scanlines whose data window lies inside a larger display window, as in
    OpenEXR's deep test images: the case whose display-window crop segfaulted."""
    spec = oiio.ImageSpec(W, H, 4, "float")
    spec.channelnames = ("R", "G", "B", "A")
    spec.deep = True
    spec.x, spec.y = 2, 1
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, W + 4, H + 3
    buf = oiio.ImageBuf(spec)
    for y in range(1, H + 1):
        for x in range(2, W + 2):
            buf.set_deep_samples(x, y, 0, 2)
            for s in range(2):
                for c in range(4):
                    buf.set_deep_value(x, y, 0, c, s, 0.5)
    assert buf.write(str(path)), buf.geterror()
    return path


def write_two_parts(path: Path) -> Path:
    beauty = oiio.ImageSpec(W, H, 4, "half")
    beauty.channelnames = ("R", "G", "B", "A")
    beauty.attribute("oiio:subimagename", "beauty")
    depth = oiio.ImageSpec(W, H, 1, "float")
    depth.channelnames = ("Z",)
    depth.attribute("oiio:subimagename", "depth")
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), [beauty, depth]), out.geterror()
    out.write_image(np.full((H, W, 4), 0.05, np.float32))
    assert out.open(str(path), depth, "AppendSubimage"), out.geterror()
    out.write_image(np.full((H, W, 1), 0.8, np.float32))
    out.close()
    return path


def test_a_deep_exr_is_refused_at_the_door_with_one_sentence(tmp_path: Path) -> None:
    deep = write_deep(tmp_path / "deep.exr")
    inp = oiio.ImageInput.open(str(deep))
    assert inp.spec().deep  # really deep data
    inp.close()
    with pytest.raises(MediaError, match="deep image") as err:
        probe(str(deep))
    assert "\n" not in str(err.value) and "flatten" in str(err.value)
    run = subprocess.run([sys.executable, "-m", "segmatte.server.cli", "matte", str(deep),
                          "--engine", "key", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, (run.returncode, run.stderr)   # not -11 (SIGSEGV)
    assert "deep image" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_multi_part_exr_reads_the_part_asked_for(tmp_path: Path) -> None:
    path = str(write_two_parts(tmp_path / "plate.exr"))
    first = probe(path)
    assert (first.part, first.parts) == ("beauty", ("beauty", "depth"))
    depth = probe(path, "depth")
    assert depth.part == "depth" and depth.pix_fmt == "float"
    assert probe(path, "1").part == "depth"                      # by index too
    dark, bright = read_frame(first, 0).image, read_frame(depth, 0).image
    assert float(dark.mean()) < float(bright.mean())             # 0.05 vs 0.8 (grey from Z)
    assert np.allclose(bright[..., 0], bright[..., 2])
    with pytest.raises(MediaError, match="no part 'spec'.*beauty, depth"):
        probe(path, "spec")
    single = tmp_path / "single.exr"
    oiio.ImageBuf(oiio.ImageSpec(W, H, 3, "half")).write(str(single))
    assert (probe(str(single)).part, probe(str(single)).parts) == (None, ())


def test_the_spec_carries_the_part_and_matte_says_which_was_read(tmp_path: Path) -> None:
    path = str(write_two_parts(tmp_path / "plate.exr"))
    base = {"source": path, "engine": "key", "output": {"folder": str(tmp_path / "o")}}
    assert parse_spec(base).digest() != parse_spec({**base, "part": "depth"}).digest()
    assert "part" not in parse_spec(base).model_dump(exclude_none=True)
    from segmatte.server.batch.plan import BatchSettings, shot_spec
    from segmatte.server.batch.shots import Shot

    spec = shot_spec(Shot(id="p", name="p", source=path),
                     BatchSettings(output=tmp_path / "b", part="depth"))
    assert spec.part == "depth"
    run = subprocess.run([sys.executable, "-m", "segmatte.server.cli", "matte", path, "--engine", "key",
                          "--part", "depth", "--out", str(tmp_path / "out"), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "reading part 'depth' of plate.exr (parts: beauty, depth" in run.stderr
    assert list((tmp_path / "out").glob("*.exr"))
    bad = subprocess.run([sys.executable, "-m", "segmatte.server.cli", "probe", path, "--part", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "no part 'nope'" in bad.stderr
