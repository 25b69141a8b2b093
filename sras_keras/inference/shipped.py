"""Model folders: what ``sras predict --model`` reads, and the trained models that ship inside the package.

A model folder holds what predicting needs and nothing else: ``model.keras``, ``preprocessing.json`` (the chain the
images went through in training), the SR model's copy when there was one, the size-evidence fits, and for a packaged
model its card (``card.json``, ``MODEL_CARD.md``). Any ``sras train`` run folder is one; ``sras models package``
makes a compact one from a run (float16 weights, no checkpoints or history), which is how the shipped models
(``sras_keras/inference/pretrained/<name>/``) were made.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np

from sras_keras.configs.inference import ModelCard
from sras_keras.configs.records import read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path
from sras_keras.core.run_files import ENV, FINAL, PREPROCESSING, SR_MODEL, size_evidence_file
from sras_keras.models.saving import check_archive

SHIPPED_ROOT = Path(__file__).resolve().parent / "pretrained"
WEIGHTS_MEMBER, CONFIG_MEMBER = "model.weights.h5", "config.json"  # inside a .keras archive
OPTIMIZER_GROUP = "optimizer"  # the optimizer's state in the weights: training needs it, predicting does not


def shipped_models() -> dict[str, Path]:
    """Name -> folder of every model packaged with sras-keras."""
    if not SHIPPED_ROOT.is_dir():
        return {}
    return {folder.name: folder for folder in sorted(SHIPPED_ROOT.iterdir()) if (folder / ModelCard.FILE).is_file()}


def shipped_card(name: str) -> ModelCard:
    return read_record(ModelCard, shipped_models()[name])


def model_folder(model: str) -> Path:
    """``--model``: a shipped model's name or a model folder (a run, or ``sras models package``'s output). A name
    that is both a shipped model and a folder here is refused rather than guessed."""
    shipped = shipped_models()
    path = Path(model)
    if model in shipped:
        if path.is_dir():
            raise SrasError(f"--model {model}: both a shipped model and a folder here; write ./{model} for the folder")
        return shipped[model]
    if path.is_dir():
        if not (path / FINAL).is_file():
            raise SrasError(f"{path}: no {FINAL}: not a trained run or model folder (`sras train` writes it last)")
        return path
    names = ", ".join(shipped) or "none installed"
    raise SrasError(f"--model {model}: neither a shipped model ({names}; `sras models` lists them) nor a folder")


def compact_model_file(source: Path, destination: Path) -> None:
    """A copy of a saved ``.keras`` model for predicting: without the optimizer's state, its float32 weights stored
    as float16 and compressed (a sixth of a trained model's file). Keras loads it as usual, uncompiled, into float32
    variables: the float16 rounding (a relative error of ~5e-4 per weight) is the only change to its outputs, and a
    packaged model's card is measured with the compact copy itself."""
    check_archive(source)  # its members are read into memory
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if WEIGHTS_MEMBER not in members:
        raise SrasError(f"{source}: no {WEIGHTS_MEMBER} inside: not a Keras 3 model file")
    compact = io.BytesIO()
    with h5py.File(io.BytesIO(members[WEIGHTS_MEMBER]), "r") as weights, h5py.File(compact, "w") as out:
        _copy_group(weights, out, skip=OPTIMIZER_GROUP)
    members[WEIGHTS_MEMBER] = compact.getvalue()
    config = json.loads(members[CONFIG_MEMBER])
    config.pop("compile_config", None)  # loaded uncompiled, so Keras looks for no optimizer state
    members[CONFIG_MEMBER] = json.dumps(config).encode()
    with atomic_path(destination) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _copy_group(source: h5py.Group, destination: h5py.Group, skip: str | None = None) -> None:
    for key, value in source.attrs.items():
        destination.attrs[key] = value
    for key, item in source.items():
        if key == skip:
            continue
        if isinstance(item, h5py.Group):
            _copy_group(item, destination.create_group(key))
            continue
        data = item[()]
        if isinstance(data, np.ndarray) and data.dtype == np.float32:
            data = data.astype(np.float16)
        large = isinstance(data, np.ndarray) and data.size > 64
        destination.create_dataset(key, data=data, **({"compression": "gzip"} if large else {}))


def copy_model_folder(run_dir: Path, out: Path) -> list[str]:
    """What predicting needs from ``run_dir``, into ``out`` (a new folder): the compact model, the preprocessing,
    the SR model's copy, the size-evidence fits and the run's env.json. Returns the files written."""
    written = []
    compact_model_file(run_dir / FINAL, out / FINAL)
    written.append(FINAL)
    fits = [size_evidence_file(tta, cell_bn) for tta in (False, True) for cell_bn in (False, True)]
    optional = [SR_MODEL, ENV, *fits]
    for name in [PREPROCESSING, *optional]:
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out / name)
            written.append(name)
        elif name == PREPROCESSING:
            raise SrasError(f"{run_dir}: no {PREPROCESSING}; train it with this version of sras-keras first")
    return written


