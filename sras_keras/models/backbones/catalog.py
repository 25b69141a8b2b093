"""Every backbone this suite registers: Keras Applications (ImageNet weights where Keras has them), the small
CPU-scale ResNets, and the torchvision / timm architectures of the two-step study, ported to Keras."""

import functools

import keras

from sras_keras.models.backbones.resnet34 import resnet34
from sras_keras.models.backbones.resnext50_32x4d import resnext50_32x4d
from sras_keras.models.backbones.resnext101_32x8d import resnext101_32x8d
from sras_keras.models.backbones.resnext101_32x16d import resnext101_32x16d
from sras_keras.models.backbones.small_resnet import scale_to_unit, small_resnet
from sras_keras.models.backbones.swin_t import swin_t
from sras_keras.models.backbones.torch_style import torch_imagenet_preprocess
from sras_keras.models.backbones.vgg16_bn import vgg16_bn
from sras_keras.models.backbones.vgg19_bn import vgg19_bn
from sras_keras.models.backbones.vit_s16 import vit_s16
from sras_keras.models.heads import global_pool_head, mobilenet_v3_large_head, vgg_head, vit_head
from sras_keras.models.registry import BackboneSpec, keras_application, register_backbone

register_backbone(
    BackboneSpec(
        name="inception_resnet_v2",
        builder=keras_application(keras.applications.InceptionResNetV2),
        imagenet=True,
        preprocess=keras.applications.inception_resnet_v2.preprocess_input,
        min_size=75,
        default_size=299,
        feature_layer="conv_7b_ac",
        paper="Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections "
        "on Learning, AAAI 2017",
    )
)
register_backbone(
    BackboneSpec(
        name="xception",
        builder=keras_application(keras.applications.Xception),
        imagenet=True,
        preprocess=keras.applications.xception.preprocess_input,
        min_size=71,
        default_size=299,
        feature_layer="block14_sepconv2_act",
        paper="Chollet, Xception: Deep Learning with Depthwise Separable Convolutions, CVPR 2017",
    )
)
register_backbone(
    BackboneSpec(
        name="vgg19",
        builder=keras_application(keras.applications.VGG19),
        imagenet=True,
        preprocess=keras.applications.vgg19.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="block5_pool",
        paper="Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015",
        native_head=vgg_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnet50",
        builder=keras_application(keras.applications.ResNet50),
        imagenet=True,
        preprocess=keras.applications.resnet50.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="conv5_block3_out",
        paper="He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnet_small",
        builder=small_resnet,
        preprocess=scale_to_unit,
        min_size=32,
        default_size=64,
        feature_layer="stage4_block2_out",
        paper="a compact ResNet (He et al., CVPR 2016, basic blocks) for CPU-scale runs; no ImageNet weights",
    )
)
register_backbone(
    BackboneSpec(
        name="resnet_small_bn",
        builder=functools.partial(small_resnet, norm="batch"),
        preprocess=scale_to_unit,
        min_size=32,
        default_size=64,
        feature_layer="stage4_block2_out",
        paper="resnet_small with BatchNorm (momentum 0.9): learns faster, but wants a decaying learning rate",
    )
)

# The two-step transfer-learning study's architectures (Sci. Rep. 2026; `sras_keras.models.tl_architectures` maps its
# names to these). From Keras Applications, with Keras' own ImageNet weights:
_VGG = "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015"
_RESNET = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016"
_RESNEXT = "Xie et al., Aggregated Residual Transformations for Deep Neural Networks, CVPR 2017"
register_backbone(
    BackboneSpec(
        name="vgg16",
        builder=keras_application(keras.applications.VGG16),
        imagenet=True,
        preprocess=keras.applications.vgg16.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="block5_pool",
        paper=_VGG + " (Keras' VGG16: no BatchNorm; the study's count is vgg16_bn's)",
        native_head=vgg_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnet101",
        # Keras' ResNet101 is Caffe-style: stride on the first 1x1 conv, biases on every conv (+52,672 parameters,
        # 0.12% over torchvision's resnet101).
        builder=keras_application(keras.applications.ResNet101),
        imagenet=True,
        preprocess=keras.applications.resnet.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="conv5_block3_out",
        paper=_RESNET,
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="convnext_tiny",
        # Keras' ConvNeXt normalises [0, 255] RGB itself (include_preprocessing=True, its `PreStem`), so the
        # classifier's preprocessing is the pass-through `convnext.preprocess_input`: one normalisation in all.
        builder=keras_application(keras.applications.ConvNeXtTiny, output_name="convnext_tiny_features"),
        imagenet=True,
        preprocess=keras.applications.convnext.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="convnext_tiny_features",
        paper="Liu et al., A ConvNet for the 2020s, CVPR 2022",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="mobilenet_v3_large",
        # include_preprocessing=True (the default): a Rescaling layer maps [0, 255] to [-1, 1] inside the model,
        # so the classifier's preprocessing is the pass-through `mobilenet_v3.preprocess_input`.
        builder=keras_application(keras.applications.MobileNetV3Large, output_name="mobilenet_v3_large_features"),
        imagenet=True,
        preprocess=keras.applications.mobilenet_v3.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="mobilenet_v3_large_features",
        paper="Howard et al., Searching for MobileNetV3, ICCV 2019",
        native_head=mobilenet_v3_large_head,
    )
)
# Written in this package after torchvision / timm (no Keras ImageNet weights: --weights PATH, see torch_style.py):
register_backbone(
    BackboneSpec(
        name="vgg16_bn",
        builder=vgg16_bn,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="block5_pool",
        paper=_VGG + " (torchvision vgg16_bn)",
        native_head=vgg_head,
    )
)
register_backbone(
    BackboneSpec(
        name="vgg19_bn",
        builder=vgg19_bn,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="block5_pool",
        paper=_VGG + " (torchvision vgg19_bn)",
        native_head=vgg_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnet34",
        builder=resnet34,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="layer4_block3_out",
        paper=_RESNET + " (torchvision resnet34)",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnext50_32x4d",
        builder=resnext50_32x4d,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="layer4_block3_out",
        paper=_RESNEXT + " (torchvision resnext50_32x4d)",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnext101_32x8d",
        builder=resnext101_32x8d,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="layer4_block3_out",
        paper=_RESNEXT + " (torchvision resnext101_32x8d)",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnext101_32x16d",
        builder=resnext101_32x16d,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="layer4_block3_out",
        paper=_RESNEXT + " (32x16d: Mahajan et al., Exploring the Limits of Weakly Supervised Pretraining, ECCV 2018)",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="swin_t",
        builder=swin_t,
        preprocess=torch_imagenet_preprocess,
        min_size=32,
        default_size=224,
        feature_layer="norm",
        paper="Liu et al., Swin Transformer: Hierarchical Vision Transformer using Shifted Windows, ICCV 2021 "
        "(torchvision swin_t)",
        native_head=global_pool_head,
    )
)
register_backbone(
    BackboneSpec(
        name="vit_s16",
        builder=vit_s16,
        preprocess=scale_to_unit,  # timm's vit_small_patch16_224: mean = std = 0.5
        min_size=32,
        default_size=224,
        feature_layer="patch_grid",
        paper="Dosovitskiy et al., An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale, "
        "ICLR 2021 (ViT-S/16 as timm vit_small_patch16_224)",
        native_head=vit_head,
        token_layer="block12_norm1",  # pytorch-grad-cam's ViT target: the last block's first LayerNorm
    )
)
