"""PyTorch state dicts (torchvision / timm names) onto the package-written Keras backbones, layer by layer.

Keras publishes no ImageNet weights for ResNet-34, ResNeXt, VGG-BN, Swin-T or ViT-S/16; their ImageNet checkpoints
are PyTorch files. Our Keras versions keep the PyTorch structure (see `torch_style`), so a checkpoint maps on
one tensor at a time: conv kernels OIHW -> HWIO, linear weights transposed, BatchNorm's weight / bias /
running mean / running variance, ViT's fused qkv split into Keras' per-head query, key and value. Every tensor of
the state dict must find its layer and every layer its tensors, else the mapping is refused: a checkpoint of
another architecture never half-loads. Pure arrays in, weights set: reading the file is
`sras_keras.models.torch_weights.convert`.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import tensorflow as tf

from sras_keras.core.errors import SrasError

# Tensors a headless backbone has no use for: the classifier, BatchNorm's step counter, Swin's fixed index buffer.
_IGNORED = re.compile(r"(^|\.)(fc|classifier|head)\.|num_batches_tracked$|relative_position_index$|attn_mask$")


def _conv(tensor):
    return np.transpose(tensor, (2, 3, 1, 0))  # (out, in / groups, kh, kw) -> (kh, kw, in / groups, out)


def _linear(tensor):
    return np.transpose(tensor)


def _batch_norm(state, prefix):
    return [state[f"{prefix}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")]


def _layer_norm(state, prefix):
    return [state[f"{prefix}.weight"], state[f"{prefix}.bias"]]


def _dense(state, prefix, bias=True):
    return [_linear(state[f"{prefix}.weight"])] + ([state[f"{prefix}.bias"]] if bias else [])


def _resnet(layer_name, layer, state):
    """torchvision ResNet / ResNeXt: `layer2_block1_downsample_bn` <- `layer2.0.downsample.1.*`."""
    match = re.fullmatch(r"layer(\d)_block(\d+)_(\w+)", layer_name)
    if match is None:
        prefix = layer_name  # conv1, bn1
    else:
        stage, block, part = match.groups()
        part = {"downsample_conv": "downsample.0", "downsample_bn": "downsample.1"}.get(part, part)
        prefix = f"layer{stage}.{int(block) - 1}.{part}"
    if isinstance(layer, keras.layers.BatchNormalization):
        return _batch_norm(state, prefix)
    return [_conv(state[f"{prefix}.weight"])]


def _vgg_indices(model):
    """Keras layer name -> index in torchvision's `vgg*_bn().features` Sequential (conv, bn, relu ... pool)."""
    indices, position = {}, 0
    for layer in model.layers:
        if isinstance(
            layer, (keras.layers.Conv2D, keras.layers.BatchNormalization, keras.layers.ReLU, keras.layers.MaxPooling2D)
        ):
            indices[layer.name] = position
            position += 1
    return indices


def _vgg(layer_name, layer, state, indices):
    prefix = f"features.{indices[layer_name]}"
    if isinstance(layer, keras.layers.BatchNormalization):
        return _batch_norm(state, prefix)
    return [_conv(state[f"{prefix}.weight"]), state[f"{prefix}.bias"]]


def _swin(layer_name, layer, state):
    """torchvision swin_t: `features.0` patch embedding, stage k's blocks in `features.{2k-1}`, its patch merging
    in `features.{2k}`, then `norm`."""
    if layer_name == "patch_embed_conv":
        return [_conv(state["features.0.0.weight"]), state["features.0.0.bias"]]
    if layer_name == "patch_embed_norm":
        return _layer_norm(state, "features.0.2")
    if layer_name == "norm":
        return _layer_norm(state, "norm")
    merge = re.fullmatch(r"stage(\d)_merge_(norm|reduction)", layer_name)
    if merge:
        prefix = f"features.{2 * int(merge[1])}.{merge[2]}"
        return _layer_norm(state, prefix) if merge[2] == "norm" else _dense(state, prefix, bias=False)
    stage, block, part = re.fullmatch(r"stage(\d)_block(\d+)_(\w+)", layer_name).groups()
    prefix = f"features.{2 * int(stage) - 1}.{int(block) - 1}"
    if part in ("norm1", "norm2"):
        return _layer_norm(state, f"{prefix}.{part}")
    if part == "attn":
        return [
            state[f"{prefix}.attn.relative_position_bias_table"],
            *_dense(state, f"{prefix}.attn.qkv"),
            *_dense(state, f"{prefix}.attn.proj"),
        ]
    return _dense(state, f"{prefix}.mlp.{ {'mlp_fc1': 0, 'mlp_fc2': 3}[part] }")


