"""The one way this suite loads a saved model: Keras safe mode (a Lambda layer's code is never run), any failure one
clear error naming the file. Importing ``sras_keras.models`` (this module's package) registers the custom layers."""

from __future__ import annotations

from pathlib import Path

import keras

from sras_keras.core.errors import SrasError
from sras_keras.models.srafbn.model import SRAFBN


def _load(path: str | Path, missing: str = "no such model file") -> keras.Model:
    """A model saved by this suite; ``missing`` says what to do when the file is not there."""
    path = Path(path)
    if not path.is_file():
        raise SrasError(f"{path}: {missing}")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001  Keras raises many types for a wrong, damaged or unsafe file
        first_line = str(error).splitlines()[0][:300] if str(error) else ""
        raise SrasError(
            f"{path}: not a loadable Keras model in safe mode ({type(error).__name__}: {first_line})"
        ) from None


def load_classifier(path: str | Path) -> keras.Model:
    """A classifier trained by ``sras train``."""
    return _load(path, missing="no trained model (run `sras train` first, or --resume it)")


def load_sr_model(path: str | Path) -> SRAFBN:
    """An SRAFBN trained by ``sras sr train``; another kind of model is refused."""
    model = _load(path)
    if not isinstance(model, SRAFBN):
        raise SrasError(f"{path}: holds a {type(model).__name__}, not an SRAFBN super-resolution model")
    return model
