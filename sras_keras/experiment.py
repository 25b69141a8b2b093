"""Named experiments (a paper table = rows of conversion + training configs) and their runner and report.

A recipe module in ``recipes/`` builds an ``Experiment`` for a config name (``paper``: the faithful GPU setting,
``cpu``: what finishes on 2 cores). ``run_experiment`` converts the data each row needs (cached in
``tfrecords/<experiment>/``: a conversion whose manifest matches is not redone), trains the SR model where a
row uses SRAFBN, trains and evaluates every row into ``runs/<experiment>/<stamp>-s<seed>/<row>/``, and
``report_table`` writes ``results/<experiment>.md|csv`` with the paper's numbers beside ours.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

from sras_keras.config import ConvertConfig, SRTrainConfig, TrainConfig, fingerprint
from sras_keras.data.splits import SplitConfig
from sras_keras.errors import SrasError
from sras_keras.io_utils import atomic_path, write_json_atomic
from sras_keras.runinfo import environment, new_run_dir

PROTOCOLS = ("paper", "honest")


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


@dataclasses.dataclass(frozen=True)
class Experiment:
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


def apply_overrides(experiment: Experiment, overrides: dict[str, str]) -> Experiment:
    """``--set train.epochs=3 convert.image_size=64 sr_train.max_minutes=5``: change one field in every row."""
    rows = list(experiment.rows)
    sr_train = experiment.sr_train
    for key, text in overrides.items():
        section, _, field = key.partition(".")
        if section == "sr_train" and sr_train is not None:
            sr_train = _replace_field(sr_train, field, text, key)
        elif section in ("convert", "train"):
            rows = [dataclasses.replace(row, **{section: _replace_field(getattr(row, section), field, text, key)})
                    for row in rows]
        else:
            raise SrasError(f"--set {key}: the key must start with convert., train. or sr_train.")
    return dataclasses.replace(experiment, rows=tuple(rows), sr_train=sr_train)


def _replace_field(config, field: str, text: str, key: str):
    fields = {f.name: f for f in dataclasses.fields(config)}
    if field not in fields:
        raise SrasError(f"--set {key}: no field {field!r} (fields: {', '.join(fields)})")
    try:
        value = json.loads(text)
    except ValueError:
        value = text  # a bare string, e.g. a backbone name
    if isinstance(value, list):
        value = tuple(value)
    return dataclasses.replace(config, **{field: value})


class _DataCache:
    """Converted datasets and SR models, each made once per experiment run and reused by the rows that need it."""

    def __init__(self, experiment: Experiment, source: Path, tfrecords: Path, run_dir: Path, log, progress: bool):
        self.experiment, self.source, self.tfrecords, self.run_dir = experiment, source, tfrecords, run_dir
        self.log, self.progress = log, progress
        self.sr_sources: dict[str, Path] = {}

    def dataset(self, row: Row) -> Path:
        from sras_keras.data.convert import convert

        source = self._sr_source(row.convert) if row.sr else self.source
        key = fingerprint({"convert": row.convert.to_dict(), "source": str(source)})
        out = self.tfrecords / self.experiment.name / f"{'sr-' if row.sr else ''}{key}"
        self.log(f"[{row.name}] data: {out}")
        convert(source, out, row.convert, progress=self.progress, log=self.log)
        return out

    def _sr_source(self, convert_config: ConvertConfig) -> Path:
        """The source tree upscaled by an SRAFBN trained on this split's training images only."""
        from sras_keras.data.convert import convert
        from sras_keras.sr_apply import apply_sr
        from sras_keras.training.sr import load_sr_model, train_sr

        split = convert_config.split
        key = fingerprint({"split": dataclasses.asdict(split), "sr": self.experiment.sr_train.to_dict()})
        if key in self.sr_sources:
            return self.sr_sources[key]
        plain = self.tfrecords / self.experiment.name / f"plain-{fingerprint(dataclasses.asdict(split))}"
        convert(self.source, plain, ConvertConfig(split=split, layout=convert_config.layout,
                                                  cell_regex=convert_config.cell_regex), log=self.log)
        sr_run = self.run_dir / f"srafbn-{key}"
        self.log(f"SR model for split {split.scheme}/seed {split.seed}: {sr_run}")
        train_sr(plain, sr_run, self.experiment.sr_train, log=self.log)
        upscaled = self.tfrecords / self.experiment.name / f"sr-source-{key}"
        if not (upscaled / "sr_apply.json").exists():
            model_path = sr_run / "model.keras"
            apply_sr(load_sr_model(model_path), model_path, self.source, upscaled, progress=self.progress)
        self.sr_sources[key] = upscaled
        return upscaled


