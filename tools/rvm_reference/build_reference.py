#!/usr/bin/env python3
"""Make ``tests/data/rvm/reference.npz``: the TF.js graph's own outputs on real frames.

Decodes a few consecutive frames of ``vtest.avi`` (test assets), crops them,
runs the published RVM TF.js export in node (``make_reference.mjs``, the
pure-JS CPU backend pinned in ``package.json``) carrying the recurrent state,
and packs inputs and outputs for ``tests/unit/test_person_parity.py``.

Cases: an even crop at downsample ratio 0.5 (exercises the fast guided filter
refiner) and 1.0 (no refiner), and an odd-sized crop at 0.6 (exercises the
odd-size crops and partial pooling windows).

Usage (once ``python3 install/test_assets.py`` has fetched the footage and the
weights)::

    cd tools/rvm_reference && npm ci && python3 build_reference.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "install"))
import test_assets  # noqa: E402

OUT = REPO / "tests" / "data" / "rvm" / "reference.npz"
FIRST_FRAME = 100
FRAMES = 3
# crop name → (y0, y1, x0, x1) in the 768×576 frame, around the pedestrians
CROPS = {"even": (120, 312, 300, 556), "odd": (131, 306, 321, 554)}
# (case name, crop name, downsample ratio)
CASES = [("even_r050", "even", 0.5), ("even_r100", "even", 1.0), ("odd_r060", "odd", 0.6)]


def read_frames(video: Path, first: int, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = []
    for _ in range(count):
        ok, bgr = cap.read()
        if not ok:
            raise SystemExit(f"could not read frame {first + len(frames)} of {video}")
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def main() -> int:
    assets = test_assets.default_dest()
    weights = assets / "rvm"
    if not (weights / "rvm.json").is_file() or not (assets / "vtest.avi").is_file():
        raise SystemExit("run python3 install/test_assets.py first")
    frames = read_frames(assets / "vtest.avi", FIRST_FRAME, FRAMES)
    packed: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="rvm-ref-") as tmp:
        for crop, (y0, y1, x0, x1) in CROPS.items():
            packed[f"{crop}/inputs"] = np.stack([f[y0:y1, x0:x1] for f in frames]).astype(np.uint8)
        for name, crop, ratio in CASES:
            inputs = packed[f"{crop}/inputs"]
            np.save(Path(tmp) / f"{name}.npy", inputs)
            subprocess.run(["node", str(HERE / "make_reference.mjs"), str(weights),
                            str(Path(tmp) / f"{name}.npy"), repr(ratio), str(Path(tmp) / name)],
                           cwd=HERE, check=True)
            # Stored quantised to keep the file small: every alpha as uint16
            # (error ≤ 7.7e-6), the last frame's foreground as uint8 (≤ 2e-3).
            alpha = np.load(Path(tmp) / f"{name}.alpha.npy")
            fgr = np.load(Path(tmp) / f"{name}.fgr.npy")
            packed[f"{name}/crop"] = np.array(crop)
            packed[f"{name}/alpha_u16"] = np.round(alpha * 65535).astype(np.uint16)
            packed[f"{name}/last_fgr_u8"] = np.round(fgr[-1] * 255).astype(np.uint8)
            packed[f"{name}/ratio"] = np.float32(ratio)
    version = json.loads((HERE / "package.json").read_text())["dependencies"]
    packed["meta"] = np.array(json.dumps({
        "source": "vtest.avi (Debian opencv-doc)", "first_frame": FIRST_FRAME, "frames": FRAMES,
        "crops": CROPS, "cases": CASES, "tfjs": version,
        "weights": {n: test_assets.sha256(weights / n) for n in ("rvm.json", "rvm.bin")},
    }))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **packed)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
