"""An open registry of ImageNet classification backbones the chromosome classifier can sit on.

Each architecture is one `register_backbone` call, so a later study adds VGG-16, ResNet-101,
ConvNeXt-Tiny, ... without touching the classifier or the trainer.
"""

import dataclasses
import functools
import re
import urllib.error
import warnings
from pathlib import Path
from typing import Callable

import keras

from sras_keras.errors import SrasError
from sras_keras.models.native_heads import global_pool_head, mobilenet_v3_large_head, vgg_head, vit_head
from sras_keras.models.resnet34 import resnet34
from sras_keras.models.resnext50_32x4d import resnext50_32x4d
from sras_keras.models.resnext101_32x8d import resnext101_32x8d
from sras_keras.models.resnext101_32x16d import resnext101_32x16d
from sras_keras.models.small_resnet import scale_to_unit, small_resnet
from sras_keras.models.swin_t import swin_t
from sras_keras.models.torch_style import torch_imagenet_preprocess
from sras_keras.models.vgg16_bn import vgg16_bn
from sras_keras.models.vgg19_bn import vgg19_bn
from sras_keras.models.vit_s16 import vit_s16

_REGISTRY: dict = {}
# How Keras reports a weight of the wrong shape, deep inside a long load failure.
_SHAPE_MISMATCH = re.compile(r"variable\.shape=(?P<expected>\([^)]*\)), Received: value\.shape=(?P<found>\([^)]*\))")


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """What the classifier needs to know about one architecture.

    Attributes:
        name: registry key, also used in classifier names (`sras_<name>`).
        builder: `builder(input_shape, weights)` -> headless model on (S, S, 3) inputs;
            `weights` is "imagenet" or None.
        preprocess: the architecture's own `preprocess_input`, applied to RGB in [0, 255].
        min_size: smallest input side the architecture accepts.
        default_size: the side its ImageNet weights were trained at.
        feature_layer: the last 4-D layer of the backbone, where Grad-CAM looks.
        paper: the reference for the architecture.
        native_head: the architecture's own classifier head for `build_classifier(..., head="native")`, as
            `native_head(base) -> (backbone, features_layer, dropout)` (see `sras_keras.models.native_heads`);
            None where only the SRAS head (GAP -> Dropout -> Dense) is offered.
        token_layer: where a native head reads a token sequence (ViT's class token): the layer whose patch tokens
            Grad-CAM reads instead, as a grid; the class token never depends on the last block's patch outputs.
    """

    name: str
    builder: Callable
    preprocess: Callable
    min_size: int
    default_size: int
    feature_layer: str
    paper: str
    native_head: Callable | None = None
    token_layer: str | None = None


def keras_application(constructor: Callable, output_name: str | None = None) -> Callable:
    """A `BackboneSpec.builder` for a `keras.applications` constructor, without its ImageNet head.

    `output_name`: end the model with an `Identity` of that name, a stable `feature_layer` where the constructor's
    last layer is auto-named (`layer_normalization_3`, `activation_17`: the numbers depend on what was built before).
    """

    def build(input_shape, weights):
        model = constructor(include_top=False, weights=weights, input_shape=input_shape)
        if output_name is None:
            return model
        outputs = keras.layers.Identity(name=output_name)(model.output)
        return keras.Model(model.inputs, outputs, name=model.name)

    return build


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Make `spec` buildable by name; a name can be registered once."""
    if spec.name in _REGISTRY:
        raise SrasError(f"backbone {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def backbone_names() -> list[str]:
    return sorted(_REGISTRY)


def get_backbone(name: str) -> BackboneSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SrasError(f"unknown backbone {name!r}; known backbones: {', '.join(backbone_names())}") from None


def build_backbone(name: str, input_size: int, weights=None) -> keras.Model:
    """The headless backbone on (input_size, input_size, 3) inputs.

    Args:
        name: a registered backbone.
        input_size: input side in pixels, at least the backbone's `min_size`.
        weights: "imagenet" (Keras' own download and cache), None or "none" (random), or the
            path of a local `.weights.h5` / `.h5` file saved from the same architecture.
    """
    spec = get_backbone(name)
    if input_size < spec.min_size:
        raise SrasError(
            f"backbone {name!r} needs inputs of at least {spec.min_size}x{spec.min_size} pixels; "
            f"asked for {input_size}x{input_size}"
        )
    input_shape = (input_size, input_size, 3)
    if weights == "imagenet":
        return _build_with_imagenet_weights(spec, input_shape)
    if weights is None or str(weights).lower() == "none":
        return spec.builder(input_shape, None)
    _check_weights_file(weights)  # before the build, which takes seconds for the larger backbones
    model = spec.builder(input_shape, None)
    load_weights_file(model, weights)
    return model


def _build_with_imagenet_weights(spec: BackboneSpec, input_shape) -> keras.Model:
    try:
        return spec.builder(input_shape, "imagenet")
    except Exception as error:
        if not _is_download_failure(error):
            raise
        raise SrasError(
            f"ImageNet weights for backbone {spec.name!r} could not be fetched ({error}); "
            "Keras caches them in ~/.keras/models (or $KERAS_HOME/models), so copy the file there, "
            "or pass a local weights file with --weights PATH"
        ) from error


def _is_download_failure(error: BaseException) -> bool:
    """Keras' `get_file` re-raises urllib errors as a bare `Exception`; the cause stays in the chain."""
    while error is not None:
        if isinstance(error, (urllib.error.URLError, OSError)):
            return True
        error = error.__cause__ or error.__context__
    return False


def load_weights_file(model: keras.Model, path) -> None:
    """`model.load_weights(path)`, with a missing or mismatched file reported as an `SrasError`.

    Keras warns once per unmatched nested container before it raises; on a mismatch those warnings
    are dropped so the error stays one clear line, on success they are passed on.
    """
    path = _check_weights_file(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except (ValueError, KeyError, OSError) as error:
            raise SrasError(
                f"weights file {path} does not fit model {model.name!r} "
                f"(another architecture, input channels or class count?): {_summary(error)}"
            ) from error
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _check_weights_file(path) -> Path:
    path = Path(path)
    if not path.name.endswith(".h5"):
        raise SrasError(f"weights file {path}: expected a .weights.h5 or .h5 file")
    if not path.is_file():
        raise SrasError(f"weights file {path} does not exist")
    return path


def _summary(error: BaseException) -> str:
    """Keras' first line, plus the first shape mismatch it buries (with variable values) further down."""
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    mismatch = _SHAPE_MISMATCH.search(text)
    if mismatch:
        first_line += f" The model expects {mismatch['expected']} where the file has {mismatch['found']}."
    return first_line


register_backbone(
    BackboneSpec(
        name="inception_resnet_v2",
        builder=keras_application(keras.applications.InceptionResNetV2),
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
        preprocess=keras.applications.vgg19.preprocess_input,
        min_size=32,
        default_size=224,
        feature_layer="block5_pool",
        paper="Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image "
        "Recognition, ICLR 2015",
        native_head=vgg_head,
    )
)
register_backbone(
    BackboneSpec(
        name="resnet50",
        builder=keras_application(keras.applications.ResNet50),
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
        paper=_RESNEXT + " (32x16d: Mahajan et al., Exploring the Limits of Weakly Supervised Pretraining, "
        "ECCV 2018)",
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
