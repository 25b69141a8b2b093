"""The SRAS-net classification stage: a registered ImageNet backbone under a 24-way softmax head.

Inputs are gray chromosome images (S, S, 1) in [0, 255]; the model carries its own RGB expansion
and backbone preprocessing, so an exported `.keras` file needs nothing but this package.
"""

import keras

from sras_keras.core.errors import SrasError
from sras_keras.models.heads import FEATURES_LAYER
from sras_keras.models.registry import build_backbone, get_backbone

HEADS = ("sras", "native")
_POOLINGS = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D}


@keras.saving.register_keras_serializable(package="sras_keras")
class GrayToRGB(keras.layers.Layer):
    """Copies the gray channel into R, G and B, then applies the backbone's own `preprocess_input`.

    Replication (not a learned conv) keeps ImageNet filters meaningful on gray input; the
    backbone name in the config is what `classifier_backbone_name` and `check_compatible` read.

    Args:
        backbone: a registered backbone name, selecting the preprocessing.
    """

    def __init__(self, backbone, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.preprocess = get_backbone(backbone).preprocess

    def call(self, inputs):
        return self.preprocess(keras.ops.repeat(inputs, 3, axis=-1))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)

    def get_config(self):
        config = super().get_config()
        config.update({"backbone": self.backbone})
        return config


def build_classifier(
    backbone,
    input_size,
    num_classes=24,
    weights=None,
    dropout=None,
    pooling="avg",
    head="sras",
    batchnorm_momentum=None,
):
    """`sras_<backbone>` (`sras_<backbone>_native` with the native head): gray (S, S, 1) in [0, 255] -> class
    probabilities (float32).

    Args:
        backbone: a registered backbone name.
        input_size: square input side S.
        num_classes: softmax width (24 chromosome classes).
        weights: backbone weights, as for `build_backbone`; the head always starts random.
        dropout: dropout rate right before the softmax layer; None: 0.5 for the SRAS head, the architecture's own
            rate for the native head (torchvision's: VGG 0.5, MobileNetV3 0.2, none elsewhere).
        pooling: "avg" or "max" global pooling of the last feature map (SRAS head).
        head: "sras" (GAP -> Dropout -> Dense, as SRAS-net) or "native" (the architecture's own torchvision /
            timm classifier with `num_classes` outputs, `BackboneSpec.native_head`). Either way the vector the
            final Dense sees is the layer `features` and the softmax is `probabilities`.
        batchnorm_momentum: moving-average momentum of every BatchNorm layer (Keras' convention: the weight of the
            running value); None keeps the architecture's own (Keras' MobileNetV3: 0.999, ResNet: 0.99).
    """
    if head not in HEADS:
        raise SrasError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    if pooling not in _POOLINGS:
        raise SrasError(f"unknown pooling {pooling!r}; choose one of {', '.join(_POOLINGS)}")
    spec = get_backbone(backbone)
    if head == "native" and spec.native_head is None:
        raise SrasError(f"backbone {backbone!r} has no native head registered; use head='sras'")
    base = build_backbone(backbone, input_size, weights)
    if head == "native":
        base, pool, default_dropout = spec.native_head(base)
    else:
        pool, default_dropout = _POOLINGS[pooling](name=FEATURES_LAYER), 0.5
    inputs = keras.Input((input_size, input_size, 1), name="image")
    # float32 keeps the caffe-style mean subtraction exact under mixed precision; the backbone casts on entry.
    rgb = GrayToRGB(backbone, dtype="float32", name="gray_to_rgb")(inputs)
    features = pool(base(rgb))
    dropped = keras.layers.Dropout(default_dropout if dropout is None else dropout, name="dropout")(features)
    # A float32 softmax keeps probabilities and the loss stable under a mixed_float16 policy.
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(dropped)
    suffix = "_native" if head == "native" else ""
    model = keras.Model(inputs, outputs, name=f"sras_{backbone}{suffix}")
    if batchnorm_momentum is not None:
        set_batchnorm_momentum(model, batchnorm_momentum)
    return model


def set_batchnorm_momentum(model: keras.Model, momentum: float) -> None:
    """Short runs need fast-moving BatchNorm statistics: after ~100 steps at 0.99-0.999 the moving averages are
    still far from the batches' and inference-mode outputs collapse, even on the very batches that training mode
    gets right. The value is saved in the layer configs, so reloaded models keep it."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            set_batchnorm_momentum(layer, momentum)
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def classifier_backbone_name(model: keras.Model) -> str:
    return _gray_to_rgb(model).backbone


def classifier_backbone(model: keras.Model) -> keras.Model:
    """The nested headless backbone, e.g. to save its weights or reach its Grad-CAM layer."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise SrasError(f"model {model.name!r} is not an SRAS classifier (no single nested backbone)")
    return nested[0]


def check_compatible(model: keras.Model, backbone: str, num_classes: int, input_size=None, source=None) -> None:
    """Raise an `SrasError` when a loaded classifier is not the one the run asked for.

    Args:
        model: the loaded classifier.
        backbone, num_classes, input_size: what the run asked for (`input_size` None: any).
        source: the file it came from, named in the error.
    """
    origin = f"{source}: " if source else ""
    found_backbone = classifier_backbone_name(model)
    found_classes = model.output_shape[-1]
    found_size = model.input_shape[1]
    if found_backbone != backbone or found_classes != num_classes or input_size not in (None, found_size):
        asked_size = f" at {input_size}x{input_size}" if input_size is not None else ""
        raise SrasError(
            f"{origin}model {model.name!r} is a {found_backbone} classifier with {found_classes} classes "
            f"at {found_size}x{found_size}; this run asks for {backbone} with {num_classes} classes{asked_size}"
        )


def feature_model(classifier: keras.Model) -> keras.Model:
    """The pooled feature vector the softmax sees (before dropout), e.g. for t-SNE plots."""
    return keras.Model(
        classifier.input, classifier.get_layer(FEATURES_LAYER).output, name=f"{classifier.name}_features"
    )


def _gray_to_rgb(model: keras.Model) -> GrayToRGB:
    for layer in model.layers:
        if isinstance(layer, GrayToRGB):
            return layer
    raise SrasError(f"model {model.name!r} is not an SRAS classifier (no GrayToRGB input layer)")
