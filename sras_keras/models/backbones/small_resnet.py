"""A compact ResNet (basic blocks, 4 stages) trained from scratch: the CPU-scale classifier.

ImageNet backbones need 224-299 px inputs and GPU hours; on 2 CPU cores a small ResNet at 64-96 px is what trains
in minutes. Headless, with the default WIDTHS, it has about 1.9M parameters at any input size (1,938,336 with
GroupNorm; BatchNorm's moving statistics add 4,160). It has no ImageNet weights.
"""

import keras

from sras_keras.core.errors import SrasError

WIDTHS = (32, 64, 128, 192)
GROUPS = 8
NORMS = ("batch", "group")


def _norm(kind: str, name: str, **kwargs):
    # GroupNorm is the default: it behaves the same in training and inference. BatchNorm (momentum 0.9, PyTorch's
    # 0.1) learns faster per epoch, but at a high constant learning rate its moving statistics trail a network
    # that changes fast, so inference-mode accuracy can sit near chance while training accuracy climbs; under a
    # cosine decay it recovers once the rate falls.
    if kind == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, name=name, **kwargs)
    if kind == "group":
        return keras.layers.GroupNormalization(GROUPS, name=name, **kwargs)
    raise SrasError(f"unknown normalisation {kind!r}; choose one of {', '.join(NORMS)}")


def _block(x, filters: int, stride: int, name: str, norm: str):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = _norm(norm, f"{name}_proj_norm")(shortcut)
    y = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = _norm(norm, f"{name}_norm1")(y)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = _norm(norm, f"{name}_norm2", gamma_initializer="zeros")(y)  # the block starts as the identity
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))


def small_resnet(
    input_shape, weights=None, widths=WIDTHS, blocks_per_stage: int = 2, norm: str = "group"
) -> keras.Model:
    """Headless: (S, S, 3) -> the last stage's feature map (S/16 a side); ``weights`` must be None.

    The stem has stride 2: full-resolution stages cost 4x the compute for little gain on chromosome crops."""
    if weights is not None:
        raise SrasError("backbone 'resnet_small' has no ImageNet weights; train it from scratch (--weights none)")
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(widths[0], 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = _norm(norm, "stem_norm")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for stage, filters in enumerate(widths):
        for block in range(blocks_per_stage):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _block(x, filters, stride, f"stage{stage + 1}_block{block + 1}", norm)
    return keras.Model(inputs, x, name="resnet_small")


def scale_to_unit(images):
    """[0, 255] -> [-1, 1]."""
    return images / 127.5 - 1.0