def run_experiment(experiment: Experiment, data_root: Path, runs: Path = Path("runs"),
                   tfrecords: Path = Path("tfrecords"), rows: list[str] | None = None, log=print,
                   progress: bool = False) -> Path:
    """Run every row (or the named ``rows``: one job per row shards a table over machines); returns the run folder."""
    from sras_keras.training.classifier import train_classifier

    source = Path(data_root) / experiment.source
    if not source.is_dir():
        raise SrasError(f"{source}: data set {experiment.source!r} not found (set SRAS_DATA_DIR or --data-root)")
    chosen = [row for row in experiment.rows if rows is None or row.name in rows]
    if rows is not None and len(chosen) != len(rows):
        raise SrasError(f"unknown row(s) {sorted(set(rows) - {r.name for r in chosen})}; "
                        f"{experiment.name} has {', '.join(r.name for r in experiment.rows)}")
    seed = chosen[0].train.seed if chosen else 0
    run_dir = new_run_dir(runs, experiment.name, seed)
    write_json_atomic(run_dir / "config.json", experiment.to_dict())
    write_json_atomic(run_dir / "env.json", environment(seed=seed))
    cache = _DataCache(experiment, source, tfrecords, run_dir, log, progress)
    for row in chosen:
        started = time.monotonic()
        data = cache.dataset(row)
        log(f"[{row.name}] training {row.train.backbone} ({row.protocol} protocol)")
        metrics = train_classifier(data, run_dir / row.name, row.train, log=log)
        write_json_atomic(run_dir / row.name / "row.json", {
            **{k: v for k, v in dataclasses.asdict(row).items() if k not in ("convert", "train")},
            "data": str(data), "wall_seconds": round(time.monotonic() - started, 1)})
        log(f"[{row.name}] accuracy {100 * metrics['accuracy']:.2f}% (paper: {row.paper_accuracy})")
    return run_dir


def collect_rows(runs: Path, name: str) -> list[dict]:
    """The newest result of every row of experiment ``name`` found under ``runs/name/*/`` (so rows run as
    separate jobs, on separate machines, merge into one table)."""
    found = {}
    for row_file in sorted(Path(runs, name).glob("*/*/row.json")):
        metrics_file = row_file.parent / "metrics.json"
        if metrics_file.exists():
            row = json.loads(row_file.read_text())
            found[row["name"]] = {**row, "metrics": json.loads(metrics_file.read_text()), "run": str(row_file.parent)}
    return list(found.values())


def report_table(runs: Path, name: str, results: Path = Path("results"), order: Callable | None = None) -> Path:
    """``results/<name>.md`` and ``.csv``: each row's accuracy beside the paper's, with macro-F1, AUC and protocol."""
    rows = collect_rows(runs, name)
    if not rows:
        raise SrasError(f"no finished rows of {name} under {Path(runs, name)} (run `sras cv run --recipe {name}`)")
    header = ["row", "protocol", "paper accuracy %", "accuracy %", "macro-F1", "AUC-OvR", "test images",
              "checkpoint chosen on test", "epochs", "wall min", "run"]
    table = []
    for row in rows:
        m = row["metrics"]
        table.append([row["label"], row["protocol"], "" if row["paper_accuracy"] is None else f"{row['paper_accuracy']:.2f}",
                      f"{100 * m['accuracy']:.2f}", f"{m['macro_f1']:.4f}", f"{m['auc_ovr']:.4f}", m["images"],
                      "yes" if m["checkpoint_selected_on_test_set"] else "no", m["epochs_trained"],
                      f"{row['wall_seconds'] / 60:.1f}", row["run"]])
    results.mkdir(parents=True, exist_ok=True)
    with atomic_path(results / f"{name}.csv") as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *table])
    lines = [f"# {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in line) + " |" for line in table]
    with atomic_path(results / f"{name}.md") as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    return results / f"{name}.md"
