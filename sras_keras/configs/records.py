"""The JSON records of a converted dataset and of a run folder, typed: one dataclass per file, read by
``read_record`` and written by ``write_record``, nowhere else.

A converted dataset holds ``manifest.json`` (``Manifest``) and ``splits.json`` (``Splits``); a training run
``data.json`` (``RunData``), ``preprocessing.json`` (``configs.inference.Preprocessing``), ``config.json`` (its config
dataclass, ``read_config``/``write_config``), ``checkpoints/state.json`` (``TrainingState``), ``metrics.json``
(``ClassifierMetrics``), ``env.json`` (``Environment``, in every run folder) and, once fitted, ``size_evidence*.json``
(``SizeEvidenceFit``), in an experiment also ``row.json`` (``ExperimentRow``) or ``stage.json`` (``PretrainStage``); a
source tree upscaled by ``sras sr apply`` ``sr_apply.json`` (``SRApply``). Every file carries ``format_version``. A file
without one was written before the records were versioned, in version 1's layout, and is read as version 1; a newer
version than this code knows is refused, naming the file, rather than read wrong. Defaults for fields that older files
lack live in the dataclasses, so no reader guesses them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import ClassVar

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.io import write_json_atomic
from sras_keras.core.run_files import (
    DATA,
    ENV,
    MANIFEST,
    METRICS,
    PRETRAIN_STAGE,
    ROW,
    RUN_CONFIG,
    SPLITS,
    SR_APPLY,
    STATE,
    size_evidence_file,
)


@dataclasses.dataclass(frozen=True)
class DataSource:
    """The source tree a dataset was converted from."""

    root: str
    layout: str
    label_coding: str
    cell_regex: str | None
    checksum: str  # of every source file's path and content: the data's identity in env.json


@dataclasses.dataclass(frozen=True)
class Shard:
    file: str
    part: str
    kind: str  # "original", "rotated" or "synthetic"
    records: int
    bytes: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    """``manifest.json``: what ``sras data convert`` made, written last (its presence means the dataset is whole)."""

    FILE: ClassVar[str] = MANIFEST
    FORMAT_VERSION: ClassVar[int] = 1

    identity: str  # fingerprint of the config and the source data: a second conversion of the same is a no-op
    schema_version: int  # the TFRecord feature schema (data/tfrecord.py), not this file's layout
    env: dict
    config: ConvertConfig
    source: DataSource
    background: str  # "black" or "white"
    image_size: int
    rotations: int
    rotated_parts: list[str]
    validation_part: str | None
    parts: list[str]
    counts: dict  # images per part and class, records per part, SMOTE images per part
    shards: list[Shard]
    canvas: dict | None = None  # IAM: size, background and placement of the canvas crops are batched on; else None
    background_votes: dict = dataclasses.field(default_factory=dict)
    source_sizes: dict = dataclasses.field(default_factory=dict)
    duplicates_across_parts: list = dataclasses.field(default_factory=list)
    splits_sha256: str | None = None  # of splits.json, for `sras data verify`; None in manifests made before it

    @property
    def background_value(self) -> int:
        """The grey level of the background: what padding, canvases and SR borders are filled with."""
        return 255 if self.background == "white" else 0

    @classmethod
    def from_dict(cls, document: dict) -> Manifest:
        return cls(
            **{
                **document,
                "config": ConvertConfig.from_dict(document["config"]),
                "source": DataSource(**document["source"]),
                "shards": [Shard(**shard) for shard in document["shards"]],
            }
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SplitImage:
    """One source (or SMOTE) image of ``splits.json`` and the part it belongs to."""

    path: str  # relative to the source root (SMOTE images: smote/...)
    md5: str
    cell_id: str
    class_name: str
    part: str
    synthetic: bool = False
    parents: tuple[str, ...] = ()  # a SMOTE image's two source images
    smote_step: float = 0.0

    @classmethod
    def from_dict(cls, entry: dict) -> SplitImage:
        fields = {key: value for key, value in entry.items() if key != "class"}
        return cls(**{**fields, "class_name": entry["class"], "parents": tuple(entry.get("parents", ()))})

    def to_dict(self) -> dict:
        entry = {"path": self.path, "md5": self.md5, "cell_id": self.cell_id, "class": self.class_name}
        entry["part"] = self.part
        if self.synthetic:
            entry.update(synthetic=True, parents=list(self.parents), smote_step=self.smote_step)
        return entry


@dataclasses.dataclass(frozen=True)
class Splits:
    """``splits.json``: every image's part, so a split is saved, reusable (``--splits-file``) and groupable by cell."""

    FILE: ClassVar[str] = SPLITS
    FORMAT_VERSION: ClassVar[int] = 1

    config: SplitConfig
    validation_part: str | None
    source: DataSource
    counts: dict  # images per part
    images: list[SplitImage]

    @classmethod
    def from_dict(cls, document: dict) -> Splits:
        return cls(
            config=SplitConfig(**document["config"]),
            validation_part=document["validation_part"],
            source=DataSource(**document["source"]),
            counts=document["counts"],
            images=[SplitImage.from_dict(entry) for entry in document["images"]],
        )

    def to_dict(self) -> dict:
        return {
            "config": dataclasses.asdict(self.config),
            "validation_part": self.validation_part,
            "source": dataclasses.asdict(self.source),
            "counts": self.counts,
            "images": [image.to_dict() for image in self.images],
        }


