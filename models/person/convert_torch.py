"""Load the published PyTorch checkpoint ``rvm_mobilenetv3.pth``.

The upstream repository (github.com/PeterL1n/RobustVideoMatting, releases
v1.0.0) ships a state dict of its ``MattingNetwork('mobilenetv3',
'deep_guided_filter')``, whose encoder is torchvision's MobileNetV3 (modules
addressed by ``nn.Sequential`` indices). Our module names say what each part
is; this file is the table between the two, built from the config so that
every key is accounted for:

========================================  ==========================================
ours                                      upstream
========================================  ==========================================
encoder.stem.{conv,norm}                  backbone.features.0.{0,1}
encoder.blocks.{i}.{expand,depthwise,     backbone.features.{i+1}.block.{j}.{0,1}
project}.{conv,norm}                      (j counts expand?, depthwise, se?, project)
encoder.blocks.{i}.squeeze_excite.fc{1,2} backbone.features.{i+1}.block.{j}.fc{1,2}
encoder.head.{conv,norm}                  backbone.features.16.{0,1}
aspp.conv.{conv,norm} / aspp.gate         aspp.aspp1.{0,1} / aspp.aspp2.1
decoder.bottleneck.gru.{ih,hh}            decoder.decode4.gru.{ih,hh}.0
decoder.up{3,2,1}.conv.{conv,norm}        decoder.decode{3,2,1}.conv.{0,1}
decoder.up{3,2,1}.gru.{ih,hh}             decoder.decode{3,2,1}.gru.{ih,hh}.0
decoder.output.conv{1,2}.{conv,norm}      decoder.decode0.conv.{0,1} / {3,4}
project_mat / project_seg                 project_mat.conv / project_seg.conv
refiner.box_filter                        refiner.box_filter
refiner.conv{1,2}.{conv,norm} / out       refiner.conv.{0,1} / {3,4} / 6
========================================  ==========================================

The checkpoint cannot be downloaded in our test environment; the tests write
our own module's state dict under the upstream names
(:func:`to_upstream_state_dict`) and load it back through this path.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .configuration_rvm import RVMConfig
from .modeling_rvm import RVMModel


class CheckpointFormatError(ValueError):
    """The state dict is not the upstream RVM MobileNetV3 checkpoint."""


def _module_table(config: RVMConfig) -> dict[str, str]:
    """Our module prefix → the upstream module prefix (convs and norms)."""
    t: dict[str, str] = {}

    def cna(ours: str, up: str, conv_idx: int = 0) -> None:
        t[f"{ours}.conv"] = f"{up}.{conv_idx}"
        t[f"{ours}.norm"] = f"{up}.{conv_idx + 1}"

    cna("encoder.stem", "backbone.features.0")
    for i, b in enumerate(config.encoder_blocks):
        up = f"backbone.features.{i + 1}.block"
        j = 0
        if b.expanded_channels != b.in_channels:
            cna(f"encoder.blocks.{i}.expand", f"{up}.{j}")
            j += 1
        cna(f"encoder.blocks.{i}.depthwise", f"{up}.{j}")
        j += 1
        if b.use_se:
            t[f"encoder.blocks.{i}.squeeze_excite.fc1"] = f"{up}.{j}.fc1"
            t[f"encoder.blocks.{i}.squeeze_excite.fc2"] = f"{up}.{j}.fc2"
            j += 1
        cna(f"encoder.blocks.{i}.project", f"{up}.{j}")
    cna("encoder.head", f"backbone.features.{len(config.encoder_blocks) + 1}")
    cna("aspp.conv", "aspp.aspp1")
    t["aspp.gate"] = "aspp.aspp2.1"
    t["decoder.bottleneck.gru.ih"] = "decoder.decode4.gru.ih.0"
    t["decoder.bottleneck.gru.hh"] = "decoder.decode4.gru.hh.0"
    for k in (3, 2, 1):
        cna(f"decoder.up{k}.conv", f"decoder.decode{k}.conv")
        t[f"decoder.up{k}.gru.ih"] = f"decoder.decode{k}.gru.ih.0"
        t[f"decoder.up{k}.gru.hh"] = f"decoder.decode{k}.gru.hh.0"
    cna("decoder.output.conv1", "decoder.decode0.conv", 0)
    cna("decoder.output.conv2", "decoder.decode0.conv", 3)
    t["project_mat"] = "project_mat.conv"
    t["project_seg"] = "project_seg.conv"
    t["refiner.box_filter"] = "refiner.box_filter"
    cna("refiner.conv1", "refiner.conv", 0)
    cna("refiner.conv2", "refiner.conv", 3)
    t["refiner.out"] = "refiner.conv.6"
    return t


def _rename(key: str, table: dict[str, str]) -> str | None:
    module, _, leaf = key.rpartition(".")
    return f"{table[module]}.{leaf}" if module in table else None


def to_upstream_state_dict(model: RVMModel) -> dict[str, torch.Tensor]:
    """Our (unfused) model's state dict under the upstream names."""
    table = _module_table(model.config)
    out = {}
    for k, v in model.state_dict().items():
        name = _rename(k, table)
        if name is None:
            raise CheckpointFormatError(f"no upstream name for {k!r}")
        out[name] = v
    return out


def from_upstream_state_dict(state: dict[str, torch.Tensor],
                             config: RVMConfig | None = None) -> RVMModel:
    """Build our model from an upstream state dict; every key must map."""
    config = config or RVMConfig()
    inverse = {up: ours for ours, up in _module_table(config).items()}
    mapped, unknown = {}, []
    for k, v in state.items():
        name = _rename(k, inverse)
        if name is None:
            unknown.append(k)
        else:
            mapped[name] = v
    model = RVMModel(config)
    expected = set(model.state_dict())
    missing = sorted(expected - set(mapped))
    if unknown or missing:
        raise CheckpointFormatError(
            f"not an RVM MobileNetV3 checkpoint: unknown keys {unknown[:5]}, missing {missing[:5]}")
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def load_torch_checkpoint(path: str | Path) -> RVMModel:
    """``rvm_mobilenetv3.pth`` → :class:`RVMModel` (deep guided filter refiner)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or any(not torch.is_tensor(v) for v in state.values()):
        raise CheckpointFormatError(f"{path}: not a state dict of tensors")
    return from_upstream_state_dict(state)
