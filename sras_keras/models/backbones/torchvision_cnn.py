"""torchvision's VGG-BN and ResNet / ResNeXt feature extractors in Keras, headless (the public builders are thin
modules around these: `vgg16_bn`, `vgg19_bn`, `resnet34`, `resnext50_32x4d`, `resnext101_32x8d`).

The structure is torchvision's, so trainable parameter counts equal `sum(p.numel() for p in model.parameters())`
of the torchvision model minus its classifier (Keras also counts BatchNorm's moving mean and variance, which
PyTorch keeps as buffers: compare trainable weights). ResNets are torchvision's "v1.5": the stride sits on the 3x3
conv of a bottleneck, not on its first 1x1 conv as in Keras' own (Caffe-style) ResNet50 / ResNet101, whose convs
also carry biases. Stride-2 convs use explicit symmetric padding as PyTorch's `padding=k // 2`.
"""

import keras

from sras_keras.models.backbones.torch_style import batch_norm

VGG_CONFIGS = {
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}
VGG_WIDTHS = (64, 128, 256, 512, 512)


def vgg_bn_features(input_shape, depth: int, name: str) -> keras.Model:
    """torchvision `vgg{depth}_bn().features`: (S, S, 3) -> (S/32, S/32, 512), the last layer `block5_pool`."""
    inputs = keras.Input(input_shape)
    x = inputs
    for block, (convs, width) in enumerate(zip(VGG_CONFIGS[depth], VGG_WIDTHS), start=1):
        for conv in range(1, convs + 1):
            x = keras.layers.Conv2D(width, 3, padding="same", name=f"block{block}_conv{conv}")(x)
            x = batch_norm(f"block{block}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name=name)


def _conv(x, filters: int, kernel: int, stride: int, name: str, groups: int = 1):
    """PyTorch `Conv2d(..., kernel, stride, padding=kernel // 2, bias=False)`."""
    if kernel > 1 and stride > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    return keras.layers.Conv2D(
        filters, kernel, strides=stride, padding=padding, groups=groups, use_bias=False, name=name
    )(x)


def _basic_block(x, planes: int, stride: int, name: str, **_):
    shortcut = x
    if stride != 1 or x.shape[-1] != planes:
        shortcut = batch_norm(f"{name}_downsample_bn")(_conv(x, planes, 1, stride, f"{name}_downsample_conv"))
    y = keras.layers.ReLU(name=f"{name}_relu1")(batch_norm(f"{name}_bn1")(_conv(x, planes, 3, stride, f"{name}_conv1")))
    y = batch_norm(f"{name}_bn2")(_conv(y, planes, 3, 1, f"{name}_conv2"))
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))


def _bottleneck(x, planes: int, stride: int, name: str, groups: int = 1, width_per_group: int = 64):
    width = int(planes * (width_per_group / 64.0)) * groups
    out = planes * 4
    shortcut = x
    if stride != 1 or x.shape[-1] != out:
        shortcut = batch_norm(f"{name}_downsample_bn")(_conv(x, out, 1, stride, f"{name}_downsample_conv"))
    y = keras.layers.ReLU(name=f"{name}_relu1")(batch_norm(f"{name}_bn1")(_conv(x, width, 1, 1, f"{name}_conv1")))
    y = _conv(y, width, 3, stride, f"{name}_conv2", groups=groups)
    y = keras.layers.ReLU(name=f"{name}_relu2")(batch_norm(f"{name}_bn2")(y))
    y = batch_norm(f"{name}_bn3")(_conv(y, out, 1, 1, f"{name}_conv3"))
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, y]))


def resnet_features(
    input_shape, block: str, layers, name: str, groups: int = 1, width_per_group: int = 64
) -> keras.Model:
    """torchvision `ResNet` without `avgpool` and `fc`: (S, S, 3) -> (S/32, S/32, C), the last layer
    `layer4_block{n}_out`.

    Args:
        block: "basic" (ResNet-18/34) or "bottleneck" (ResNet-50/101, ResNeXt).
        layers: blocks per stage, e.g. (3, 4, 6, 3).
        groups, width_per_group: ResNeXt's cardinality and bottleneck width (32 and 4 for 32x4d).
    """
    make_block = {"basic": _basic_block, "bottleneck": _bottleneck}[block]
    inputs = keras.Input(input_shape)
    x = _conv(inputs, 64, 7, 2, "conv1")
    x = keras.layers.ReLU(name="relu")(batch_norm("bn1")(x))
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # after a ReLU, zeros pad as PyTorch's -inf does
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        for index in range(blocks):
            stride = 2 if stage > 1 and index == 0 else 1
            x = make_block(
                x, planes, stride, f"layer{stage}_block{index + 1}", groups=groups, width_per_group=width_per_group
            )
    return keras.Model(inputs, x, name=name)
