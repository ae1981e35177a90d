"""The RVM module without real weights: shapes, state, fusion, checkpoint mapping."""

from __future__ import annotations

import pytest
import torch

from segmatte.models.person.configuration_rvm import RVMConfig
from segmatte.models.person.convert_torch import (
    CheckpointFormatError,
    from_upstream_state_dict,
    to_upstream_state_dict,
)
from segmatte.models.person.modeling_rvm import RVMModel, box_filter, downsampled_size
from segmatte.models.person.weights import load_weights


def _randomised(config: RVMConfig | None = None, seed: int = 0) -> RVMModel:
    """A model whose batch norms are not the identity, so fusing is really tested."""
    torch.manual_seed(seed)
    model = RVMModel(config)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> RVMModel:
    return _randomised()


@pytest.mark.parametrize(("h", "w", "ratio"), [(64, 96, 1.0), (63, 97, 1.0), (75, 101, 0.5)])
def test_output_and_state_shapes(model: RVMModel, h: int, w: int, ratio: float) -> None:
    src = torch.rand(2, 3, h, w)
    with torch.no_grad():
        out = model(src, None, ratio)
    assert out.alpha.shape == (2, 1, h, w)
    assert out.foreground.shape == (2, 3, h, w)
    assert 0 <= out.alpha.min() and out.alpha.max() <= 1
    sh, sw = downsampled_size(h, w, ratio)
    sizes = [(sh, sw)]
    for _ in range(4):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    expected = [(2, c, *sizes[i + 1]) for i, c in enumerate(model.config.state_channels)]
    assert [tuple(s.shape) for s in out.state] == expected


def test_state_none_is_zeros_and_state_matters(model: RVMModel) -> None:
    src = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        first = model(src, None)
        zeros = tuple(torch.zeros_like(s) for s in first.state)
        again = model(src, zeros)
        carried = model(src, first.state)
    torch.testing.assert_close(first.alpha, again.alpha)
    assert not torch.allclose(first.state[3], carried.state[3])


def test_fuse_batchnorm_keeps_outputs() -> None:
    ref = _randomised(seed=1)
    fused = _randomised(seed=1).fuse_batchnorm()
    src = torch.rand(1, 3, 48, 80)
    with torch.no_grad():
        a, b = ref(src, None, 0.5), fused(src, None, 0.5)
    torch.testing.assert_close(a.alpha, b.alpha, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(a.foreground, b.foreground, atol=1e-5, rtol=1e-4)


def test_box_filter_padding_modes() -> None:
    x = torch.ones(1, 1, 5, 6)
    same = box_filter(x, 1, "same")
    valid = box_filter(x, 1, "valid")
    assert same.shape == (1, 1, 5, 6) and valid.shape == (1, 1, 3, 4)
    assert same[0, 0, 2, 2] == 1 and abs(same[0, 0, 0, 0].item() - 4 / 9) < 1e-6
    assert torch.all(valid == 1)


def test_downsample_ratio_validated(model: RVMModel) -> None:
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 32, 32), None, 0.0)


def test_upstream_names_round_trip(tmp_path, model: RVMModel) -> None:
    state = to_upstream_state_dict(model)
    # Spot checks against the published checkpoint's naming (torchvision
    # MobileNetV3 Sequential indices, RVM's decoder/refiner Sequentials).
    for key in ("backbone.features.0.0.weight", "backbone.features.0.1.running_var",
                "backbone.features.1.block.0.0.weight",  # block 0 has no expansion
                "backbone.features.4.block.2.fc1.weight",  # SE after the depthwise
                "backbone.features.4.block.3.1.bias",
                "backbone.features.16.0.weight", "aspp.aspp1.0.weight", "aspp.aspp2.1.weight",
                "decoder.decode4.gru.ih.0.weight", "decoder.decode1.conv.1.running_mean",
                "decoder.decode0.conv.3.weight", "decoder.decode0.conv.4.bias",
                "project_mat.conv.weight", "project_seg.conv.bias",
                "refiner.box_filter.weight", "refiner.conv.6.bias"):
        assert key in state, key
    assert state["backbone.features.13.block.1.0.weight"].shape == (672, 1, 5, 5)  # depthwise
    path = tmp_path / "rvm_mobilenetv3.pth"
    torch.save(state, path)
    loaded = load_weights(path)
    src = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(src, None, 0.5).alpha, model(src, None, 0.5).alpha)


