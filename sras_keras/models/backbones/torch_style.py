"""What the package-written PyTorch-style backbones share: preprocessing, the no-ImageNet-weights error, DropPath.

The two-step study (Sci. Rep. 2026) fine-tuned torchvision / timm models. Keras has no ImageNet weights for ResNet-34,
ResNeXt, VGG-BN, Swin-T or ViT-S/16, and nothing here downloads PyTorch checkpoints: ImageNet starts for these come
from a local `.weights.h5` saved from the same Keras architecture (`--weights PATH`), which `sras weights convert`
makes from the torchvision / timm checkpoint (`torch_mapping`). The layer structure follows PyTorch for that:
symmetric zero padding, BatchNorm epsilon 1e-5 (PyTorch's momentum 0.1 is Keras' 0.9), LayerNorm epsilons as
torchvision / timm.
"""

import keras

from sras_keras.core.errors import SrasError

BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d
BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1 on the new batch is Keras' 0.9 on the running value
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def torch_imagenet_preprocess(images):
    """RGB [0, 255] -> torchvision's `Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)` of [0, 1] pixels."""
    mean = keras.ops.convert_to_tensor([255.0 * m for m in _IMAGENET_MEAN], dtype=images.dtype)
    std = keras.ops.convert_to_tensor([255.0 * s for s in _IMAGENET_STD], dtype=images.dtype)
    return (images - mean) / std


def check_no_imagenet(name: str, weights) -> None:
    """Refuse `weights="imagenet"` for an architecture Keras publishes no ImageNet weights for; never download."""
    if weights is None:
        return
    if weights == "imagenet":
        raise SrasError(
            f"backbone {name!r} has no Keras ImageNet weights (its published ImageNet checkpoints are PyTorch files, "
            "which this package does not download); pass a local .weights.h5 of the same architecture with "
            f"--weights PATH (`sras weights convert` makes one from the {name} checkpoint as .safetensors), or "
            "train from scratch (--weights none)"
        )
    raise SrasError(f"backbone {name!r}: the builder takes weights=None; local files go through build_backbone")


def batch_norm(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


@keras.saving.register_keras_serializable(package="sras_keras")
class DropPath(keras.layers.Layer):
    """Stochastic depth on a residual branch (torchvision `StochasticDepth(p, "row")`, timm `DropPath`).

    In training each sample's branch is zeroed with probability `rate` and survivors are scaled by 1 / (1 - rate);
    at inference it is the identity.

    Args:
        rate: drop probability in [0, 1).
    """

    def __init__(self, rate: float = 0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        mask = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype) < keep
        return keras.ops.where(mask, inputs / keep, keras.ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
