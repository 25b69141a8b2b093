"""``sras cv run``: an experiment's rows converted, trained and evaluated into ``runs/<experiment>/<stamp>-s<seed>/``.

The data each row needs is converted once (cached in ``tfrecords/converted/``, keyed by source and conversion
config, so recipes share them: a conversion whose manifest matches is not redone), the SR model is trained where a
row uses SRAFBN, a ``Pretrain`` stage is trained once and starts every fold of the rows that name it.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.records import (
    Environment,
    ExperimentRow,
    PretrainStage,
    read_record,
    write_config,
    write_record,
)
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.io import exclusive, fingerprint
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.core.run_files import FINAL, PRETRAIN_STAGE, SR_APPLY, STATE
from sras_keras.data.convert import convert
from sras_keras.data.pipeline import load_manifest
from sras_keras.evaluation.classifier import held_out_karyogram
from sras_keras.evaluation.size_fit import fit_size_evidence
from sras_keras.experiments.report import views_label
from sras_keras.experiments.spec import Experiment, Pretrain, Row
from sras_keras.inference.upscale import apply_sr
from sras_keras.models.saving import load_sr_model
from sras_keras.training.classifier import train_classifier
from sras_keras.training.sr import train_sr


class _DataCache:
    """Converted datasets and SR models, each made once per experiment run and reused by the rows that need it."""

    def __init__(self, experiment: Experiment, source: Path, tfrecords: Path, run_dir: Path, log, progress: bool):
        self.experiment, self.source, self.tfrecords, self.run_dir = experiment, source, tfrecords, run_dir
        self.log, self.progress = log, progress
        self.sr_sources: dict[str, Path] = {}

    def dataset(self, row: Row) -> Path:
        source = self.source.parent / row.source if row.source else self.source
        if row.sr:
            source = self._sr_source(row.convert)
        return self._converted(source, row.convert, f"{'sr-' if row.sr else ''}", row.name)

    def _converted(self, source: Path, config: ConvertConfig, prefix: str, name: str) -> Path:
        if not source.is_dir():
            raise SrasError(f"{source}: data set {source.name!r} not found (set SRAS_DATA_DIR or --data-root)")
        out = self.tfrecords / "converted" / f"{prefix}{conversion_key(source, config)}"
        self.log(f"[{name}] data: {out}")
        convert(source, out, config, progress=self.progress, log=self.log)  # locked: another job converting it waits
        return out

    def pretrained(self, stage: Pretrain) -> Path:
        """The model of a pretraining stage, trained once per experiment run (resumed if a kill interrupted it)."""
        key = fingerprint(dataclasses.asdict(stage))
        out = self.run_dir / f"pretrain-{stage.source}-{key}"
        if not (out / FINAL).exists():
            data = self._converted(self.source.parent / stage.source, stage.convert, f"{stage.source}-", out.name)
            self.log(f"[{out.name}] pretraining {stage.train.model.backbone} on {stage.source}")
            resume = (out / STATE).exists()
            started = time.monotonic()
            train_classifier(data, out, stage.train, resume=resume, log=self.log)
            write_record(out, PretrainStage(wall_seconds=round(time.monotonic() - started, 1)))
        return out / FINAL

    def _sr_source(self, convert_config: ConvertConfig) -> Path:
        """The source tree upscaled by an SRAFBN trained on this split's training images only. The SR model
        (``runs/srafbn/<key>``) and its output (``tfrecords/sr-source/<key>``) are keyed by ``sr_source_key``, not
        by recipe, so Tables 2-4 share them and a killed run resumes its SR training."""
        key = sr_source_key(self.source, convert_config, self.experiment.sr_train)
        if key in self.sr_sources:
            return self.sr_sources[key]
        upscaled = self.tfrecords / "sr-source" / key
        with exclusive(upscaled, self.log):  # another job training this SR model: wait, then use its output
            self.sr_sources[key] = self._upscaled(convert_config, key, upscaled)
        return upscaled

    def _upscaled(self, convert_config: ConvertConfig, key: str, upscaled: Path) -> Path:
        split = convert_config.split
        sr_run = self.run_dir.parent.parent / "srafbn" / key
        if (upscaled / SR_APPLY).exists():
            self.log(f"SR source for split {split.scheme}/seed {split.seed}: {upscaled} (made by {sr_run})")
            return upscaled
        plain = self.tfrecords / "sr-source" / f"plain-{fingerprint(_split_source(self.source, convert_config))}"
        convert(self.source, plain, ConvertConfig(split=split, **_reading(convert_config)), log=self.log)
        self.log(f"SR model for split {split.scheme}/seed {split.seed}: {sr_run}")
        sr_train = self.experiment.sr_train
        if "val" not in load_manifest(plain).parts:  # the paper's 4:1 split: SR's validation only monitors PSNR
            self.log(
                f"{plain}: no val part; SR validation patches come from its test part (monitoring only: the "
                "SR model is the last epoch's, nothing is selected on them)"
            )
            sr_train = dataclasses.replace(sr_train, val_parts=("test",))
        model_path = sr_run / FINAL
        if not model_path.exists():
            train_sr(plain, sr_run, sr_train, resume=(sr_run / STATE).exists(), log=self.log)
        apply_sr(load_sr_model(model_path), model_path, self.source, upscaled, progress=self.progress)
        return upscaled


def _reading(config: ConvertConfig) -> dict:
    """How a source tree is read and split (which files, labels, cells, splits file)."""
    return {
        "layout": config.layout,
        "label_coding": config.label_coding,
        "cell_regex": config.cell_regex,
        "splits_file": config.splits_file,
    }


def _split_source(source: Path, convert_config: ConvertConfig) -> dict:
    """What the SR model's training images depend on: the source, how it is read, the split."""
    return {
        "split": dataclasses.asdict(convert_config.split),
        "source": str(Path(source).resolve()),
        **_reading(convert_config),
    }


