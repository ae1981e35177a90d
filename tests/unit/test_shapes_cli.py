"""``segmatte shapes`` end to end: real matte files in, host files and a manifest out.

One test runs a real key job (``segmatte matte`` on the generated green-screen
clip) and turns its manifest into shapes; others read EXR sequences and a
two-layer EXR manifest written with the project's own writers, and check
bad input is one sentence with exit code 2 and nothing is left half-written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapegen

from segmatte.server.cli import main
from segmatte.server.output.exr import file_sha256, write_matte
from segmatte.server.output.layers_exr import write_layers
from segmatte.server.output.manifest import FrameRecord, Manifest, write_manifest

W, H = 160, 120


def _sequence(folder: Path, name: str = "hero", frames=range(1001, 1009)) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        write_matte(folder / f"{name}.{f:04d}.exr", shapegen.discs(W, H, [(40 + 2 * i, 60, 18)]))
    return str(folder / f"{name}.####.exr")


def test_key_job_mattes_become_shapes(green_screen_clip, tmp_path, capsys):
    mattes = tmp_path / "mattes"
    assert main(["matte", str(green_screen_clip), "--engine", "key", "--range", "0-9",
                 "--out", str(mattes), "--name", "g"]) == 0
    out = tmp_path / "shapes"
    capsys.readouterr()
    assert main(["shapes", str(mattes / "g.manifest.json"), "--out", str(out),
                 "--to", "json,nuke,fusion,svg", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    q = printed["quality"]["matte"] if "matte" in printed["quality"] else \
        next(iter(printed["quality"].values()))
    assert q["iou_min"] >= 0.97 and q["points_constant"]
    names = sorted(p.name for p in out.iterdir())
    assert "g.shapes.json" in names and "g.nk" in names and "g.setting" in names
    assert sum(n.endswith(".svg") for n in names) == 10
    manifest = json.loads((out / "g.shapes-manifest.json").read_text())
    assert manifest["first"] == 0 and manifest["last"] == 9
    assert set(manifest["files"]) == set(names) - {"g.shapes-manifest.json"}
    layer = next(iter(manifest["quality"]))
    assert len(manifest["iou_per_frame"][layer]) == 10
    assert min(manifest["iou_per_frame"][layer].values()) >= 0.97


def test_sequence_input_prints_the_quality_table(tmp_path, capsys):
    pattern = _sequence(tmp_path / "m")
    assert main(["shapes", pattern, "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "IoU min" in text and "hero" in text
    data = json.loads((tmp_path / "o" / "hero.shapes.json").read_text())
    assert data["objects"][0]["name"] == "hero" and len(data["objects"][0]["frames"]) == 8


def test_one_file_of_the_sequence_names_it_too(tmp_path, capsys):
    _sequence(tmp_path / "m")
    assert main(["shapes", str(tmp_path / "m" / "hero.1003.exr"), "--out", str(tmp_path / "o"),
                 "--to", "svg", "--name", "x"]) == 0
    assert len(list((tmp_path / "o").glob("x.*.svg"))) == 8


def test_two_layer_exr_manifest_gives_two_objects(tmp_path, capsys):
    folder = tmp_path / "layers"
    folder.mkdir()
    records = []
    for f in range(10, 16):
        path = folder / f"two.{f:04d}.exr"
        digest = write_layers(path, {
            "car": shapegen.discs(W, H, [(40 + f, 40, 20)]),
            "tree": shapegen.star(W, H, 110, 70, 35, 15, 5, 0.0)})
        records.append(FrameRecord.make(folder, f, {"car": (path, digest), "tree": (path, digest)}))
    manifest = Manifest(job_id="j", job_digest="d", source="synthetic", engine="track",
                        model=None, first=10, last=15, name="two", layers=["car", "tree"],
                        channels="a", compression="zip", datatype="half", padding=4, spec={},
                        frames=records)
    write_manifest(folder, "two", manifest)
    assert main(["shapes", str(folder), "--out", str(tmp_path / "o"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["quality"]) == {"car", "tree"}
    assert all(q["iou_min"] >= 0.97 for q in printed["quality"].values())


@pytest.mark.parametrize("args, words", [
    (["--to", "pdf"], "not a format"),
    (["--tolerance", "0"], "--tolerance"),
    (["--keyframes", "1,x"], "--keyframes"),
])
def test_bad_options_are_one_sentence(tmp_path, capsys, args, words):
    pattern = _sequence(tmp_path / "m", frames=range(1, 3))
    assert main(["shapes", pattern, "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("segmatte: ") and words in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_missing_mattes_are_one_sentence(tmp_path, capsys):
    assert main(["shapes", str(tmp_path / "none.####.exr"), "--out", str(tmp_path / "o")]) == 2
    assert "no files match" in capsys.readouterr().err
    assert main(["shapes", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "holds no segmatte manifest" in capsys.readouterr().err


def test_a_killed_runs_temporary_folder_is_cleared(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    out = tmp_path / "o"
    stale = out / f".segmatte-shapes-{dead}-abc"
    stale.mkdir(parents=True)
    (stale / "hero.nk").write_text("half")
    pattern = _sequence(tmp_path / "m", frames=range(1, 3))
    assert main(["shapes", pattern, "--out", str(out)]) == 0
    assert not stale.exists()
    assert sorted(p.name for p in out.iterdir()) == ["hero.shapes-manifest.json", "hero.shapes.json"]


def test_an_unreadable_frame_is_one_sentence(tmp_path, capsys):
    pattern = _sequence(tmp_path / "m", frames=range(1, 5))
    (tmp_path / "m" / "hero.0003.exr").write_bytes(b"not an exr")
    assert main(["shapes", pattern, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "hero.0003.exr is not a readable OpenEXR file" in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_files_it_did_not_write_are_not_replaced(tmp_path, capsys):
    pattern = _sequence(tmp_path / "m", frames=range(1, 4))
    out = tmp_path / "o"
    out.mkdir()
    mine = out / "hero.nk"
    mine.write_text("artist's own script\n")
    assert main(["shapes", pattern, "--out", str(out), "--to", "nuke,json"]) == 2
    assert "hero.nk exists" in capsys.readouterr().err
    assert mine.read_text() == "artist's own script\n"
    assert sorted(p.name for p in out.iterdir()) == ["hero.nk"]  # nothing else, no temp folder
    assert main(["shapes", pattern, "--out", str(out), "--to", "nuke", "--overwrite"]) == 0
    assert mine.read_text().startswith("# segmatte shapes")
    # Its own files are replaced on the next run without asking.
    before = file_sha256(mine)
    assert main(["shapes", pattern, "--out", str(out), "--to", "nuke,json", "--threshold", "0.2"]) == 0
    assert file_sha256(mine) != before
    manifest = json.loads((out / "hero.shapes-manifest.json").read_text())
    assert set(manifest["files"]) == {"hero.nk", "hero.shapes.json"}
