"""What an experiment is: a paper table as rows of conversion and training configs (``Row``, ``Experiment``),
a pretraining stage (``Pretrain``), and ``Analysis``, a recipe that trains nothing of its own (domain similarity,
figures over another recipe's runs).

A recipe file in ``recipes/`` builds an ``Experiment`` for a config name (``paper``: the papers' GPU setting,
``cpu``: what finishes on 2 cores). Every row trains into ``runs/<experiment>/<stamp>-s<seed>/<row>/``.
Cross-validated rows (``Row.folds``) train one model per fold into ``<row>/fold<k>/`` and report mean +- SD over
the folds; any fold can run as its own job, and the report merges the newest result of every fold. A row with a
``Pretrain`` stage first fine-tunes on another data set (the two-step study's intermediate domain) and starts every
fold from that model's backbone.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, ClassVar

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.configs.train import SECTIONS, TrainConfig, section_of, train_fields
from sras_keras.core.errors import SrasError

PROTOCOLS = ("paper", "honest")


@dataclasses.dataclass(frozen=True)
class Pretrain:
    """A first fine-tuning stage on another data set, whose backbone starts the row's own training."""

    source: str  # a data set under SRAS_DATA_DIR, e.g. "gband65"
    convert: ConvertConfig
    train: TrainConfig


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of a paper table."""

    name: str  # folder name, e.g. "inception_resnet_v2-sras"
    label: str  # the table's wording, e.g. "SRAS-net (Inception_Resnet_V2)"
    convert: ConvertConfig
    train: TrainConfig
    sr: bool = False  # upscale the images with SRAFBN first
    paper_accuracy: float | None = None  # percent, as printed
    protocol: str = "honest"
    source: str | None = None  # the row's own data set, when it is not the experiment's
    folds: tuple[int, ...] = ()  # K-fold rows: the folds to train, one model each
    pretrain: Pretrain | None = None
    tags: tuple[tuple[str, str], ...] = ()  # e.g. (("architecture", "ResNet-34"), ("band", "Q"), ...): pivots
    size_evidence: bool = False  # then fit cell-relative size evidence (`sras size-evidence`; not K-fold rows)
    cell_bn: bool = False  # size evidence also fitted, and the test cells scored, with each cell's own BN statistics
    # SRAS-net Table 4: (class, accuracy, precision, recall, F1) in percent, as printed; reported beside ours
    paper_per_class: tuple[tuple[str, float, float, float, float], ...] = ()


@dataclasses.dataclass(frozen=True)
class Analysis:
    """A recipe that trains nothing itself: ``run(params, data_root, runs, results, log)`` computes into a run folder,
    commits its small files under ``results/runs/`` and calls ``render(committed_run, results)``, which writes the
    results files from the committed files alone (so ``sras report check`` can write them again)."""

    name: str
    config_name: str
    run: Callable
    params: object  # a dataclass; ``--set analysis.FIELD=VALUE`` changes a field
    notes: str = ""
    render: Callable | None = None


@dataclasses.dataclass(frozen=True)
class Experiment:
    FORMAT_VERSION: ClassVar[int] = 2  # the layout of an experiment run's config.json; 2: training configs in sections

    name: str
    config_name: str
    source: str  # a data set under SRAS_DATA_DIR, e.g. "bioimlab"
    rows: tuple[Row, ...]
    sr_train: SRTrainConfig | None = None
    notes: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def protocol_split(protocol: str, seed: int, base: ConvertConfig) -> ConvertConfig:
    """The conversion a protocol needs. ``paper``: SRAS-net as published, SMOTE over all images and then an
    image-level 4:1 split whose test fifth is also the validation set. ``honest``: a split grouped by cell with
    separate validation cells, and SMOTE inside the training cells only."""
    if protocol == "paper":
        return dataclasses.replace(base, split=SplitConfig("paper", seed), smote_scope="all")
    if protocol == "honest":
        return dataclasses.replace(base, split=SplitConfig("holdout", seed), smote_scope="train")
    raise SrasError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def apply_overrides(experiment: Experiment | Analysis, overrides: dict[str, str]) -> Experiment | Analysis:
    """``--set train.epochs=3 convert.image_size=64 sr_train.max_minutes=5``: change one field in every row (and in
    its pretraining stage; a training field may also be named with its section, ``train.optimization.epochs``);
    ``--set analysis.FIELD=VALUE`` for an analysis recipe. A section's changes are made together, so a config
    checks the combination (``epochs`` and ``sgd_epoch``), not each change alone."""
    sections: dict[str, dict[str, tuple[str, str]]] = {}
    for key, text in overrides.items():
        section, _, field = key.partition(".")
        if section == "train":
            field = _train_field(field, key)
        sections.setdefault(section, {})[field] = (text, key)
    if isinstance(experiment, Analysis):
        if set(sections) - {"analysis"}:
            key = next(key for key in overrides if not key.startswith("analysis."))
            raise SrasError(f"--set {key}: recipe {experiment.name} is an analysis; its keys start with analysis.")
        return dataclasses.replace(experiment, params=_replace_fields(experiment.params, sections.get("analysis", {})))
    allowed = ("convert", "train") + (("sr_train",) if experiment.sr_train is not None else ())
    for section, changes in sections.items():
        if section not in allowed:
            key = next(iter(changes.values()))[1]
            raise SrasError(f"--set {key}: the key must start with convert., train. or sr_train.")
    sr_train = _replace_fields(experiment.sr_train, sections["sr_train"]) if "sr_train" in sections else None
    rows = tuple(_override_row(row, sections) for row in experiment.rows)
    return dataclasses.replace(experiment, rows=rows, sr_train=sr_train or experiment.sr_train)


def _override_row(row: Row, sections: dict[str, dict[str, tuple[str, str]]]) -> Row:
    for section in ("convert", "train"):
        changes = sections.get(section)
        if not changes:
            continue
        row = dataclasses.replace(row, **{section: _replace_fields(getattr(row, section), changes)})
        if row.pretrain is not None:  # the pretraining stage starts from ImageNet, not from the row's own start
            stage_changes = {
                field: change for field, change in changes.items() if (section, field) != ("train", "init_from")
            }
            stage = dataclasses.replace(
                row.pretrain, **{section: _replace_fields(getattr(row.pretrain, section), stage_changes)}
            )
            row = dataclasses.replace(row, pretrain=stage)
    return row


def _train_field(field: str, key: str) -> str:
    """A training field by its name alone (``train.epochs``) or with its section (``train.optimization.epochs``);
    the names are unique across TrainConfig's sections, so both name one field."""
    section, _, name = field.rpartition(".")
    if name in SECTIONS and not section:  # a whole section: train.optimization={"epochs": 3}
        return name
    if name not in train_fields():
        raise SrasError(f"--set {key}: no field {name!r} (fields: {', '.join(train_fields())})")
    if section and section != section_of(name):
        raise SrasError(f"--set {key}: {name} is in section {section_of(name)}, not {section}")
    return name


def _replace_fields(config, changes: dict[str, tuple[str, str]]):
    """``config`` with every field of ``changes`` (field -> (JSON or bare text, the --set key)) replaced at once.
    A TrainConfig takes its fields by name, each routed to its section (``TrainConfig.replace``)."""
    sectioned = isinstance(config, TrainConfig)
    fields = train_fields() + list(SECTIONS) if sectioned else [f.name for f in dataclasses.fields(config)]
    values = {}
    for field, (text, key) in changes.items():
        if field not in fields:
            raise SrasError(f"--set {key}: no field {field!r} (fields: {', '.join(fields)})")
        try:
            value = json.loads(text)
        except ValueError:
            value = text  # a bare string, e.g. a backbone name
        if isinstance(value, list):
            value = tuple(value)
        current = getattr(config, field, None)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):  # e.g. convert.split={"group_by": "cell"}
            try:
                value = dataclasses.replace(current, **value)
            except TypeError as error:
                raise SrasError(f"--set {key}: {error}") from None
        values[field] = value
    return config.replace(**values) if sectioned else dataclasses.replace(config, **values)
