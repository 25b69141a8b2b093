"""SRAFBN super-resolution models; importing this package registers them for `keras.saving.load_model`."""

from sras_keras.models.conv_prelu import ConvPReLU
from sras_keras.models.feedback_block import FeedbackBlock
from sras_keras.models.srafbn import PRESETS, SRAFBN
from sras_keras.models.step_attention import StepAttention

__all__ = ["PRESETS", "SRAFBN", "ConvPReLU", "FeedbackBlock", "StepAttention"]
