"""VGG-19 with BatchNorm (torchvision `vgg19_bn`), headless.

The study gives no VGG-19 count in its text; its VGG-16 count is the BatchNorm variant's, so VGG-19 is taken to be
`vgg19_bn` too (139,679,576 parameters with a 24-class head; plain `vgg19`: 139,668,568, a 0.008% difference).
No Keras ImageNet weights: `--weights PATH` with a local `.weights.h5`.
"""

import keras

from sras_keras.models.backbones.torch_style import check_no_imagenet
from sras_keras.models.backbones.torchvision_cnn import vgg_bn_features


def vgg19_bn(input_shape, weights=None) -> keras.Model:
    """(S, S, 3) RGB, torchvision-normalised -> (S/32, S/32, 512); `weights` must be None."""
    check_no_imagenet("vgg19_bn", weights)
    return vgg_bn_features(input_shape, 19, name="vgg19_bn")
