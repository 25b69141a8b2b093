"""What the two-step transfer-learning study adds to a training run: a backbone carried over from another
run (the head replaced) and its two-stage optimisation (Adam, then SGD)."""

from __future__ import annotations

from pathlib import Path

import keras

from sras_keras.configs.train import OptimizationConfig
from sras_keras.core.errors import SrasError
from sras_keras.models import classifier_backbone, classifier_backbone_name
from sras_keras.models.saving import load_classifier

SGD_MOMENTUM = 0.9


def carry_backbone(model: keras.Model, source: str | Path) -> None:
    """Start ``model``'s backbone from the backbone of the trained classifier in ``source`` (a `.keras` file, loaded
    in safe mode); the head stays freshly initialised, so the class sets of the two stages need not agree."""
    trained = load_classifier(Path(source))
    if classifier_backbone_name(trained) != classifier_backbone_name(model):
        raise SrasError(
            f"{source}: a {classifier_backbone_name(trained)} classifier cannot start a "
            f"{classifier_backbone_name(model)} run"
        )
    body, trained_body = classifier_backbone(model), classifier_backbone(trained)
    shapes = [tuple(w.shape) for w in body.weights], [tuple(w.shape) for w in trained_body.weights]
    if shapes[0] != shapes[1]:
        raise SrasError(
            f"{source}: its backbone's weights do not fit this run's (another input size: "
            f"{trained.input_shape[1]} px here {model.input_shape[1]} px?)"
        )
    body.set_weights(trained_body.get_weights())


def optimizer_stages(optimization: OptimizationConfig) -> list[tuple[int, int, str]]:
    """[(first epoch, end epoch, "adam" | "sgd")]: one stage, or Adam until ``sgd_epoch`` then SGD to the end."""
    if optimization.optimizer == "adam":
        return [(0, optimization.epochs, "adam")]
    return [(0, optimization.sgd_epoch, "adam"), (optimization.sgd_epoch, optimization.epochs, "sgd")]


def make_optimizer(kind: str, optimization: OptimizationConfig, adam_rate) -> keras.optimizers.Optimizer:
    """Adam or SGD; ``weight_decay`` is Keras' decoupled decay (AdamW's, kept in the saved optimizer's config, so a
    resumed run decays the same way)."""
    decay = optimization.weight_decay or None
    if kind == "adam":
        return keras.optimizers.Adam(adam_rate, weight_decay=decay)
    return keras.optimizers.SGD(optimization.sgd_learning_rate, momentum=SGD_MOMENTUM, weight_decay=decay)


def optimizer_kind(model: keras.Model) -> str | None:
    """The stage a compiled (or loaded) model's optimizer belongs to."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    return "sgd" if isinstance(optimizer, keras.optimizers.SGD) else "adam"
