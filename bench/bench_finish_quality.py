"""How good the key engine and ``--refine guided`` are, on real footage with exact alpha.

Composites are made from real frames (``tests/mattegen.py``): the subject
is the person engine's matte of real frames, levels 0.15-0.85 (Megamind.avi:
a close-up; vtest.avi: small distant people) plus sub-pixel hair strands, the
foreground colour is the real frame; it is composited in linear light over

- an unevenly lit (bright corner falling off to 55 %), grainy green screen
  whose light spills onto the subject (the key engine's test), and
- real background footage where nobody walks (the person engine's test).

Everything runs at the CLI defaults (``--engine key``, ``--engine person``,
``--refine guided``), plus a deliberately coarse matte (the true matte at 1/6
resolution, thresholded: what a low-resolution segmenter gives) and two
tracker-like hard masks (the true matte thresholded at 0.5, and that mask's
edge pulled in by 2 px), which refine must not make worse either. Prints one
JSON object: per clip and matte, MAD ×1e3, edge-band MAD ×1e3 (within 3 px of
the true edge), IoU at 0.5 and dtSSD ×1e2, before and after refine, with
the goals of issue #16 checked; wall and CPU seconds beside them. Needs the
test assets (``python3 install/test_assets.py``: the footage and the RVM
TF.js weights).

    python bench/bench_finish_quality.py [--frames 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import mattegen  # noqa: E402

from segmatte.models import metrics  # noqa: E402
from segmatte.models.finish.options import FinishOptions  # noqa: E402
from segmatte.models.finish.stage import FinishStage  # noqa: E402
from segmatte.models.frames import ClipInfo, Frame, Matte  # noqa: E402
from segmatte.models.key.engine_key import KeyEngine  # noqa: E402

CLIPS = {
    # name: (asset, first frame, size (w, h), crop of the source, background's first vtest frame)
    "closeup": ("Megamind.avi", 100, (272, 352), mattegen.MEGAMIND_HERO, 60),
    "distant": ("vtest.avi", 100, (384, 288), None, 150),
}


def key_mattes(comps: list[mattegen.RealComposite]) -> list[np.ndarray]:
    h, w = comps[0].alpha.shape
    engine = KeyEngine()
    engine.open(ClipInfo(w, h, 24.0, 0, len(comps) - 1))
    return [m.layers["matte"] for m in engine.stream(Frame(c.number, c.image) for c in comps)]


def refine(comps: list[mattegen.RealComposite], mattes: list[np.ndarray]) -> list[np.ndarray]:
    stage = FinishStage(FinishOptions(refine="guided"))
    out: list[Matte] = []
    for c, m in zip(comps, mattes, strict=True):
        out += stage.push(Frame(c.number, c.image), Matte(c.number, {"matte": m}))
    out += stage.flush()
    return [m.layers["matte"] for m in out]


def scores(pred: list[np.ndarray], comps: list[mattegen.RealComposite]) -> dict[str, float]:
    true = [c.alpha for c in comps]
    return {
        "mad": round(float(np.mean([metrics.mad(p, t) for p, t in zip(pred, true, strict=True)])), 2),
        "edge_mad": round(float(np.mean([metrics.edge_mad(p, t) for p, t in zip(pred, true, strict=True)])), 1),
        "iou": round(float(np.mean([metrics.jaccard(p, t) for p, t in zip(pred, true, strict=True)])), 3),
        "dtssd": round(metrics.dtssd_sequence(pred, true), 2),
    }


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    if mattegen.rvm_weights() is None or not mattegen.vtest_path().is_file():
        sys.exit("the test assets are missing: run python3 install/test_assets.py")
    result: dict = {"bench": "finish_quality", "frames": args.frames,
                    "defaults": "KeyEngine(), FinishOptions(refine='guided')", "clips": {}}
    goals: dict[str, bool] = {}
    for name, (asset, first, size, crop, bg_first) in CLIPS.items():
        plates = mattegen.subject_plates(asset, first, args.frames, size, crop=crop)
        green = mattegen.green_screen_composites(plates)
        real = mattegen.background_composites(
            plates, mattegen.real_backgrounds(args.frames, size, bg_first))
        clip: dict = {"asset": asset, "frames": f"{first}-{first + args.frames - 1}",
                      "crop": list(crop) if crop else None, "size": list(size)}
        keyed, wall, cpu = timed(lambda green=green: key_mattes(green))
        clip["key_seconds"] = {"wall": wall, "cpu": cpu}
        person, wall, cpu = timed(lambda real=real: mattegen.person_mattes([c.image for c in real]))
        clip["person_seconds"] = {"wall": wall, "cpu": cpu}
        coarse = [mattegen.coarse_matte(c.alpha) for c in real]
        binary = [mattegen.binary_mask(c.alpha) for c in real]
        inside = [mattegen.binary_mask(c.alpha, erode=2) for c in real]
        for label, comps, mattes in (("key", green, keyed), ("person", real, person),
                                     ("coarse", real, coarse), ("binary", real, binary),
                                     ("binary_inside", real, inside)):
            refined, wall, cpu = timed(lambda comps=comps, mattes=mattes: refine(comps, mattes))
            before, after = scores(mattes, comps), scores(refined, comps)
            clip[label] = {"input": before, "refined": after,
                           "refine_seconds": {"wall": wall, "cpu": cpu}}
            if label == "coarse":
                gain = 1 - after["edge_mad"] / before["edge_mad"]
                clip[label]["edge_mad_improvement"] = round(gain, 3)
                goals[f"{name}.coarse.edge_mad_improves_30pct"] = gain >= 0.30
            else:
                goals[f"{name}.{label}.refine_never_worse"] = (
                    after["mad"] <= before["mad"] and after["edge_mad"] <= before["edge_mad"])
            goals[f"{name}.{label}.refined_dtssd_not_above_input"] = after["dtssd"] <= before["dtssd"]
        k = clip["key"]["input"]
        goals[f"{name}.key.mad_at_most_10"] = k["mad"] <= 10.0
        goals[f"{name}.key.iou"] = k["iou"] >= (0.95 if name == "closeup" else 0.88)
        result["clips"][name] = clip
    result["goals"] = goals
    result["all_goals_met"] = all(goals.values())
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
