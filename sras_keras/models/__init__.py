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
from sras_keras.models.srafbn import PRESETS, SRAFBN
from sras_keras.models.step_attention import StepAttention

__all__ = [
    "PRESETS",
    "SRAFBN",
    "BackboneSpec",
    "ConvPReLU",
    "FeedbackBlock",
    "GrayToRGB",
    "StepAttention",
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