@dataclasses.dataclass(frozen=True)
class RunData:
    """``data.json``: which dataset and parts a training run used, and so which protocol its numbers follow."""

    FILE: ClassVar[str] = DATA
    FORMAT_VERSION: ClassVar[int] = 1

    data_dir: str
    train: list[str]
    val: str  # where the checkpoint is selected
    test: str
    protocol: str  # "paper" when val is the test part (the published leak), else "honest"
    split: SplitConfig
    smote: bool | None = None

    @classmethod
    def from_dict(cls, document: dict) -> RunData:
        return cls(**{**document, "split": SplitConfig(**document["split"])})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ClassifierMetrics:
    """``metrics.json`` of a classifier run: the test part's metrics (evaluation/metrics.py) and what they rest on."""

    FILE: ClassVar[str] = METRICS
    FORMAT_VERSION: ClassVar[int] = 1

    images: int
    accuracy: float
    macro_f1: float
    auc_ovr: float
    per_class: dict  # class -> support, recall (Table 4's Acc.), precision, f1, binary_accuracy (eq. 18)
    confusion_matrix: list[list[int]]
    protocol: str
    test_part: str
    selected_on: str
    checkpoint_selected_on_test_set: bool
    synthetic_test_images: int
    best_epoch: int | None
    epochs_trained: int | None
    backbone: str
    weights: str
    seed: int

    @classmethod
    def from_dict(cls, document: dict) -> ClassifierMetrics:
        return cls(**document)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SRMetrics:
    """``metrics.json`` of ``sras sr evaluate``: PSNR and SSIM of bicubic and of each SRAFBN step, whole images and
    their foreground, on the whole held-out images of ``parts``."""

    FILE: ClassVar[str] = METRICS
    FORMAT_VERSION: ClassVar[int] = 1

    images: int
    parts: list[str]
    scale: int  # the SR factor
    shave: int  # border pixels left out of the scores, as SRFBN's evaluation
    data_range: float
    ssim_skipped_small_images: int
    srafbn_step: str  # the step the gain is measured for: the last
    whole: dict  # output ("bicubic", "step1", ...) -> {"psnr", "ssim"}
    foreground: dict
    gain_db: dict  # region -> PSNR of the last step minus bicubic's

    @classmethod
    def from_dict(cls, document: dict) -> SRMetrics:
        return cls(**document)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Environment:
    """``env.json``: the versions, commit and machine a run's numbers came from.

    ``core.provenance.environment()`` gathers the values and stays a plain dict: it is also embedded, as provenance
    and not as a file of its own, in other records (a manifest, an exported model, an upscaled tree, size evidence),
    and core sits below these versioned records. A writer types it here: ``Environment.from_dict(environment())``.
    """

    FILE: ClassVar[str] = ENV
    FORMAT_VERSION: ClassVar[int] = 1

    created: str  # UTC, ISO 8601
    sras_keras: str
    git_commit: str  # '+dirty' when tracked files differed from it
    python: str
    tensorflow: str
    keras: str
    numpy: str
    platform: str
    processor: str
    cpus: int  # the cores the process could use
    gpus: list[str]
    seed: int | None
    data_checksum: str | None
    precision: str | None = None  # the Keras dtype policy; None: not recorded (files written before it was)

    @classmethod
    def from_dict(cls, document: dict) -> Environment:
        return cls(**document)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Early stopping's counters at an epoch's commit: a resumed run stops, and keeps the weights of, the epoch an
    unbroken run would."""

    best: float  # the best value of the monitored metric so far (-inf before any)
    best_epoch: int  # the epoch (from 1) of that value, whose weights are kept; 0 before any
    wait: int  # epochs since then
    monitor: str


@dataclasses.dataclass(frozen=True)
class TrainingState:
    """``checkpoints/state.json``: the commit point of a training epoch, written after its checkpoint, so a resume
    starts from the epoch the checkpoint holds. SR runs stop by epoch count only: no ``early_stopping``. In the
    file, early stopping's fields sit beside ``epoch`` and ``logs``."""

    FILE: ClassVar[Path] = STATE
    FORMAT_VERSION: ClassVar[int] = 1

    epoch: int  # epochs trained: the ones the checkpoint holds
    logs: dict  # the last epoch's metrics
    early_stopping: EarlyStopping | None = None

    @classmethod
    def from_dict(cls, document: dict) -> TrainingState:
        counters = {field.name for field in dataclasses.fields(EarlyStopping)}
        early_stopping = {key: value for key, value in document.items() if key in counters}
        rest = {key: value for key, value in document.items() if key not in counters}
        return cls(**rest, early_stopping=EarlyStopping(**early_stopping) if early_stopping else None)

    def to_dict(self) -> dict:
        early_stopping = dataclasses.asdict(self.early_stopping) if self.early_stopping else {}
        return {"epoch": self.epoch, "logs": self.logs, **early_stopping}