def test_checkpoint_with_unknown_keys_is_refused(model: RVMModel) -> None:
    state = to_upstream_state_dict(model)
    state["backbone.classifier.0.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointFormatError, match="classifier"):
        from_upstream_state_dict(state)
    del state["backbone.classifier.0.weight"]
    del state["refiner.conv.6.bias"]
    with pytest.raises(CheckpointFormatError, match="refiner.out.bias"):
        from_upstream_state_dict(state)


def test_tfjs_dequantisation(tmp_path) -> None:
    """uint8: q·scale + min; float16: a cast; unquantised int32 kept; shards concatenated."""
    import json

    import numpy as np

    from segmatte.models.person.convert_tfjs import TFJSFormatError, read_tfjs_weights

    q = np.array([0, 1, 255], np.uint8)
    h = np.array([0.5, -2.0], np.float16)
    i = np.array([7, -3], np.int32)
    blob = q.tobytes() + h.tobytes() + i.tobytes()
    (tmp_path / "a.bin").write_bytes(blob[:4])
    (tmp_path / "b.bin").write_bytes(blob[4:])
    spec = {"weightsManifest": [{"paths": ["a.bin", "b.bin"], "weights": [
        {"name": "q", "shape": [3], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.5}},
        {"name": "h", "shape": [1, 2], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "i", "shape": [2], "dtype": "int32"}]}]}
    (tmp_path / "m.json").write_text(json.dumps(spec))
    w = read_tfjs_weights(tmp_path / "m.json")
    np.testing.assert_array_equal(w["q"], [-1.0, -0.5, 126.5])
    np.testing.assert_array_equal(w["h"], [[0.5, -2.0]])
    assert w["h"].dtype == np.float32 and w["i"].dtype == np.int32
    np.testing.assert_array_equal(w["i"], [7, -3])
    (tmp_path / "b.bin").write_bytes(blob[4:] + b"\0")
    with pytest.raises(TFJSFormatError, match="bytes"):
        read_tfjs_weights(tmp_path / "m.json")


@pytest.mark.parametrize("refiner", ["fast_guided_filter", "deep_guided_filter"])
@pytest.mark.parametrize(("h", "w", "ratio"), [(75, 101, 0.5), (96, 128, 0.25)])
def test_alpha_only_forward_equals_the_full_forwards_alpha(refiner: str, h: int, w: int,
                                                           ratio: float) -> None:
    # The alpha-only path (no foreground layer asked for) must give the very
    # alpha the full four-channel refiner gives, on the real module.
    model = _randomised(RVMConfig(refiner=refiner), seed=2)
    with torch.no_grad():
        model.project_mat.bias[3] = 0.5  # alpha inside (0, 1): not hidden by the clamp
    src = torch.rand(1, 3, h, w)
    with torch.no_grad():
        full = model(src, None, ratio)
        alone = model(src, None, ratio, foreground=False)
    assert alone.foreground is None and full.foreground is not None
    assert 0.05 < full.alpha.mean() < 0.95
    assert (alone.alpha - full.alpha).abs().max().item() <= 1e-6
    for a, b in zip(alone.state, full.state, strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_alpha_only_refiner_equals_the_full_refiners_alpha() -> None:
    from segmatte.models.person.modeling_rvm import RVMFastGuidedFilterRefiner

    torch.manual_seed(3)
    for padding in ("same", "valid"):
        refiner = RVMFastGuidedFilterRefiner(RVMConfig(box_filter_padding=padding))
        fine, base = torch.rand(1, 3, 96, 160), torch.rand(1, 3, 48, 80)
        fgr, pha = torch.rand(1, 3, 48, 80) - 0.5, torch.rand(1, 1, 48, 80)
        full_fgr, full_pha = refiner(fine, base, fgr, pha, None)
        none, alone = refiner(fine, base, fgr, pha, None, foreground=False)
        assert none is None and full_fgr.shape == (1, 3, 96, 160)
        assert (alone - full_pha).abs().max().item() <= 1e-6
