"""``refine_solve``: the guided refine's closed-form solve of hard edges, on by default,
off for speed — through the spec, the CLI and the finishing stage."""

from __future__ import annotations

import argparse

import numpy as np

from segmatte.models.finish.options import FinishOptions
from segmatte.models.finish.refine import refine_guided
from segmatte.models.finish.stage import FinishStage
from segmatte.models.frames import Frame, Matte
from segmatte.server.commands import matte as matte_command
from segmatte.server.spec import parse_spec


def _disc(r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    return np.clip((r - np.hypot(yy - 24, xx - 32)) / 4 + 0.5, 0, 1).astype(np.float32)


def test_the_stage_solves_by_default_and_filters_only_when_asked() -> None:
    alpha = _disc(14.0)
    image = (alpha[..., None] * np.array([0.8, 0.3, 0.2]) +
             (1 - alpha[..., None]) * np.array([0.2, 0.7, 0.3])).astype(np.float32)
    hard = (_disc(17.0) >= 0.5).astype(np.float32)

    def staged(options: FinishOptions) -> np.ndarray:
        return FinishStage(options).push(Frame(0, image), Matte(0, {"m": hard}))[0].layers["m"]

    solved = staged(FinishOptions(refine="guided"))
    filtered = staged(FinishOptions(refine="guided", refine_solve=False))
    np.testing.assert_allclose(solved, refine_guided(image, hard), atol=1e-6)
    np.testing.assert_allclose(filtered, refine_guided(image, hard, solve=False), atol=1e-6)
    assert np.abs(solved - filtered).max() > 0.05


def test_the_cli_flag_and_the_digest(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    matte_command.register(parser.add_subparsers())
    clip = tmp_path / "plate.0001.exr"
    base = ["matte", str(clip), "--engine", "key", "--refine", "guided", "--out", str(tmp_path)]
    on = matte_command.spec_from_args(parser.parse_args(base))
    cli_off = matte_command.spec_from_args(parser.parse_args([*base, "--no-refine-solve"]))
    assert on.finish.refine_solve is True and cli_off.finish.refine_solve is False
    # A spec written before the option existed keeps its digest (these two are what
    # segmatte computed for it then, at 64bac03); turning the solve off is another job.
    plain = {"source": "/shots/a010/plate.mov", "engine": "key",
             "output": {"folder": "/shots/a010/matte"}, "finish": {"refine": "guided"}}
    assert (parse_spec(plain).digest(), parse_spec(plain).settings_digest()) == \
        ("9e5e7522b78a8566", "da86c8761efff167")
    off = parse_spec({**plain, "finish": {"refine": "guided", "refine_solve": False}})
    assert off.digest() != "9e5e7522b78a8566" and off.settings_digest() != "da86c8761efff167"