def conversion_key(source: Path, config: ConvertConfig) -> str:
    """A converted dataset's cache key: the source folder itself, however the data root is spelt (relative or
    absolute, through links), and the conversion's config."""
    return fingerprint({"convert": config.to_dict(), "source": str(Path(source).resolve())})


def sr_source_key(source: Path, convert_config: ConvertConfig, sr_train: SRTrainConfig) -> str:
    """The SR model's and its upscaled source tree's cache key: its training images and SR's config; not the
    recipe, nor the conversion after SR (image size, IAM, SMOTE...)."""
    return fingerprint({**_split_source(source, convert_config), "sr": sr_train.to_dict()})


def run_experiment(
    experiment: Experiment,
    data_root: Path,
    runs: Path = Path("runs"),
    tfrecords: Path = Path("tfrecords"),
    rows: list[str] | None = None,
    log=print,
    progress: bool = False,
    folds: list[int] | None = None,
) -> Path:
    """Run every row (or the named ``rows``, and of K-fold rows only ``folds``: one job per row or fold shards a
    table over machines); returns the run folder."""
    source = Path(data_root) / experiment.source
    if not source.is_dir():
        raise SrasError(f"{source}: data set {experiment.source!r} not found (set SRAS_DATA_DIR or --data-root)")
    chosen = _chosen_rows(experiment, rows)
    seed = chosen[0].train.runtime.seed if chosen else 0
    run_dir = new_run_dir(runs, experiment.name, seed)
    write_config(run_dir, experiment)
    write_record(run_dir, Environment.from_dict(environment(seed=seed)))
    cache = _DataCache(experiment, source, tfrecords, run_dir, log, progress)
    for row in chosen:
        data = cache.dataset(row)
        train, pretrain_seconds = row.train, None
        if row.pretrain is not None:
            pretrained = cache.pretrained(row.pretrain)
            train = train.replace(init_from=str(pretrained))
            # its training time is part of the row's budget (shared by the rows it starts; resumed: this job's part)
            if (pretrained.parent / PRETRAIN_STAGE).is_file():
                pretrain_seconds = read_record(PretrainStage, pretrained.parent).wall_seconds
        units = [(run_dir / row.name, train, None)]
        if row.folds:
            units = [
                (run_dir / row.name / f"fold{k}", train.replace(fold=k), k)
                for k in row.folds
                if folds is None or k in folds
            ]
        # a cpu row is a stand-in for the paper's model: its number is not set beside the paper's
        paper = row.paper_accuracy if experiment.config_name == "paper" else None
        for out, config, fold in units:
            _train_unit(row, data, out, config, fold, pretrain_seconds, paper, log)
    return run_dir


def _chosen_rows(experiment: Experiment, rows: list[str] | None) -> list[Row]:
    chosen = [row for row in experiment.rows if rows is None or row.name in rows]
    if rows is not None and len(chosen) != len(rows):
        raise SrasError(
            f"unknown row(s) {sorted(set(rows) - {r.name for r in chosen})}; "
            f"{experiment.name} has {', '.join(r.name for r in experiment.rows)}"
        )
    return chosen


def _train_unit(
    row: Row,
    data: Path,
    out: Path,
    config: TrainConfig,
    fold: int | None,
    pretrain_seconds: float | None,
    paper: float | None,
    log,
) -> None:
    """Train one row (or one fold of it) into ``out``, record the row beside its run, and fit size evidence where
    the row asks for it."""
    started = time.monotonic()
    unit = row.name if fold is None else f"{row.name} fold {fold}"
    log(f"[{unit}] training {config.model.backbone} ({row.protocol} protocol)")
    metrics = train_classifier(data, out, config, log=log)
    record = ExperimentRow(
        **{k: v for k, v in dataclasses.asdict(row).items() if k not in ("convert", "train", "pretrain")},
        fold=fold,
        data=str(data),
        wall_seconds=round(time.monotonic() - started, 1),
        pretrain_wall_seconds=pretrain_seconds,
    )
    write_record(out, record)
    log(f"[{unit}] accuracy {100 * metrics.accuracy:.2f}%" + (f" (paper: {paper:.2f}%)" if paper is not None else ""))
    if fold is not None:
        return
    karyogram = held_out_karyogram(out)
    if karyogram is not None:
        log(f"[{row.name}] a held-out cell's karyogram: {karyogram}")
    if not row.size_evidence:
        return
    # single view, and averaged with the mirror image (sras predict --tta); with the model's BatchNorm statistics,
    # and with each cell's own (--cell-bn)
    for tta, cell_bn in itertools.product((False, True), (False, True) if row.cell_bn else (False,)):
        test = fit_size_evidence(out, tta=tta, cell_bn=cell_bn).test
        log(
            f"[{row.name}] {views_label(tta, cell_bn)}: {100 * test['without']['accuracy_argmax']:.2f}%; "
            f"with cell-relative size evidence {100 * test['with']['accuracy_argmax']:.2f}%, "
            f"assigned {100 * test['with']['accuracy_assigned']:.2f}%"
        )
