"""The engine's per-class probabilities are transformers' own post-processing.

Randomly initialised tiny configurations of the real classes (SegFormer,
Mask2Former, OneFormer) are saved as checkpoint folders and loaded by the
engine with ``local_files_only``; a plain ``transformers`` run of the same
folder (processor → model → ``post_process_semantic_segmentation(...,
return_segmentation_scores=True)``) is the reference: softmax of its scores
for SegFormer, its sigmoid/softmax mixture clipped to [0, 1] for the mask
classifiers, and its argmax is the argmax of our layers.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tiny_semantic as tiny
import torch

from segmatte.models.engine import EngineError
from segmatte.models.frames import ClipInfo, Frame
from segmatte.models.semantic.classes import ADE20K, CITYSCAPES, canonical, resolve
from segmatte.models.semantic.engine_semantic import SemanticEngine
from segmatte.models.semantic.loader import load

H, W = 72, 100
CLIP = ClipInfo(W, H, 24.0, 0, 1)


def picture(seed: int) -> np.ndarray:
    """A smooth random RGB picture (blurred noise), H×W×3 float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    noise = rng.random((H // 4, W // 4, 3)).astype(np.float32)
    return np.clip(cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC), 0, 1)


FRAMES = [Frame(n, picture(n)) for n in range(2)]

BUILDERS = {
    "segformer": lambda: tiny.segformer(labels=CITYSCAPES, contrast=4.0),
    "mask2former": lambda: tiny.mask2former(labels=CITYSCAPES),
    "oneformer": lambda: tiny.oneformer(labels=CITYSCAPES),
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    family = request.param
    model, processor = BUILDERS[family]()
    folder = tiny.save_checkpoint(model, processor, tmp_path_factory.mktemp(family))
    return family, folder


def reference(family: str, folder: Path, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain transformers: (class probabilities C×H×W, segmentation map H×W)."""
    import transformers

    if family == "segformer":
        model = transformers.SegformerForSemanticSegmentation.from_pretrained(folder)
        processor = transformers.SegformerImageProcessor.from_pretrained(folder)
        extra = {}
    elif family == "mask2former":
        model = transformers.Mask2FormerForUniversalSegmentation.from_pretrained(folder)
        processor = transformers.Mask2FormerImageProcessor.from_pretrained(folder)
        extra = {}
    else:
        model = transformers.OneFormerForUniversalSegmentation.from_pretrained(folder)
        processor = transformers.OneFormerProcessor.from_pretrained(folder)
        extra = {"task_inputs": ["semantic"]}
    inputs = processor(images=[image], return_tensors="pt", do_rescale=False, **extra)
    with torch.no_grad():
        outputs = model.eval()(**inputs)
    out = processor.post_process_semantic_segmentation(
        outputs, target_sizes=[image.shape[:2]], return_segmentation_scores=True)[0]
    scores = out["segmentation_scores"]
    probs = scores.softmax(0) if family == "segformer" else scores.clamp(0, 1)
    return probs, out["segmentation"]


def run(folder: Path, classes: list[str], **options) -> list:
    engine = SemanticEngine({"model": str(folder), "classes": classes, "smoothing": 0.0,
                             "max_size": None, **options})
    engine.open(CLIP)
    try:
        return list(engine.stream(FRAMES))
    finally:
        engine.close()


def test_every_class_equals_the_post_processing(checkpoint) -> None:
    family, folder = checkpoint
    names = [canonical(n) for n in CITYSCAPES]
    mattes = run(folder, names)
    assert [m.number for m in mattes] == [0, 1]
    for matte, frame in zip(mattes, FRAMES, strict=True):
        probs, segmentation = reference(family, folder, frame.image)
        assert list(matte.layers) == names
        ours = np.stack([matte.layers[n] for n in names])
        assert ours.shape == (len(names), H, W) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, probs.numpy(), atol=1e-5)
        np.testing.assert_array_equal(ours.argmax(0), segmentation.numpy())
        assert ours.std() > 0  # not a vacuous comparison


def test_groups_and_union_add_member_probabilities(checkpoint) -> None:
    family, folder = checkpoint
    probs, _ = reference(family, folder, FRAMES[0].image)
    vehicle_ids = [CITYSCAPES.index(n) for n in
                   ("car", "truck", "bus", "train", "motorcycle", "bicycle")]
    (grouped, _) = run(folder, ["vehicle", "sky"])
    expect = probs[vehicle_ids].sum(0).clamp(0, 1).numpy()
    np.testing.assert_allclose(grouped.layers["vehicle"], expect, atol=1e-5)
    (union, _) = run(folder, ["vehicle", "sky"], union=True)
    assert list(union.layers) == ["matte"]
    expect = probs[vehicle_ids + [CITYSCAPES.index("sky")]].sum(0).clamp(0, 1).numpy()
    np.testing.assert_allclose(union.layers["matte"], expect, atol=1e-5)


def test_scaled_inference_comes_back_at_source_size(checkpoint) -> None:
    _, folder = checkpoint
    full, _ = run(folder, ["sky", "road"])
    small, _ = run(folder, ["sky", "road"], max_size=64)
    for name in ("sky", "road"):
        assert small.layers[name].shape == (H, W)
        assert np.abs(small.layers[name] - full.layers[name]).mean() < 0.1


def test_missing_weights_name_the_pull_command(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    engine = SemanticEngine({"model": "segformer-b0-ade", "classes": "sky"})
    with pytest.raises(EngineError, match="segmatte models pull segformer-b0-ade --accept-licence"):
        engine.open(CLIP)


def test_readiness_is_checked_at_the_door_without_loading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    options = SemanticEngine.Options(model="segformer-b0-ade", classes="sky")
    with pytest.raises(EngineError, match="segmatte models pull segformer-b0-ade --accept-licence$"):
        SemanticEngine.check_ready(options, None)
    model, processor = tiny.segformer(labels=CITYSCAPES)
    folder = str(tiny.save_checkpoint(model, processor, tmp_path / "city"))
    ok = SemanticEngine.Options(model=folder, classes="sky,vehicle,people")
    SemanticEngine.check_ready(ok, None)
    assert ok.layer_names() == ("sky", "vehicle", "people")
    with pytest.raises(EngineError, match="'van'"):
        SemanticEngine.check_ready(SemanticEngine.Options(model=folder, classes="van"), None)


def test_a_tracking_model_is_refused() -> None:
    engine = SemanticEngine({"classes": "sky"}, model="sam2.1-tiny")
    with pytest.raises(EngineError, match="not a semantic"):
        engine.open(CLIP)


def test_a_class_the_loaded_model_lacks_fails_at_open(tmp_path: Path) -> None:
    model, processor = tiny.segformer(labels=CITYSCAPES)
    folder = tiny.save_checkpoint(model, processor, tmp_path / "city")
    engine = SemanticEngine({"model": str(folder), "classes": "van,sky"})
    with pytest.raises(EngineError, match="'van'"):
        engine.open(CLIP)


def test_ade_labels_load_from_a_checkpoint(tmp_path: Path) -> None:
    model, processor = tiny.segformer(labels=ADE20K)
    folder = tiny.save_checkpoint(model, processor, tmp_path / "ade")
    (matte, _) = run(folder, ["bed", "people", "vehicle"])
    assert list(matte.layers) == ["bed", "people", "vehicle"]


def test_a_batch_of_tiles_equals_one_at_a_time(checkpoint) -> None:
    """Tiles of one size go through the model together; nothing may leak between them."""
    _, folder = checkpoint
    segmenter = load(str(folder))
    selections = resolve(["sky", "vehicle"], segmenter.id2label)
    crops = [np.ascontiguousarray(FRAMES[0].image[y:y + 48, x:x + 64])
             for y, x in ((0, 0), (24, 36), (10, 20))]
    batched = segmenter.probabilities_batch(crops, selections)
    for crop, probs in zip(crops, batched, strict=True):
        np.testing.assert_allclose(probs, segmenter.probabilities(crop, selections), atol=1e-5)
