"""Models: SRAFBN super-resolution and the classifiers; importing this package registers every custom layer for
``keras.saving.load_model``."""

from sras_keras.models.backbones import (
    BackboneSpec,
    backbone_names,
    build_backbone,
    get_backbone,
    load_weights_file,
    register_backbone,
)
from sras_keras.models.classifier import (
    GrayToRGB,
    build_classifier,
    check_compatible,
    classifier_backbone,
    classifier_backbone_name,
    feature_model,
)
from sras_keras.models.conv_prelu import ConvPReLU
from sras_keras.models.feedback_block import FeedbackBlock
from sras_keras.models.native_heads import AdaptiveAveragePooling2D, ClassTokenPool, PooledDense, VGGClassifierFeatures
from sras_keras.models.smoothed_crossentropy import SmoothedSparseCrossentropy
from sras_keras.models.srafbn import PRESETS, SRAFBN
from sras_keras.models.step_attention import StepAttention
from sras_keras.models.swin_t import PatchMergingGather, ShiftedWindowAttention
from sras_keras.models.tl_architectures import TL_ARCHITECTURES
from sras_keras.models.torch_style import DropPath
from sras_keras.models.vit_s16 import ClassTokenPositionEmbedding, PatchTokensToGrid

__all__ = [
    "PRESETS",
    "SRAFBN",
    "TL_ARCHITECTURES",
    "AdaptiveAveragePooling2D",
    "BackboneSpec",
    "ClassTokenPool",
    "ClassTokenPositionEmbedding",
    "ConvPReLU",
    "DropPath",
    "FeedbackBlock",
    "GrayToRGB",
    "PatchMergingGather",
    "PatchTokensToGrid",
    "PooledDense",
    "ShiftedWindowAttention",
    "SmoothedSparseCrossentropy",
    "StepAttention",
    "VGGClassifierFeatures",
    "backbone_names",
    "build_backbone",
    "build_classifier",
    "check_compatible",
    "classifier_backbone",
    "classifier_backbone_name",
    "feature_model",
    "get_backbone",
    "load_weights_file",
    "register_backbone",
]
