"""The person engine's behaviour, with randomly initialised weights (no download)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segmatte.models.engine import EngineError
from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.person.convert_torch import to_upstream_state_dict
from segmatte.models.person.engine_person import (
    PersonEngine,
    PersonOptions,
    auto_downsample_ratio,
    histogram_distance,
)
from segmatte.models.person.modeling_rvm import RVMModel
from segmatte.models.person.weights import resolve_weights


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    model = RVMModel().eval()
    with torch.no_grad():  # centre the random alpha in (0, 1) so it is not all clamped
        model.project_mat.bias[3] = 0.5
        model.refiner.out.bias[3] = 0.5
    path = tmp_path_factory.mktemp("rvm") / "rvm_mobilenetv3.pth"
    torch.save(to_upstream_state_dict(model), path)
    return str(path)


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGMATTE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("SEGMATTE_TEST_ASSETS", str(tmp_path / "assets"))
    return tmp_path


def _clip(w: int = 64, h: int = 48, first: int = 0, last: int = 9) -> ClipInfo:
    return ClipInfo(w, h, 24.0, first, last)


def _frame(n: int, value: float | None = None, w: int = 64, h: int = 48, seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed + n)
    image = rng.random((h, w, 3), dtype=np.float32) * 0.2 + 0.4
    if value is not None:
        image[:] = value
    return Frame(n, image)


def test_registered_and_temporal() -> None:
    from segmatte.models import registry
    assert registry.get("person") is PersonEngine
    assert PersonEngine.temporal is True and PersonEngine.needs_objects is False
    assert "GPL-3.0" in PersonEngine.description and "opt-in" in PersonEngine.description


def test_auto_downsample_rule() -> None:
    assert auto_downsample_ratio(1080, 1920) == pytest.approx(512 / 1920)
    assert auto_downsample_ratio(2160, 3840) == pytest.approx(512 / 3840)
    assert auto_downsample_ratio(288, 384) == 1.0
    assert PersonOptions(downsample_ratio=0.4).ratio_for(1080, 1920) == 0.4
    with pytest.raises(ValueError):  # refused at the door (pydantic)
        PersonOptions(downsample_ratio=1.5)
    with pytest.raises(ValueError):
        PersonOptions(downsample_ratio=0)


def test_missing_weights_say_how_to_get_them(no_weights) -> None:
    with pytest.raises(EngineError) as err:
        resolve_weights()
    msg = str(err.value)
    assert "segmatte models pull rvm-mobilenetv3 --accept-licence" in msg
    assert "python3 install/test_assets.py" in msg and "GPL-3.0" in msg
    engine = PersonEngine()
    with pytest.raises(EngineError, match="pull rvm-mobilenetv3"):
        engine.open(_clip())
    with pytest.raises(EngineError, match="not found"):
        resolve_weights(no_weights / "nowhere")


def test_weights_found_in_cache_and_assets(no_weights, checkpoint) -> None:
    assets = no_weights / "assets" / "rvm"
    assets.mkdir(parents=True)
    (assets / "rvm.json").write_text("{}")
    assert resolve_weights() == assets / "rvm.json"
    cache = no_weights / "weights" / "rvm-mobilenetv3"
    cache.mkdir(parents=True)
    (cache / "rvm_mobilenetv3.pth").write_bytes(b"")
    assert resolve_weights() == cache / "rvm_mobilenetv3.pth"  # the cache comes first
    assert resolve_weights(checkpoint) == __import__("pathlib").Path(checkpoint)


def test_stream_yields_source_resolution_mattes(checkpoint) -> None:
    engine = PersonEngine({"weights": checkpoint, "downsample_ratio": 0.5, "foreground": True})
    engine.open(_clip())
    mattes = list(engine.stream(_frame(n) for n in range(3)))
    assert [m.number for m in mattes] == [0, 1, 2]
    for m in mattes:
        assert set(m.layers) == {"matte", "foreground.R", "foreground.G", "foreground.B"}
        assert all(v.shape == (48, 64) and v.dtype == np.float32 for v in m.layers.values())
        a = m.layer("matte")
        assert a.min() >= 0 and a.max() <= 1
    assert engine.resets == [0]


def _run(engine: PersonEngine, frames: list[Frame]) -> list[np.ndarray]:
    return [engine.matte(f).layer() for f in frames]


def test_state_carried_and_reset_on_gap_and_reopen(checkpoint) -> None:
    opts = {"weights": checkpoint, "downsample_ratio": 1.0, "snap": 0.0, "reset_on_cut": False}
    engine = PersonEngine(opts)
    engine.open(_clip())
    fresh = _run(engine, [_frame(5)])[0]
    engine.open(_clip())
    carried = _run(engine, [_frame(4), _frame(5)])[1]
    assert np.abs(carried - fresh).max() > 1e-6  # the state from frame 4 matters
    engine.open(_clip())
    jumped = _run(engine, [_frame(1), _frame(5)])[1]  # 1 → 5 is a gap: start afresh
    np.testing.assert_allclose(jumped, fresh, atol=1e-6)
    assert engine.resets == [1, 5]
    engine.reset()
    np.testing.assert_allclose(_run(engine, [_frame(5)])[0], fresh, atol=1e-6)


def test_reset_on_cut(checkpoint) -> None:
    engine = PersonEngine({"weights": checkpoint, "downsample_ratio": 1.0, "cut_threshold": 0.5})
    engine.open(_clip())
    frames = [_frame(0), _frame(1), _frame(2, value=0.05), _frame(3, value=0.05)]
    assert histogram_distance(frames[0].image, frames[1].image) < 0.2
    assert histogram_distance(frames[1].image, frames[2].image) > 0.9
    _run(engine, frames)
    assert engine.resets == [0, 2]
    engine = PersonEngine({"weights": checkpoint, "reset_on_cut": False})
    engine.open(_clip())
    _run(engine, frames)
    assert engine.resets == [0]


def test_snap_makes_exact_zeros_and_ones(checkpoint) -> None:
    engine = PersonEngine({"weights": checkpoint, "snap": 0.3})
    engine.open(_clip())
    a = engine.matte(_frame(0)).layer()
    assert np.all((a == 0) | (a == 1) | ((a >= 0.3) & (a <= 0.7)))


def test_bad_device_is_an_engine_error(checkpoint) -> None:
    engine = PersonEngine({"weights": checkpoint, "device": "cuda:0"})
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(EngineError, match="CUDA"):
        engine.open(_clip())


def test_cut_detector_on_real_footage() -> None:
    import cv2

    from segmatte.models.person.weights import assets_root

    vtest, megamind = assets_root() / "vtest.avi", assets_root() / "Megamind.avi"
    if not vtest.is_file() or not megamind.is_file():
        pytest.skip("test footage absent: run python3 install/test_assets.py")

    def read(path, count: int) -> list[np.ndarray]:
        cap = cv2.VideoCapture(str(path))
        out = []
        for _ in range(count):
            ok, bgr = cap.read()
            assert ok
            out.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (384, 288)).astype(np.float32) / 255)
        return out

    a, b = read(vtest, 12), read(megamind, 2)
    same_shot = max(histogram_distance(x, y) for x, y in zip(a, a[1:], strict=False))
    assert same_shot < 0.1  # walkers moving: far below the default threshold (0.5)
    assert histogram_distance(a[-1], b[0]) > 0.5  # a cut between the two clips


def test_network_input_is_canonical_channels_last_and_shares_memory() -> None:
    from segmatte.models.person.engine_person import network_input

    image = np.random.default_rng(0).random((48, 64, 3), dtype=np.float32)
    x = network_input(image)
    assert x.shape == (1, 3, 48, 64)
    assert x.stride() == torch.empty(1, 3, 48, 64).contiguous(
        memory_format=torch.channels_last).stride()  # (H·W·3, 1, W·3, 3): the fast layout
    assert x.data_ptr() == image.ctypes.data  # no copy on the CPU
    np.testing.assert_array_equal(x[0].permute(1, 2, 0).numpy(), image)