def _vit(layer_name, layer, state):
    """timm vit_small_patch16_224; the position embedding is resampled when the grid differs from 14 x 14."""
    if layer_name == "patch_embed":
        return [_conv(state["patch_embed.proj.weight"]), state["patch_embed.proj.bias"]]
    if layer_name == "class_token_position":
        return [state["cls_token"], _resample_positions(state["pos_embed"], layer.weights[1].shape[1] - 1)]
    if layer_name == "encoder_norm":
        return _layer_norm(state, "norm")
    block, part = re.fullmatch(r"block(\d+)_(\w+)", layer_name).groups()
    prefix = f"blocks.{int(block) - 1}"
    if part in ("norm1", "norm2"):
        return _layer_norm(state, f"{prefix}.{part}")
    if part == "attn":
        weight, bias = state[f"{prefix}.attn.qkv.weight"], state[f"{prefix}.attn.qkv.bias"]
        dim = weight.shape[1]
        heads, head_dim = layer.num_heads, layer.key_dim
        arrays = []
        for k in range(3):  # timm's fused rows: q, k, v; within each, head-major
            rows = slice(k * dim, (k + 1) * dim)
            arrays += [weight[rows].T.reshape(dim, heads, head_dim), bias[rows].reshape(heads, head_dim)]
        projection = state[f"{prefix}.attn.proj.weight"]
        return arrays + [projection.T.reshape(heads, head_dim, dim), state[f"{prefix}.attn.proj.bias"]]
    return _dense(state, f"{prefix}.mlp.{part[len('mlp_') :]}")


def _resample_positions(positions, patches: int):
    """(1, 1 + n*n, C) -> (1, 1 + patches, C): the patch part resized bicubically as a grid (TF's bicubic kernel;
    timm's PyTorch one differs slightly), the class token's position kept."""
    prefix, grid = positions[:, :1], positions[:, 1:]
    old, new = int(round(np.sqrt(grid.shape[1]))), int(round(np.sqrt(patches)))
    if old == new:
        return positions
    grid = tf.image.resize(grid.reshape(1, old, old, -1), (new, new), method="bicubic", antialias=True)
    return np.concatenate([prefix, grid.numpy().reshape(1, new * new, -1)], axis=1)


_MAPPERS = {
    "resnet34": _resnet,
    "resnext50_32x4d": _resnet,
    "resnext101_32x8d": _resnet,
    "resnext101_32x16d": _resnet,
    "vgg16_bn": _vgg,
    "vgg19_bn": _vgg,
    "swin_t": _swin,
    "vit_s16": _vit,
}


def convertible_backbones() -> list[str]:
    return sorted(_MAPPERS)


def load_torch_state(model: keras.Model, backbone: str, state: dict[str, np.ndarray]) -> None:
    """Set ``model`` (the headless ``backbone``, as `build_backbone` makes it) from a torchvision / timm state dict.

    Raises `SrasError` naming what does not fit: a tensor the model lacks, a layer the checkpoint lacks, a shape.
    """
    if backbone not in _MAPPERS:
        raise SrasError(
            f"no PyTorch mapping for backbone {backbone!r}; convertible: {', '.join(_MAPPERS)} "
            "(the others have Keras ImageNet weights: --weights imagenet)"
        )
    mapper = _MAPPERS[backbone]
    extra = {"indices": _vgg_indices(model)} if mapper is _vgg else {}
    state = {key: np.asarray(value, dtype=np.float32) for key, value in state.items() if not _IGNORED.search(key)}
    tracked = _Tracked(state)
    assignments = []
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            arrays = mapper(layer.name, layer, tracked, **extra)
        except KeyError as missing:
            raise SrasError(
                f"the checkpoint has no tensor {missing.args[0]!r} for layer {layer.name!r}: "
                f"not a {backbone} state dict"
            ) from None
        expected = [tuple(weight.shape) for weight in layer.weights]
        found = [tuple(array.shape) for array in arrays]
        if expected != found:
            raise SrasError(f"layer {layer.name!r} of {backbone} needs {expected}; the checkpoint gives {found}")
        assignments.append((layer, arrays))
    unused = sorted(set(state) - tracked.used)
    if unused:
        shown = ", ".join(unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
        raise SrasError(
            f"{len(unused)} checkpoint tensors fit no layer of {backbone} ({shown}): not a {backbone} state dict"
        )
    for layer, arrays in assignments:
        layer.set_weights(arrays)


class _Tracked(dict):
    """The state dict, noting which keys were read."""

    def __init__(self, state):
        super().__init__(state)
        self.used = set()

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.used.add(key)
        return value
