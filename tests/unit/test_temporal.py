"""Reduce chatter: streaming contract, no smear on motion, less flicker against
exact ground truth."""

from __future__ import annotations

import mattegen
import numpy as np
import pytest

from segmatte.models import metrics
from segmatte.models.finish.temporal import ReduceChatter
from segmatte.models.frames import Matte


def _run(rc: ReduceChatter, images, mattes, numbers=None) -> list[Matte]:
    out: list[Matte] = []
    numbers = numbers or list(range(len(images)))
    for n, image, m in zip(numbers, images, mattes, strict=True):
        out += rc.push(image, Matte(n, {"matte": m}))
    return out + rc.flush()


def _textured(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    import cv2
    return np.clip(cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.5) * 1.5 - 0.25, 0, 1)


def test_streaming_latency_order_and_bounded_window() -> None:
    rc = ReduceChatter(0.5, radius=2)
    image = _textured()
    emitted = []
    for n in range(10):
        out = rc.push(image, Matte(n, {"matte": np.full((48, 64), 0.5, np.float32)}))
        emitted.append([m.number for m in out])
        assert rc.window_size <= 2 * 2 + 1
    assert emitted[:3] == [[], [], [0]]  # frame t comes out once t + R is in
    assert emitted[9] == [7]
    assert [m.number for m in rc.flush()] == [8, 9]
    assert rc.window_size == 0 and rc.flush() == []


def test_gap_or_cut_flushes_the_run() -> None:
    rc = ReduceChatter(1.0, radius=2)
    img = _textured()
    m = lambda n, v: Matte(n, {"matte": np.full((48, 64), v, np.float32)})  # noqa: E731
    assert rc.push(img, m(0, 0.0)) == [] and rc.push(img, m(1, 0.0)) == []
    out = rc.push(img, m(7, 1.0))  # a gap: frames 0, 1 finish without seeing 7
    assert [o.number for o in out] == [0, 1] and all(np.all(o.layer() == 0) for o in out)
    out = rc.push(img, m(8, 1.0), cut=True)
    assert [o.number for o in out] == [7] and np.all(out[0].layer() == 1)
    assert [o.number for o in rc.flush()] == [8]


def test_strength_zero_is_identity_and_layers_and_scores_kept() -> None:
    img = _textured()
    rng = np.random.default_rng(0)
    mattes = [Matte(n, {"a": rng.random((48, 64), dtype=np.float32),
                        "b": rng.random((48, 64), dtype=np.float32)}, {"a": 0.9}) for n in range(4)]
    rc = ReduceChatter(0.0, radius=1)
    out = [o for m in mattes for o in rc.push(img, m)] + rc.flush()
    for o, m in zip(out, mattes, strict=True):
        assert o.layers.keys() == {"a", "b"} and o.scores == {"a": 0.9}
        for k in m.layers:
            np.testing.assert_array_equal(o.layers[k], m.layers[k])
    rc = ReduceChatter(1.0, radius=1)
    out = [o for m in mattes for o in rc.push(img, m)] + rc.flush()
    assert out[1].layers.keys() == {"a", "b"} and out[1].scores == {"a": 0.9}


def test_static_shot_noise_is_averaged_away() -> None:
    img = _textured()
    rng = np.random.default_rng(3)
    truth = np.zeros((48, 64), np.float32)
    truth[10:38, 20:44] = 1
    noisy = [np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1).astype(np.float32) for _ in range(9)]
    out = _run(ReduceChatter(1.0, radius=2), [img] * 9, noisy)
    middle = out[4].layer()
    assert np.abs(middle - truth).std() < 0.6 * np.abs(noisy[4] - truth).std()


def test_photometric_check_stops_mixing_across_a_change_of_picture() -> None:
    a, b = _textured(seed=1), _textured(seed=2)
    zeros, ones = np.zeros((48, 64), np.float32), np.ones((48, 64), np.float32)
    out = _run(ReduceChatter(1.0, radius=2), [a, a, a, b, b, b], [zeros] * 3 + [ones] * 3)
    # No cut flag: the flow cannot explain b from a, so the weights vanish.
    # (blind averaging over the window would give 1/3 and 2/3 here)
    assert out[2].layer().mean() < 0.1 and out[3].layer().mean() > 0.9


def test_moving_foreground_is_not_smeared() -> None:
    seq = mattegen.composite_sequence(8, (120, 160), background="synthetic", velocity=(6.0, 1.0))
    truth = [c.alpha for c in seq]
    out = [m.layer() for m in _run(ReduceChatter(1.0, radius=2), [c.image for c in seq], truth)]
    naive = [np.mean(truth[max(0, i - 2):i + 3], axis=0) for i in range(8)]
    ours = np.mean([metrics.mad(o, t) for o, t in zip(out, truth, strict=True)])
    blind = np.mean([metrics.mad(o, t) for o, t in zip(naive, truth, strict=True)])
    assert ours < 3.0 and ours < 0.15 * blind


@pytest.mark.parametrize("background", ["synthetic", "vtest"])
def test_chatter_reduced_on_exact_ground_truth(background: str) -> None:
    if background == "vtest" and not mattegen.vtest_path().is_file():
        pytest.skip("vtest.avi absent: run python3 install/test_assets.py")
    seq = mattegen.composite_sequence(12, (120, 160), background=background)
    truth = [c.alpha for c in seq]
    noisy = mattegen.jittered(truth, amplitude=1.2, seed=1)
    out = [m.layer() for m in _run(ReduceChatter(0.8, radius=2), [c.image for c in seq], noisy)]
    before = metrics.dtssd_sequence(noisy, truth)
    after = metrics.dtssd_sequence(out, truth)
    mad_before = np.mean([metrics.mad(n, t) for n, t in zip(noisy, truth, strict=True)])
    mad_after = np.mean([metrics.mad(o, t) for o, t in zip(out, truth, strict=True)])
    assert after < 0.85 * before, (before, after)
    assert mad_after <= mad_before + 0.5, (mad_before, mad_after)


def test_arguments_validated() -> None:
    with pytest.raises(ValueError):
        ReduceChatter(1.5)
    with pytest.raises(ValueError):
        ReduceChatter(0.5, radius=0)


def test_pipeline_adapter_streams_pairs() -> None:
    from segmatte.models.finish.temporal import reduce_chatter_stream
    from segmatte.models.frames import Frame

    img = _textured()
    pairs = ((Frame(n, img), Matte(n, {"matte": np.full((48, 64), 0.25, np.float32)})) for n in range(5))
    out = list(reduce_chatter_stream(pairs, strength=1.0, radius=2))
    assert [m.number for m in out] == [0, 1, 2, 3, 4]
    for m in out:
        np.testing.assert_allclose(m.layer(), 0.25, atol=1e-6)
