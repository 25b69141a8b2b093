"""VGG-16 with BatchNorm (torchvision `vgg16_bn`), headless: the two-step study's VGG-16.

The study's 134.37M parameters (Sci. Rep. 2026, text beside Table 3) are torchvision `vgg16_bn` with a 24-class last
layer (134,367,320); plain `vgg16` with the same head has 134,358,872 (134.36M). Keras' `VGG16` has no BatchNorm,
so this is the package's own. No Keras ImageNet weights: `--weights PATH` with a local `.weights.h5`.
"""

import keras

from sras_keras.models.backbones.torch_style import check_no_imagenet
from sras_keras.models.backbones.torchvision_cnn import vgg_bn_features


def vgg16_bn(input_shape, weights=None) -> keras.Model:
    """(S, S, 3) RGB, torchvision-normalised -> (S/32, S/32, 512); `weights` must be None."""
    check_no_imagenet("vgg16_bn", weights)
    return vgg_bn_features(input_shape, 16, name="vgg16_bn")
