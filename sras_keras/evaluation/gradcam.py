"""Grad-CAM (Selvaraju et al., ICCV 2017) as the two-step study draws it (Figs 3-4): class-activation maps from
the last spatial feature map, ReLU, bilinear upsampling to the input, normalised to [0, 1], jet overlay.

For an SRAS classifier the feature map is its nested backbone's output (each registry entry's `feature_layer`,
the backbone's last 4-D layer); where the backbone ends in a token sequence (ViT under its native class-token
head) it is the registry's `token_layer`, whose patch tokens are laid out as their grid. Any other model names its
layer.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from matplotlib import colormaps

from sras_keras.core.errors import SrasError
from sras_keras.models.classifier import classifier_backbone, classifier_backbone_name
from sras_keras.models.heads import FEATURES_LAYER
from sras_keras.models.registry import get_backbone


def gradcam_model(model: keras.Model, feature_layer: str | None = None) -> keras.Model:
    """``inputs -> (feature map, probabilities)``: the classifier's backbone output unless ``feature_layer``."""
    if feature_layer is None:  # re-wire the classifier so its nested backbone's output is reachable
        backbone = classifier_backbone(model)
        inputs = keras.Input(model.input_shape[1:])
        rgb = model.get_layer("gray_to_rgb")(inputs)
        if len(backbone.output.shape) == 4:
            features = outputs = backbone(rgb)
        else:  # a token sequence: read the registry's token layer, on the way to the backbone's output
            token_layer = get_backbone(classifier_backbone_name(model)).token_layer
            if token_layer is None:
                raise SrasError(
                    f"Grad-CAM: backbone {backbone.name!r} ends in {backbone.output.shape}, not a "
                    f"spatial map, and names no token layer"
                )
            features, outputs = keras.Model(backbone.inputs, [backbone.get_layer(token_layer).output, backbone.output])(
                rgb
            )
        for name in (FEATURES_LAYER, "dropout", "probabilities"):
            outputs = model.get_layer(name)(outputs)
        return keras.Model(inputs, [features, outputs])
    layer = model.get_layer(feature_layer)
    if len(layer.output.shape) != 4:
        raise SrasError(f"Grad-CAM needs a spatial (4-D) feature map; layer {layer.name!r} gives {layer.output.shape}")
    return keras.Model(model.inputs, [layer.output, model.output])


def grad_cam(model: keras.Model, images: np.ndarray, classes, feature_layer: str | None = None) -> np.ndarray:
    """Maps (B, H, W) in [0, 1] of how much each input region raised the probability of ``classes`` (one class
    index per image: the true one for correct samples; predicted and true in turn for errors)."""
    images = np.asarray(images, dtype=np.float32)
    classes = np.asarray(classes, dtype=np.int32).reshape(-1)
    if len(classes) != len(images):
        raise SrasError(f"{len(classes)} classes for {len(images)} images")
    explainer = gradcam_model(model, feature_layer)
    inputs = tf.constant(images)
    with tf.GradientTape() as tape:
        features, probabilities = explainer(inputs, training=False)
        scores = tf.gather(probabilities, classes, axis=1, batch_dims=1)
    gradients = tape.gradient(scores, features)
    if len(features.shape) == 3:  # (B, prefix + h*w, C) tokens: the patch tokens as their (B, h, w, C) grid
        features, gradients = _token_grid(features), _token_grid(gradients)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)  # one weight per channel: pooled gradients
    maps = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., tf.newaxis]
    maps = tf.image.resize(maps, images.shape[1:3], method="bilinear")[..., 0].numpy()
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)


def _token_grid(tokens):
    """Patch tokens as a square grid, leading (class) tokens dropped."""
    count = tokens.shape[1]
    side = int(np.sqrt(count))
    while side * side > count - 1:  # at least one prefix token: the largest square below the count
        side -= 1
    return tf.reshape(tokens[:, count - side * side :, :], (-1, side, side, tokens.shape[-1]))


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """A grayscale (H, W) uint8 image under a jet-coloured heatmap in [0, 1]: (H, W, 3) uint8."""
    gray = np.repeat(np.asarray(image, dtype=np.float32)[..., None] / 255.0, 3, axis=-1)
    coloured = colormaps["jet"](np.clip(heatmap, 0, 1))[..., :3]
    return np.round(255 * ((1 - alpha) * gray + alpha * coloured)).astype(np.uint8)
