"""Models: SRAFBN super-resolution and the classifiers; importing this package registers every custom layer for
``keras.saving.load_model`` and every backbone of the registry."""

from sras_keras.models.backbones import catalog  # noqa: F401  (registers every backbone)
from sras_keras.models.backbones.swin_t import PatchMergingGather, ShiftedWindowAttention
from sras_keras.models.backbones.torch_style import DropPath
from sras_keras.models.backbones.vit_s16 import ClassTokenPositionEmbedding, PatchTokensToGrid
from sras_keras.models.classifier import (
    GrayToRGB,
    build_classifier,
    check_compatible,
    classifier_backbone,
    classifier_backbone_name,
    feature_model,
)
from sras_keras.models.heads import AdaptiveAveragePooling2D, ClassTokenPool, PooledDense, VGGClassifierFeatures
from sras_keras.models.losses import SmoothedSparseCrossentropy
from sras_keras.models.registry import (
    BackboneSpec,
    backbone_names,
    build_backbone,
    get_backbone,
    load_weights_file,
    register_backbone,
)
from sras_keras.models.srafbn.conv_prelu import ConvPReLU
from sras_keras.models.srafbn.feedback_block import FeedbackBlock
from sras_keras.models.srafbn.model import PRESETS, SRAFBN
from sras_keras.models.srafbn.step_attention import StepAttention
from sras_keras.models.tl_architectures import TL_ARCHITECTURES

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
