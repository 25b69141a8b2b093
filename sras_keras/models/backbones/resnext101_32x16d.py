"""ResNeXt-101 32x16d (Xie et al., CVPR 2017; the WSL model of Mahajan et al., ECCV 2018, torch.hub
`facebookresearch/WSL-Images`), headless: bottlenecks 3-4-23-3, 32 groups of width 16 per 64 planes.

Not in torchvision. Registered because the two-step study's parameter range, "4M to 192M", matches this model with a
24-class head (192,026,968) and no torchvision ResNeXt-101 (see `tl_architectures`). No Keras ImageNet weights:
`--weights PATH` with a local `.weights.h5`.
"""

import keras

from sras_keras.models.backbones.torch_style import check_no_imagenet
from sras_keras.models.backbones.torchvision_cnn import resnet_features


def resnext101_32x16d(input_shape, weights=None) -> keras.Model:
    """(S, S, 3) RGB, torchvision-normalised -> (S/32, S/32, 2048); `weights` must be None."""
    check_no_imagenet("resnext101_32x16d", weights)
    return resnet_features(
        input_shape, "bottleneck", (3, 4, 23, 3), name="resnext101_32x16d", groups=32, width_per_group=16
    )