@dataclasses.dataclass(frozen=True, kw_only=True)  # keyword-only: the fields keep the file's order
class SizeEvidenceFit:
    """``size_evidence.json`` (``core.run_files.size_evidence_file``: one per kind of probabilities) of ``sras
    size-evidence``: a run's cell-relative size evidence, how its weight was chosen, and the test part scored
    without and with it. Defaults are the values of fields that the first fits lack (single view only)."""

    FILE: ClassVar[str] = size_evidence_file()
    FORMAT_VERSION: ClassVar[int] = 1

    evidence: dict  # inference.size_evidence.SizeEvidence.to_dict(): per-class Gaussians and the chosen weight
    tta: bool = False  # the model's probabilities averaged with the mirror view's
    cell_bn: bool = False  # each cell normalised with its own BatchNorm statistics
    weight_chosen_on: str  # the part
    weight_chosen_on_test_set: bool
    validation_by_weight: dict  # weight -> {"log_loss", "accuracy"} on weight_chosen_on (the first fits: accuracy)
    test_images: int
    test_cells: int
    test_cells_whole: bool  # False: an image-level split left pieces of cells in the test part
    images_without_size_evidence: int
    test: dict  # "without", "with" -> the accuracy (argmax and assigned), macro-F1 and sex of the test part
    env: dict  # core.provenance.environment()

    @classmethod
    def from_dict(cls, document: dict) -> SizeEvidenceFit:
        fields = dict(document)
        if "validation_accuracy_by_weight" in fields:  # the first fits chose the weight of the best accuracy
            by_weight = fields.pop("validation_accuracy_by_weight")
            fields["validation_by_weight"] = {weight: {"accuracy": accuracy} for weight, accuracy in by_weight.items()}
        by_weight = {float(weight): scores for weight, scores in fields["validation_by_weight"].items()}
        return cls(**{**fields, "validation_by_weight": by_weight})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ExperimentRow:
    """``row.json``: the recipe row (``experiments.spec.Row`` without its configs, which the run's ``config.json``
    holds) that an experiment's run folder trained, and how long it took: what ``sras report table`` collects.
    Defaults are the values of fields that rows written before them lack."""

    FILE: ClassVar[str] = ROW
    FORMAT_VERSION: ClassVar[int] = 1

    name: str
    label: str
    protocol: str
    data: str  # the converted dataset
    wall_seconds: float
    paper_accuracy: float | None = None  # percent, as printed
    sr: bool = False
    fold: int | None = None  # of a K-fold row: this run's fold
    source: str | None = None
    folds: tuple[int, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    size_evidence: bool = False
    cell_bn: bool = False
    paper_per_class: tuple[tuple[str, float, float, float, float], ...] = ()
    pretrain_wall_seconds: float | None = None  # the pretraining stage's time, when the row has one and it ran here

    @classmethod
    def from_dict(cls, document: dict) -> ExperimentRow:
        return cls(
            **{
                **document,
                "folds": tuple(document.get("folds", ())),
                "tags": tuple(tuple(pair) for pair in document.get("tags", ())),
                "paper_per_class": tuple(tuple(entry) for entry in document.get("paper_per_class", ())),
            }
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PretrainStage:
    """``stage.json`` of an experiment's pretraining stage: its training time, part of every row it starts."""

    FILE: ClassVar[str] = PRETRAIN_STAGE
    FORMAT_VERSION: ClassVar[int] = 1

    wall_seconds: float

    @classmethod
    def from_dict(cls, document: dict) -> PretrainStage:
        return cls(**document)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SRApply:
    """``sr_apply.json`` of a source tree upscaled by ``sras sr apply``: the SR model that made it, so a run trained
    on it knows its preprocessing and the tree is never upscaled twice."""

    FILE: ClassVar[str] = SR_APPLY
    FORMAT_VERSION: ClassVar[int] = 1

    model: str
    scale: int
    source: str  # the tree that was upscaled
    images: int
    seconds: float
    images_per_s: float
    env: dict  # core.provenance.environment()
    cropped_to_foreground_with_margin: int | None = None  # pixels; None: whole images (trees upscaled before crops)

    @classmethod
    def from_dict(cls, document: dict) -> SRApply:
        return cls(**document)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_record(record_type, location: str | Path):
    """The ``record_type`` (``Manifest``, ``Splits``, ...) file in folder ``location`` (or the ``.json`` file
    ``location`` itself, such as a saved split), checked and typed."""
    path = Path(location)
    path = path if path.suffix == ".json" else path / record_type.FILE
    version, document = _versioned_document(path, record_type.FORMAT_VERSION)
    try:
        return record_type.from_dict(document)
    except (KeyError, TypeError, ValueError) as error:
        raise SrasError(f"{path}: not a valid {record_type.FILE} of format {version} ({_reason(error)})") from None


def write_record(location: str | Path, record) -> Path:
    """Write ``record`` atomically into folder ``location`` under its file name (or to the ``.json`` file
    ``location`` itself, such as a size evidence fit of one kind), with its format version."""
    path = Path(location)
    path = path if path.suffix == ".json" else path / record.FILE
    write_json_atomic(path, {"format_version": record.FORMAT_VERSION, **record.to_dict()})
    return path


def read_config(config_type, folder: str | Path):
    """A run's ``config.json`` as ``config_type`` (``TrainConfig``, ``SRTrainConfig``), upgraded from an older
    format by the config's own ``upgrade`` where it renamed fields."""
    path = Path(folder) / RUN_CONFIG
    version, document = _versioned_document(path, config_type.FORMAT_VERSION)
    try:
        if version < config_type.FORMAT_VERSION:
            document = config_type.upgrade(document, version)
        return config_type.from_dict(document)
    except (KeyError, TypeError, ValueError) as error:
        raise SrasError(f"{path}: not a valid {config_type.__name__} ({_reason(error)})") from None
    except SrasError as error:  # a field's value fails the config's own checks
        raise SrasError(f"{path}: {error}") from None


def write_config(folder: str | Path, config) -> Path:
    path = Path(folder) / RUN_CONFIG
    write_json_atomic(path, {"format_version": config.FORMAT_VERSION, **config.to_dict()})
    return path


def _versioned_document(path: Path, current: int) -> tuple[int, dict]:
    if not path.is_file():
        raise SrasError(f"{path}: missing")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SrasError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(document, dict):
        raise SrasError(f"{path}: not a JSON object")
    version = document.pop("format_version", 1)
    if isinstance(version, int) and version > current:
        raise SrasError(
            f"{path}: format version {version}, newer than this sras-keras reads (1 to {current}); update sras-keras"
        )
    if not isinstance(version, int) or version < 1:
        raise SrasError(f"{path}: unknown format version {version!r}")
    return version, document


def _reason(error: Exception) -> str:
    return f"no field {error}" if isinstance(error, KeyError) else str(error)
