"""ResNet-34 (He et al., CVPR 2016; torchvision `resnet34`: basic blocks, 3-4-6-3), headless.

No Keras ImageNet weights: `--weights PATH` with a local `.weights.h5`.
"""

import keras

from sras_keras.models.backbones.torch_style import check_no_imagenet
from sras_keras.models.backbones.torchvision_cnn import resnet_features


def resnet34(input_shape, weights=None) -> keras.Model:
    """(S, S, 3) RGB, torchvision-normalised -> (S/32, S/32, 512); `weights` must be None."""
    check_no_imagenet("resnet34", weights)
    return resnet_features(input_shape, "basic", (3, 4, 6, 3), name="resnet34")