@dataclasses.dataclass(frozen=True)
class ShippedSpec:
    """What a shipped model is and which recipe row trains it: ``sras models package RUN --name NAME`` reads it."""

    recipe: str
    row: str
    title: str
    band: str
    intended_input: str
    limits: tuple[str, ...]
    selection: str = ""  # how this row was chosen over another that could have been shipped


_COMMON_LIMITS = (
    "Trained on normal cells only (46,XX and 46,XY) of one set; abnormal karyotypes, other laboratories' staining, "
    "microscopes and resolutions are outside what its numbers measure: check it on your own labelled cells first.",
    "An image that is not one chromosome (an overlap, debris, a whole metaphase) is classified anyway: cut "
    "single chromosomes first.",
    "A research tool, not a medical device: a cytogeneticist reviews every karyotype.",
)
SHIPPED_SPECS = {
    "bioimlab-q": ShippedSpec(
        recipe="sras_net_headline",
        row="resnet_small_bn-gband-honest",
        title="Q-band chromosome classifier (the CPU headline: ResNet-small BN, 64 px, IAM x2)",
        band="Q",
        intended_input="One pre-cut Q-band chromosome per image (bright bands on a dark background, upright as cut "
        "for a karyogram, any size: IAM rescales it), a folder per cell for `--karyotype`.",
        limits=("Not for G-banded images (dark bands on white): use gband65-g.", *_COMMON_LIMITS),
    ),
    "gband65-g": ShippedSpec(
        recipe="sras_net_headline",
        row="resnet_small_bn-gband65-honest",
        title="G-band chromosome classifier (ResNet-small BN, 64 px, IAM x2, trained on gband65)",
        band="G",
        intended_input="One pre-cut G-band chromosome per image (dark bands on a white background, upright, any "
        "size), a folder per cell for `--karyotype` (or class folders with `--cell-regex`).",
        limits=(
            "gband65's cells are incomplete (mostly 41-46 chromosomes): whole-cell assignment expects 46.",
            "Not for Q-banded (fluorescent) images: use bioimlab-q.",
            *_COMMON_LIMITS,
        ),
        selection="over the same network reading plain grey levels (row `resnet_small_bn-gband65-plain-honest`, same "
        "seed and split) by validation accuracy, 96.05% vs 95.39%, not by the held-out numbers above, which then "
        "would no longer be held out; on these held-out cells that row scored 94.33% per image (single view).",
    ),
}


def card_texts(name: str, band: str | None = None, title: str | None = None) -> ShippedSpec:
    """A shipped model's texts, or for a user's own model generic ones for its ``band``."""
    if name in SHIPPED_SPECS:
        return SHIPPED_SPECS[name]
    colours = {"Q": "bright bands on a dark background", "G": "dark bands on a white background"}
    return ShippedSpec(
        recipe="",
        row="",
        title=title or name,
        band=band or "Q",
        intended_input=f"One pre-cut {band}-band chromosome per image ({colours.get(band, '')}), a folder per cell "
        "for `--karyotype`.",
        limits=_COMMON_LIMITS,
    )
