"""The screen keyer (the key engine's default) on an unevenly lit, grainy green
screen with spill and thin strands, made from exact-alpha plates
(``mattegen.synthetic_plates``: no assets needed)."""

from __future__ import annotations

import mattegen
import numpy as np
import pytest
import torch

from segmatte.models import metrics
from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.key import keyers
from segmatte.models.key.engine_key import KeyEngine

SIZE = (96, 128)


@pytest.fixture(scope="module")
def plates() -> list[mattegen.Plate]:
    return mattegen.synthetic_plates(3, SIZE)


@pytest.fixture(scope="module")
def grainy(plates) -> list[mattegen.RealComposite]:
    return mattegen.green_screen_composites(plates, grain=0.02, spill=0.15, falloff=0.55)


def run(comps, **options) -> list[dict[str, np.ndarray]]:
    h, w = comps[0].alpha.shape
    engine = KeyEngine(options)
    engine.open(ClipInfo(w, h, 24.0, 0, len(comps) - 1))
    return [m.layers for m in engine.stream(Frame(c.number, c.image) for c in comps)]


def alphas(comps, **options) -> list[np.ndarray]:
    return [layers["matte"] for layers in run(comps, **options)]


def test_the_screen_field_follows_uneven_light(plates) -> None:
    comps = mattegen.green_screen_composites(plates, grain=0.0, spill=0.0, falloff=0.5)
    c = comps[1]
    lin = keyers.srgb_to_linear(torch.from_numpy(c.image))
    mask = keyers.screen_pixels(lin, 1)
    # Screen, not subject: at most a thin strand's faint pixels (alpha < 0.3) get in.
    assert mask.float().mean() > 0.5 and not bool(mask[torch.from_numpy(c.alpha) > 0.3].any())
    field = keyers.screen_field(lin, mask).numpy()
    true = mattegen.uneven_screen(SIZE, 1, falloff=0.5)
    rel = np.abs(field[..., 1] - true[..., 1]) / true[..., 1]
    # Right on the screen, and close under the subject (filled from around it).
    assert np.median(rel[c.alpha == 0]) < 0.02 and rel.max() < 0.12
    # The screen's green varies by nearly 2× over the frame: one colour could not match it.
    assert true[..., 1].max() / true[..., 1].min() > 1.7


def test_default_key_on_an_uneven_grainy_screen_with_strands(grainy) -> None:
    got = alphas(grainy)
    old = alphas(grainy, keyer="simple")
    for c, a, s in zip(grainy, got, old, strict=True):
        t = c.alpha
        assert metrics.mad(a, t) < 12 and metrics.mad(a, t) < 0.5 * metrics.mad(s, t)
        assert metrics.jaccard(a, t) >= 0.88
        # Grain on the darker, falling-off screen does not come through ...
        assert (a[t == 0] > 0.02).mean() < 0.03
        # ... the opaque body stays opaque ...
        assert (a[t >= 0.999] >= 0.98).all()
        # ... and the strands (a third of a pixel wide) are kept, not keyed away.
        strands = (t > 0.05) & (t < 0.6)
        assert strands.sum() > 50
        kept = a[strands].sum() / t[strands].sum()
        assert 0.8 < kept < 1.4


def test_linear_light_keys_soft_edges_better_than_code_values(grainy) -> None:
    lin = alphas(grainy)
    code = alphas(grainy, linear=False)
    for c, a, b in zip(grainy, lin, code, strict=True):
        assert metrics.edge_mad(a, c.alpha) < metrics.edge_mad(b, c.alpha)


def test_grain_sets_the_tolerance(plates) -> None:
    clean = mattegen.green_screen_composites(plates, grain=0.0)[0]
    noisy = mattegen.green_screen_composites(plates, grain=0.03)[0]
    k_clean = keyers.screen_key(torch.from_numpy(clean.image), 1)
    k_noisy = keyers.screen_key(torch.from_numpy(noisy.image), 1)
    assert k_clean.grain < 0.01 and k_noisy.grain > 0.02
    assert k_noisy.tolerance > 2 * k_clean.tolerance
    assert (k_clean.alpha.numpy()[clean.alpha == 0] == 0).mean() > 0.99
    fixed = keyers.screen_key(torch.from_numpy(noisy.image), 1, tolerance=0.0)
    bg = noisy.alpha == 0
    assert (fixed.alpha.numpy()[bg] > 0.02).mean() > 3 * (k_noisy.alpha.numpy()[bg] > 0.02).mean()


def test_gain_keys_more_and_balance_changes_the_key(grainy) -> None:
    base = alphas(grainy, tolerance=0.05)
    more = alphas(grainy, tolerance=0.05, gain=1.3)
    for a, b in zip(base, more, strict=True):
        assert (b <= a + 1e-6).all() and b.sum() < a.sum()
    mean = alphas(grainy, balance=0.0)
    assert any(np.abs(m - a).max() > 0.05 for m, a in zip(mean, alphas(grainy), strict=True))


def test_foreground_output_is_despilled(plates) -> None:
    # A neutral grey subject: the screen's spill shows as green above red and blue.
    grey = mattegen.srgb_to_linear(np.full(SIZE + (3,), 0.45, np.float32))
    comps = mattegen.green_screen_composites([mattegen.Plate(p.alpha, grey) for p in plates],
                                             grain=0.01, spill=0.3)
    true = mattegen.linear_to_srgb(grey)

    def excess(x: np.ndarray) -> np.ndarray:
        return x[..., 1] - np.maximum(x[..., 0], x[..., 2])

    def green_over(x: np.ndarray, where: np.ndarray) -> float:
        return float(excess(x)[where].mean())

    for c, got in zip(comps, run(comps, foreground=True), strict=True):
        assert set(got) == {"matte", "foreground.R", "foreground.G", "foreground.B"}
        fg = np.stack([got[f"foreground.{ch}"] for ch in "RGB"], -1)
        assert fg.shape == c.image.shape and fg.dtype == np.float32
        body = c.alpha >= 0.999
        spilled = body & (excess(c.image) > 0.02)  # the body near its edge, lit by the screen ...
        assert spilled.sum() > 30
        assert abs(green_over(fg, spilled)) < 0.01  # ... is grey again in the foreground
        edge = (c.alpha > 0.3) & (c.alpha < 0.999) & (got["matte"] > 0.3)
        # Edges: the screen's light is unmixed, the subject's own grey is left.
        assert np.abs(fg - true)[edge].mean() < 0.5 * np.abs(c.image - true)[edge].mean()
        assert (fg[got["matte"] == 0] == 0).all()
    assert set(run(comps[:1])[0]) == {"matte"}
    weak = run(comps[:1], foreground=True, despill=0.0)[0]
    spilled = (comps[0].alpha >= 0.999) & (excess(comps[0].image) > 0.02)
    assert green_over(np.stack([weak[f"foreground.{ch}"] for ch in "RGB"], -1), spilled) > 0.02


def test_a_frame_without_screen_is_all_subject() -> None:
    grey = np.full((32, 40, 3), 0.5, np.float32)
    assert (alphas([mattegen.RealComposite(0, grey, np.ones((32, 40), np.float32), grey)]) [0] == 1).all()
