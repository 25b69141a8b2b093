"""The one way this suite loads a saved model: Keras safe mode (a Lambda layer's code is never run), any failure one
clear error naming the file. Importing ``sras_keras.models`` (this module's package) registers the custom layers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path
from sras_keras.models.srafbn.model import SRAFBN

# A saved model's weights hardly compress (Keras stores them; `sras export` deflates them by well under 2x), so an
# archive whose members claim more than this many times its own size, beyond a floor, is a decompression bomb.
MAX_EXPANSION = 20
BOMB_FLOOR_BYTES = 256 << 20


def check_archive(path: str | Path) -> None:
    """Refuse a zip archive (a ``.keras`` model) that is damaged or whose members declare far more bytes than it
    holds, before Keras inflates them into memory: Keras's own guard lets a member claim up to 4 GiB. Python's
    zipfile never inflates a member past its declared size, so checking the declared sizes bounds the memory."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise SrasError(
            f"{display_path(path)}: not a readable .keras archive ({type(error).__name__}: {error})"
        ) from None
    size = path.stat().st_size
    if declared > BOMB_FLOOR_BYTES and declared > MAX_EXPANSION * size:
        raise SrasError(
            f"{display_path(path)}: its members would inflate to {declared:,} bytes from {size:,} "
            "(a decompression bomb?); refused before loading"
        )


def _load(path: str | Path, missing: str = "no such model file") -> keras.Model:
    """A model saved by this suite; ``missing`` says what to do when the file is not there."""
    path = Path(path)
    if not path.is_file():
        raise SrasError(f"{path}: {missing}")
    check_archive(path)
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
