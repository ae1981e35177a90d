"""Our RVM module with the published TF.js weights against the TF.js graph itself.

``tests/data/rvm/reference.npz`` holds real vtest.avi crops and what the TF.js
graph (run in node by ``tools/rvm_reference``) output for them over three
consecutive frames with the recurrent state carried. Needs the weights
(``python3 install/test_assets.py``); skips without them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from segmatte.models.person.weights import assets_root

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "rvm" / "reference.npz"
WEIGHTS = assets_root() / "rvm" / "rvm.json"

pytestmark = [
    pytest.mark.assets,
    pytest.mark.skipif(not WEIGHTS.is_file() or not (WEIGHTS.parent / "rvm.bin").is_file(),
                       reason=f"RVM TF.js weights absent from {WEIGHTS.parent}: "
                              "run python3 install/test_assets.py"),
]


@pytest.fixture(scope="module")
def reference() -> np.lib.npyio.NpzFile:
    return np.load(REFERENCE)


@pytest.fixture(scope="module")
def model():
    from segmatte.models.person.convert_tfjs import load_tfjs
    return load_tfjs(WEIGHTS)


def test_reference_made_with_these_weights(reference) -> None:
    meta = json.loads(str(reference["meta"]))
    for name, digest in meta["weights"].items():
        assert hashlib.sha256((WEIGHTS.parent / name).read_bytes()).hexdigest() == digest


def test_export_config(model) -> None:
    assert model.config.refiner == "fast_guided_filter"
    assert model.config.box_filter_padding == "valid"
    # The export carries the ImageNet normalisation quantised to uint8.
    np.testing.assert_allclose(model.config.image_mean, (0.485, 0.456, 0.406), atol=1e-3)
    np.testing.assert_allclose(model.config.image_std, (0.229, 0.224, 0.225), atol=1e-4)


@pytest.mark.parametrize("case", ["even_r050", "even_r100", "odd_r060"])
def test_matches_tfjs_graph_over_frames(reference, model, case: str) -> None:
    inputs = reference[f"{reference[f'{case}/crop']}/inputs"]
    want_alpha = reference[f"{case}/alpha_u16"].astype(np.float32) / 65535
    want_last_fgr = reference[f"{case}/last_fgr_u8"].astype(np.float32) / 255
    ratio = float(reference[f"{case}/ratio"])
    state = None
    for i, frame in enumerate(inputs):
        src = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            out = model(src, state, ratio)
        state = out.state
        alpha = out.alpha[0, 0].numpy()
        mad = np.abs(alpha - want_alpha[i]).mean()
        assert mad <= 1e-3, f"{case} frame {i}: mean |Δalpha| {mad:.2e}"
        assert np.abs(alpha - want_alpha[i]).max() < 0.05
        assert want_alpha[i].mean() > 0.02  # the crops hold people: not a trivial match
    fgr = out.foreground[0].permute(1, 2, 0).numpy()
    assert np.abs(fgr - want_last_fgr).mean() < 3e-3
