"""ResNeXt-50 32x4d (Xie et al., CVPR 2017; torchvision `resnext50_32x4d`: bottlenecks 3-4-6-3, 32 groups of
width 4 per 64 planes), headless. Grouped 3x3 convs are `Conv2D(groups=32)`.

No Keras ImageNet weights: `--weights PATH` with a local `.weights.h5`.
"""

import keras

from sras_keras.models.backbones.torch_style import check_no_imagenet
from sras_keras.models.backbones.torchvision_cnn import resnet_features


def resnext50_32x4d(input_shape, weights=None) -> keras.Model:
    """(S, S, 3) RGB, torchvision-normalised -> (S/32, S/32, 2048); `weights` must be None."""
    check_no_imagenet("resnext50_32x4d", weights)
    return resnet_features(
        input_shape, "bottleneck", (3, 4, 6, 3), name="resnext50_32x4d", groups=32, width_per_group=4
    )
