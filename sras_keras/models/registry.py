"""An open registry of ImageNet classification backbones the chromosome classifier can sit on.

Each architecture is one `register_backbone` call (``models/backbones/catalog.py`` holds this suite's), so a later
study adds ConvNeXt-Tiny, ... without touching the classifier or the trainer.
"""

import dataclasses
import re
import urllib.error
import warnings
from pathlib import Path
from typing import Callable

import keras

from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path

_REGISTRY: dict = {}
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # how every file Keras saves weights in begins
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
            `native_head(base) -> (backbone, features_layer, dropout)` (see `sras_keras.models.heads`);
            None where only the SRAS head (GAP -> Dropout -> Dense) is offered.
        token_layer: where a native head reads a token sequence (ViT's class token): the layer whose patch tokens
            Grad-CAM reads instead, as a grid; the class token never depends on the last block's patch outputs.
        imagenet: Keras publishes ImageNet weights for it (`weights="imagenet"` downloads them): what `sras train
            --weights` defaults to for it. The others start random or from a local file (`sras weights convert`).
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
    imagenet: bool = False


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
        except (ValueError, KeyError) as error:
            raise SrasError(
                f"weights file {display_path(path)} does not fit model {model.name!r} "
                f"(another architecture, input channels or class count?): {_summary(error)}"
            ) from error
        except Exception as error:  # noqa: BLE001  h5py raises OSError, RuntimeError, ... inside a damaged file
            raise SrasError(f"weights file {display_path(path)}: damaged ({_summary(error)})") from None
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _check_weights_file(path) -> Path:
    """An existing ``.h5`` file that starts as HDF5 does (checked before a model is built for it)."""
    path = Path(path)
    if not path.name.endswith(".h5"):
        raise SrasError(f"weights file {display_path(path)}: expected a .weights.h5 or .h5 file")
    if not path.is_file():
        raise SrasError(f"weights file {display_path(path)} does not exist")
    try:
        with open(path, "rb") as handle:
            start = handle.read(len(_HDF5_SIGNATURE))
    except OSError as error:
        raise SrasError(f"weights file {display_path(path)}: cannot read ({error.strerror or error})") from None
    if start != _HDF5_SIGNATURE:
        kind = "is a zip archive (a .keras model?)" if start.startswith(b"PK") else "is not an HDF5 file"
        raise SrasError(f"weights file {display_path(path)} {kind}; expected weights saved by model.save_weights")
    return path


def _summary(error: BaseException) -> str:
    """Keras' first line, plus the first shape mismatch it buries (with variable values) further down."""
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    mismatch = _SHAPE_MISMATCH.search(text)
    if mismatch:
        first_line += f" The model expects {mismatch['expected']} where the file has {mismatch['found']}."
    return first_line
