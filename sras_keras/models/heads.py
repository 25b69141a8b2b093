"""Each architecture's own (torchvision / timm) classifier head, for `build_classifier(..., head="native")`.

A native head is `native_head(base) -> (backbone, features_layer, dropout)`:
- `backbone`: the model nested in the classifier, `base` itself, or for ViT a view of the same layers ending at
  `encoder_norm` (all tokens), since the class token is not in the 4-D patch grid the headless model returns;
- `features_layer`: ONE layer, named `features`, from the backbone output to the vector the final Dense sees (so
  `feature_model`, t-SNE and Grad-CAM's re-wiring `features -> dropout -> probabilities` work as for the SRAS
  head); multi-layer heads (VGG, MobileNetV3) are one composite layer;
- `dropout`: the rate of torchvision's dropout right before its last Linear (0 where there is none).
`build_classifier` adds that `Dropout` ("dropout") and the float32 softmax `Dense(num_classes)` ("probabilities"),
which is torchvision's last Linear with `num_classes` outputs.

Differences from torchvision that do not change parameter counts:
- Keras' ConvNeXt without its top already ends with the LayerNorm torchvision applies after pooling, but applies it
  to every position before pooling; the native ConvNeXt head is therefore GAP only (one LayerNorm in all, as in
  torchvision, counted in the backbone).
- With Keras' ImageNet weights, VGG-16's two 4096 layers and MobileNetV3's 1280 layer start random (Keras' no-top
  files stop before them), where a torchvision fine-tune keeps them pretrained.
"""

import keras
import numpy as np

FEATURES_LAYER = "features"  # the penultimate vector: t-SNE, Grad-CAM and feature models read it by this name


def adaptive_pool_matrix(size: int, out: int) -> np.ndarray:
    """(out, size) averaging weights of PyTorch's `AdaptiveAvgPool` along one axis: bin i averages
    [floor(i * size / out), ceil((i + 1) * size / out)); a side smaller than `out` repeats its pixels."""
    matrix = np.zeros((out, size), dtype=np.float32)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


@keras.saving.register_keras_serializable(package="sras_keras")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """PyTorch `AdaptiveAvgPool2d(output_size)` on a (B, H, W, C) map of static size: exact bins, any H and W.

    Args:
        output_size: (h, w) of the output.
    """

    def __init__(self, output_size=(7, 7), **kwargs):
        super().__init__(**kwargs)
        self.output_size = tuple(int(side) for side in output_size)

    def call(self, inputs):
        rows = adaptive_pool_matrix(inputs.shape[1], self.output_size[0])
        cols = adaptive_pool_matrix(inputs.shape[2], self.output_size[1])
        rows = keras.ops.convert_to_tensor(rows, dtype=inputs.dtype)
        cols = keras.ops.convert_to_tensor(cols, dtype=inputs.dtype)
        return keras.ops.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": list(self.output_size)})
        return config


@keras.saving.register_keras_serializable(package="sras_keras")
class VGGClassifierFeatures(keras.layers.Layer):
    """torchvision VGG's `avgpool` + `classifier[:-1]`: AdaptiveAvgPool2d(7, 7), flatten (in PyTorch's channel-major
    order, so converted weights fit), Linear 4096, ReLU, Dropout, Linear 4096, ReLU (the last Dropout is the
    classifier's "dropout" layer).

    Args:
        units: hidden width (4096).
        dropout: rate of the dropout between the two hidden layers (torchvision: 0.5).
        pool_size: the adaptive pooling's output side (7).
    """

    def __init__(self, units: int = 4096, dropout: float = 0.5, pool_size: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        self.pool_size = int(pool_size)
        self.pool = AdaptiveAveragePooling2D((self.pool_size, self.pool_size), name="avgpool")
        self.fc1 = keras.layers.Dense(self.units, activation="relu", name="fc1")
        self.drop = keras.layers.Dropout(self.dropout, name="fc1_dropout")
        self.fc2 = keras.layers.Dense(self.units, activation="relu", name="fc2")

    def build(self, input_shape):
        self.fc1.build((None, self.pool_size * self.pool_size * input_shape[-1]))
        self.fc2.build((None, self.units))

    def call(self, inputs, training=None):
        x = self.pool(inputs)
        x = keras.ops.reshape(keras.ops.transpose(x, (0, 3, 1, 2)), (-1, x.shape[-1] * self.pool_size**2))
        return self.fc2(self.drop(self.fc1(x), training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "dropout": self.dropout, "pool_size": self.pool_size})
        return config


@keras.saving.register_keras_serializable(package="sras_keras")
class PooledDense(keras.layers.Layer):
    """MobileNetV3's `avgpool` + `classifier[:2]`: global average pooling, Linear, hardswish.

    Args:
        units: width (1280 for MobileNetV3-Large).
        activation: "hard_swish".
    """

    def __init__(self, units: int = 1280, activation: str = "hard_swish", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activation
        self.dense = keras.layers.Dense(self.units, activation=activation, name="dense")

    def build(self, input_shape):
        self.dense.build((None, input_shape[-1]))

    def call(self, inputs):
        return self.dense(keras.ops.mean(inputs, axis=(1, 2)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "activation": self.activation})
        return config


@keras.saving.register_keras_serializable(package="sras_keras")
class ClassTokenPool(keras.layers.Layer):
    """(B, 1 + N, C) tokens -> (B, C): the class token (ViT's head reads it after the final LayerNorm)."""

    def call(self, inputs):
        return inputs[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def global_pool_head(base):
    """ResNet, ResNeXt, ConvNeXt (see the module note), Swin (its final LayerNorm is in the backbone): GAP -> Linear."""
    return base, keras.layers.GlobalAveragePooling2D(name=FEATURES_LAYER), 0.0


def vgg_head(base):
    """torchvision VGG: AdaptiveAvgPool(7, 7) -> 4096 -> ReLU -> Dropout -> 4096 -> ReLU -> Dropout(0.5) -> Linear."""
    return base, VGGClassifierFeatures(name=FEATURES_LAYER), 0.5


def mobilenet_v3_large_head(base):
    """torchvision MobileNetV3-Large: GAP -> Linear 1280 -> hardswish -> Dropout(0.2) -> Linear."""
    return base, PooledDense(1280, "hard_swish", name=FEATURES_LAYER), 0.2


def vit_head(base):
    """ViT: the class token after the final LayerNorm -> Linear; the nested backbone is `base` re-wired to end at
    `encoder_norm` (the same layers and weights, so weights files of either view fit the other).

    Grad-CAM: this view ends in a token sequence, not a 4-D map, and the class token does not depend on the last
    block's patch outputs, so `grad_cam` reads the registry's `token_layer` (the last block's `norm1`, as
    pytorch-grad-cam does) as a grid; on the SRAS-head ViT it uses `patch_grid`."""
    tokens = keras.Model(base.inputs, base.get_layer("encoder_norm").output, name=base.name)
    return tokens, ClassTokenPool(name=FEATURES_LAYER), 0.0
