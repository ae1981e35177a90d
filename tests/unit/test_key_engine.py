"""The key engine on synthetic frames with exact ground truth, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from segmatte.models import registry
from segmatte.models.engine import EngineError
from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.key.engine_key import KeyEngine, KeyOptions

H, W = 48, 64
CLIP = ClipInfo(width=W, height=H, fps=24.0, first=1001, last=1010)
GREEN = (0.1, 0.8, 0.15)
BLUE = (0.1, 0.2, 0.85)


def plate(color, h=H, w=W) -> np.ndarray:
    img = np.empty((h, w, 3), np.float32)
    img[:] = color
    return img


def disc_mask(h=H, w=W, cy=24, cx=30, r=12) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def screen_with_objects(screen) -> tuple[np.ndarray, np.ndarray]:
    """A screen with a red disc and a grey rectangle; returns (image, object mask)."""
    img = plate(screen)
    disc = disc_mask()
    img[disc] = (0.85, 0.25, 0.1)
    img[5:15, 45:60] = (0.4, 0.4, 0.4)
    mask = disc.copy()
    mask[5:15, 45:60] = True
    return img, mask


def key(image: np.ndarray, number: int = 1001, clip=CLIP, fetch=None, **options) -> np.ndarray:
    engine = registry.get("key")(options)
    engine.open(clip, fetch=fetch)
    [matte] = list(engine.stream([Frame(number, image)]))
    assert matte.number == number and list(matte.layers) == ["matte"]
    alpha = matte.layer()
    assert alpha.dtype == np.float32 and alpha.shape == image.shape[:2]
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    return alpha


# ----------------------------------------------------------------- registry


def test_registry_finds_the_key_engine():
    assert registry.get("key") is KeyEngine
    entry = {e.name: e for e in registry.engines()}["key"]
    assert entry.cls is KeyEngine and entry.description
    assert KeyEngine.temporal is False and KeyEngine.needs_objects is False


def test_every_option_is_described():
    props = KeyOptions.model_json_schema()["properties"]
    assert set(props) == {"mode", "screen", "keyer", "tolerance", "screen_field", "balance", "gain",
                          "grain_blur", "linear", "foreground", "despill", "softness", "spill",
                          "clean_plate", "threshold"}
    assert all(p.get("description") for p in props.values())


# ----------------------------------------------------------------- chroma


@pytest.mark.parametrize("screen, color", [("green", GREEN), ("blue", BLUE)])
def test_chroma_key_on_a_screen_with_objects(screen, color):
    img, mask = screen_with_objects(color)
    alpha = key(img, screen=screen)
    assert (alpha[mask] == 1.0).all()
    assert (alpha[~mask] == 0.0).all()


def test_pure_green_screen():
    img, mask = screen_with_objects((0.0, 1.0, 0.0))
    alpha = key(img)
    assert (alpha[mask] == 1.0).all() and (alpha[~mask] == 0.0).all()


def test_green_preset_measures_a_dim_screen_per_frame():
    img, mask = screen_with_objects((0.05, 0.35, 0.08))
    alpha = key(img, screen="green")
    assert (alpha[mask] == 1.0).all() and (alpha[~mask] == 0.0).all()


def test_custom_screen_colour():
    screen = (0.75, 0.2, 0.3)  # a red screen, keyed on its own colour
    img = plate(screen)
    disc = disc_mask()
    img[disc] = (0.2, 0.6, 0.3)
    alpha = key(img, screen=list(screen))
    assert (alpha[disc] == 1.0).all() and (alpha[~disc] == 0.0).all()


def test_custom_screen_strength_is_fixed_and_tolerance_absorbs_weaker_screen():
    img = plate(GREEN)
    img[:, :32] = (0.1, 0.7, 0.15)        # screen in shade: dominance 0.55 of 0.65 (k ≈ 0.85)
    # Code values (linear=False): the shade's k is 0.85 there; no field for a given colour.
    strict = key(img, screen=list(GREEN), tolerance=0.0, softness=0.1, spill=0.0, linear=False)
    loose = key(img, screen=list(GREEN), tolerance=0.2, softness=0.1, spill=0.0, linear=False)
    assert (strict[:, :32] == 1.0).all() and (strict[:, 32:] == 0.0).all()
    assert (loose == 0.0).all()


def test_mid_tone_edge_pixel_gets_intermediate_alpha():
    img, _ = screen_with_objects(GREEN)
    grey = np.array([0.4, 0.4, 0.4], np.float32)
    img[24, 2] = 0.5 * grey + 0.5 * np.array(GREEN, np.float32)  # half-covered screen pixel
    alpha = key(img)
    assert 0.2 < alpha[24, 2] < 0.95
    # The mix above is of code values, so key code values: alpha = coverage.
    linear = key(img, tolerance=0.0, softness=1.0, spill=0.0, linear=False)
    assert linear[24, 2] == pytest.approx(0.5, abs=1e-5)


def test_spill_tinted_foreground_is_not_keyed_out():
    img, mask = screen_with_objects(GREEN)
    img[20:28, 26:34] = (0.45, 0.6, 0.45)  # grey shirt lit green by the screen
    default = key(img)
    assert default[20:28, 26:34].min() > 0.95
    # The simple keyer has no core matte: its spill bend alone keeps the shirt.
    no_spill = key(img, keyer="simple", spill=0.0)[24, 30]
    full_spill = key(img, keyer="simple", spill=1.0)[24, 30]
    assert 0.0 < no_spill < full_spill == 1.0


def test_hard_chroma_edge_with_zero_softness():
    img, _ = screen_with_objects(GREEN)
    img[24, 2] = 0.5 * np.array([0.4] * 3) + 0.5 * np.array(GREEN)
    alpha = key(img, softness=0.0)
    assert set(np.unique(alpha)) <= {0.0, 1.0}


def test_stream_is_lazy_and_keeps_frame_numbers():
    img, _ = screen_with_objects(GREEN)
    pulled = []

    def frames():
        for n in range(1001, 1004):
            pulled.append(n)
            yield Frame(n, img)

    engine = KeyEngine()
    engine.open(CLIP)
    it = engine.stream(frames())
    assert next(it).number == 1001 and pulled == [1001]
    assert [m.number for m in it] == [1002, 1003]


def test_explicit_cpu_device():
    img, mask = screen_with_objects(GREEN)
    engine = KeyEngine({"screen": "green"}, device="cpu")
    engine.open(CLIP)
    alpha = next(engine.stream([Frame(1, img)])).layer()
    assert (alpha[mask] == 1).all()


# ----------------------------------------------------------------- difference


def background() -> np.ndarray:
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    return np.stack([xx / W, yy / H, np.full_like(xx, 0.3)], axis=-1).astype(np.float32)


def with_object(bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    img = bg.copy()
    disc = disc_mask()
    img[disc] = (0.95, 0.9, 0.95)  # at least 0.7 away from the plate in blue
    return img, disc


def test_difference_key_with_plate_from_fetch():
    bg = background()
    img, disc = with_object(bg)
    fetched = []

    def fetch(n: int) -> Frame:
        fetched.append(n)
        return Frame(n, bg)

    noise = np.random.default_rng(0).uniform(-0.02, 0.02, img.shape).astype(np.float32)
    alpha = key(np.clip(img + noise, 0, 1), fetch=fetch, mode="difference", clean_plate=990)
    assert fetched == [990]
    assert (alpha[disc] == 1.0).all() and (alpha[~disc] == 0.0).all()


def write_image(path, rgb: np.ndarray) -> None:
    import OpenImageIO as oiio

    h, w, c = rgb.shape
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), oiio.ImageSpec(w, h, c, "uint8"))
    assert out.write_image(np.round(rgb * 255).astype(np.uint8))
    out.close()


def test_difference_key_with_plate_from_file(tmp_path):
    bg = np.round(background() * 255) / 255  # what an 8-bit PNG holds exactly
    path = tmp_path / "plate.png"
    write_image(path, bg)
    img, disc = with_object(bg.astype(np.float32))
    alpha = key(img, mode="difference", clean_plate=str(path))
    assert (alpha[disc] == 1.0).all() and (alpha[~disc] == 0.0).all()


def test_grey_plate_file_is_read_as_rgb(tmp_path):
    path = tmp_path / "grey.png"
    write_image(path, np.full((H, W, 1), 0.4, np.float32))
    img = plate((0.4, 0.4, 0.4))
    img[:10] = 0.9
    alpha = key(img, mode="difference", clean_plate=str(path))
    assert (alpha[:10] == 1.0).all() and (alpha[10:] == 0.0).all()


def test_difference_soft_edge():
    bg = plate((0.5, 0.5, 0.5))
    img = bg.copy()
    img[0, 0] = 0.5 + 0.15 / 1.0  # d = 0.15 (all channels): halfway up a 0.1-0.2 ramp
    alpha = key(img, fetch=lambda n: Frame(n, bg), mode="difference", clean_plate=1,
                threshold=0.1, softness=0.1)
    assert alpha[0, 0] == pytest.approx(0.5, abs=1e-5)


# ----------------------------------------------------------------- errors


def test_difference_without_clean_plate():
    # Refused by the options themselves, so a job fails at the door.
    with pytest.raises(ValidationError, match="clean_plate"):
        KeyOptions(mode="difference")


def test_clean_plate_frame_without_fetch():
    engine = KeyEngine({"mode": "difference", "clean_plate": 3})
    with pytest.raises(EngineError, match="fetch"):
        engine.open(CLIP)


def test_clean_plate_fetch_failure_is_an_engine_error():
    def fetch(n):
        raise KeyError(n)

    engine = KeyEngine({"mode": "difference", "clean_plate": 3})
    with pytest.raises(EngineError, match="source frame 3"):
        engine.open(CLIP, fetch=fetch)


def test_clean_plate_size_must_match_the_clip(tmp_path):
    engine = KeyEngine({"mode": "difference", "clean_plate": 3})
    with pytest.raises(EngineError, match="32×24 but the clip is 64×48"):
        engine.open(CLIP, fetch=lambda n: Frame(n, plate((0, 0, 0), 24, 32)))
    path = tmp_path / "small.png"
    write_image(path, plate((0.2, 0.2, 0.2), 24, 32))
    engine = KeyEngine({"mode": "difference", "clean_plate": str(path)})
    with pytest.raises(EngineError, match="but the clip is"):
        engine.open(CLIP)


def test_missing_clean_plate_file(tmp_path):
    engine = KeyEngine({"mode": "difference", "clean_plate": str(tmp_path / "nope.png")})
    with pytest.raises(EngineError, match="cannot read the clean plate"):
        engine.open(CLIP)


def test_streaming_a_difference_key_before_open():
    engine = KeyEngine({"mode": "difference", "clean_plate": 3})
    with pytest.raises(EngineError, match="before streaming"):
        next(engine.stream([Frame(1, background())]))


def test_frame_size_must_match_the_plate():
    engine = KeyEngine({"mode": "difference", "clean_plate": 3})
    engine.open(CLIP, fetch=lambda n: Frame(n, background()))
    with pytest.raises(EngineError, match="frame 1005 is 32×24"):
        next(engine.stream([Frame(1005, plate((0, 0, 0), 24, 32))]))


def test_frame_must_be_rgb():
    engine = KeyEngine()
    engine.open(CLIP)
    with pytest.raises(EngineError, match="frame 7 is not"):
        next(engine.stream([Frame(7, np.zeros((H, W), np.float32))]))


@pytest.mark.parametrize("options, field", [
    ({"mode": "luma"}, "mode"),
    ({"screen": "red"}, "screen"),
    ({"screen": [1.2, 0.0, 0.0]}, "screen"),
    ({"screen": [0.5, 0.5]}, "screen"),
    ({"screen": [0.5, 0.52, 0.5]}, "no dominant channel"),
    ({"tolerance": -0.1}, "tolerance"),
    ({"tolerance": 1.0}, "tolerance"),
    ({"softness": 1.5}, "softness"),
    ({"spill": -1}, "spill"),
    ({"spill": 2}, "spill"),
    ({"threshold": 1.0}, "threshold"),
    ({"clean_plate": True}, "clean_plate"),
    ({"clean_plate": 1.5}, "clean_plate"),
    ({"clean_plate": ""}, "clean_plate"),
    ({"colour": "green"}, "colour"),
])
def test_bad_options_are_refused_clearly(options, field):
    with pytest.raises(ValidationError, match=field):
        KeyEngine(options)


# ----------------------------------------------------------------- device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_key_on_cuda_matches_cpu():
    img, _ = screen_with_objects(GREEN)
    img[24, 2] = 0.5 * np.array([0.4] * 3) + 0.5 * np.array(GREEN)
    out = {}
    for device in ("cpu", "cuda"):
        engine = KeyEngine(device=device)
        engine.open(CLIP)
        out[device] = next(engine.stream([Frame(1, img)])).layer()
    np.testing.assert_allclose(out["cuda"], out["cpu"], atol=1e-5)
