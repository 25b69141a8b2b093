"""Named experiments (a paper table = rows of conversion + training configs) and their runner and report.

A recipe module in ``recipes/`` builds an ``Experiment`` for a config name (``paper``: the faithful GPU setting,
``cpu``: what finishes on 2 cores). ``run_experiment`` converts the data each row needs (cached in
``tfrecords/converted/``, keyed by source and conversion config, so recipes share them: a conversion whose manifest
matches is not redone), trains the SR model where a row uses SRAFBN, trains and evaluates every row into
``runs/<experiment>/<stamp>-s<seed>/<row>/``, and ``report_table`` writes ``results/<experiment>.md|csv`` with
the paper's numbers beside ours.

Cross-validated rows (``Row.folds``) train one model per fold into ``<row>/fold<k>/`` and report mean +- SD over
the folds; any fold can run as its own job (``folds=``), and the report merges the newest result of every fold.
A row with a ``Pretrain`` stage first fine-tunes on another data set (the two-step study's intermediate domain)
and starts every fold from that model's backbone. An ``Analysis`` is a recipe that trains nothing of its own
(domain similarity, figures over another recipe's runs).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Callable

from sras_keras.config import ConvertConfig, SRTrainConfig, TrainConfig, fingerprint
from sras_keras.data.splits import SplitConfig
from sras_keras.errors import SrasError
from sras_keras.io_utils import atomic_path, exclusive, write_json_atomic
from sras_keras.runinfo import environment, new_run_dir

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
    """A recipe that trains nothing itself: ``run(params, data_root, runs, results, log)`` writes its results."""

    name: str
    config_name: str
    run: Callable
    params: object  # a dataclass; ``--set analysis.FIELD=VALUE`` changes a field
    notes: str = ""


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


def apply_overrides(experiment: Experiment | Analysis, overrides: dict[str, str]) -> Experiment | Analysis:
    """``--set train.epochs=3 convert.image_size=64 sr_train.max_minutes=5``: change one field in every row (and in
    its pretraining stage); ``--set analysis.FIELD=VALUE`` for an analysis recipe."""
    if isinstance(experiment, Analysis):
        params = experiment.params
        for key, text in overrides.items():
            section, _, field = key.partition(".")
            if section != "analysis":
                raise SrasError(f"--set {key}: recipe {experiment.name} is an analysis; its keys start with analysis.")
            params = _replace_field(params, field, text, key)
        return dataclasses.replace(experiment, params=params)
    rows = list(experiment.rows)
    sr_train = experiment.sr_train
    for key, text in overrides.items():
        section, _, field = key.partition(".")
        if section == "sr_train" and sr_train is not None:
            sr_train = _replace_field(sr_train, field, text, key)
        elif section in ("convert", "train"):
            rows = [_override_row(row, section, field, text, key) for row in rows]
        else:
            raise SrasError(f"--set {key}: the key must start with convert., train. or sr_train.")
    return dataclasses.replace(experiment, rows=tuple(rows), sr_train=sr_train)


def _override_row(row: Row, section: str, field: str, text: str, key: str) -> Row:
    changed = dataclasses.replace(row, **{section: _replace_field(getattr(row, section), field, text, key)})
    if row.pretrain is None or (section, field) == ("train", "init_from"):
        return changed
    stage = dataclasses.replace(row.pretrain, **{section: _replace_field(getattr(row.pretrain, section), field, text, key)})
    return dataclasses.replace(changed, pretrain=stage)


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
    current = getattr(config, field)
    if dataclasses.is_dataclass(current) and isinstance(value, dict):  # e.g. convert.split={"group_by": "cell"}
        try:
            value = dataclasses.replace(current, **value)
        except TypeError as error:
            raise SrasError(f"--set {key}: {error}") from None
    return dataclasses.replace(config, **{field: value})


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
        from sras_keras.data.convert import convert

        if not source.is_dir():
            raise SrasError(f"{source}: data set {source.name!r} not found (set SRAS_DATA_DIR or --data-root)")
        key = fingerprint({"convert": config.to_dict(), "source": str(source)})
        out = self.tfrecords / "converted" / f"{prefix}{key}"
        self.log(f"[{name}] data: {out}")
        convert(source, out, config, progress=self.progress, log=self.log)  # locked: another job converting it waits
        return out

    def pretrained(self, stage: Pretrain) -> Path:
        """The model of a pretraining stage, trained once per experiment run (resumed if a kill interrupted it)."""
        from sras_keras.training.callbacks import STATE
        from sras_keras.training.classifier import train_classifier
        from sras_keras.training.run_dir import FINAL

        key = fingerprint(dataclasses.asdict(stage))
        out = self.run_dir / f"pretrain-{stage.source}-{key}"
        if not (out / FINAL).exists():
            data = self._converted(self.source.parent / stage.source, stage.convert, f"{stage.source}-", out.name)
            self.log(f"[{out.name}] pretraining {stage.train.backbone} on {stage.source}")
            resume = (out / STATE).exists()
            started = time.monotonic()
            train_classifier(data, out, stage.train, resume=resume, log=self.log)
            write_json_atomic(out / "stage.json", {"wall_seconds": round(time.monotonic() - started, 1)})
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
        from sras_keras.data.convert import convert
        from sras_keras.data.pipeline import load_manifest
        from sras_keras.sr_apply import apply_sr
        from sras_keras.training.callbacks import STATE
        from sras_keras.training.run_dir import FINAL
        from sras_keras.training.sr import load_sr_model, train_sr

        split = convert_config.split
        sr_run = self.run_dir.parent.parent / "srafbn" / key
        if (upscaled / "sr_apply.json").exists():
            self.log(f"SR source for split {split.scheme}/seed {split.seed}: {upscaled} (made by {sr_run})")
            return upscaled
        plain = self.tfrecords / "sr-source" / f"plain-{fingerprint(_split_source(self.source, convert_config))}"
        convert(self.source, plain, ConvertConfig(split=split, **_reading(convert_config)), log=self.log)
        self.log(f"SR model for split {split.scheme}/seed {split.seed}: {sr_run}")
        sr_train = self.experiment.sr_train
        if "val" not in load_manifest(plain)["parts"]:  # the paper's 4:1 split: SR's validation only monitors PSNR
            self.log(f"{plain}: no val part; SR validation patches come from its test part (monitoring only: the "
                     "SR model is the last epoch's, nothing is selected on them)")
            sr_train = dataclasses.replace(sr_train, val_parts=("test",))
        model_path = sr_run / FINAL
        if not model_path.exists():
            train_sr(plain, sr_run, sr_train, resume=(sr_run / STATE).exists(), log=self.log)
        apply_sr(load_sr_model(model_path), model_path, self.source, upscaled, progress=self.progress)
        return upscaled


def _reading(config: ConvertConfig) -> dict:
    """How a source tree is read and split (which files, labels, cells, splits file)."""
    return {"layout": config.layout, "label_coding": config.label_coding, "cell_regex": config.cell_regex,
            "splits_file": config.splits_file}


def _split_source(source: Path, convert_config: ConvertConfig) -> dict:
    """What the SR model's training images depend on: the source, how it is read, the split."""
    return {"split": dataclasses.asdict(convert_config.split), "source": str(Path(source).resolve()),
            **_reading(convert_config)}


def sr_source_key(source: Path, convert_config: ConvertConfig, sr_train: SRTrainConfig) -> str:
    """The SR model's and its upscaled source tree's cache key: its training images and SR's config; not the
    recipe, nor the conversion after SR (image size, IAM, SMOTE...)."""
    return fingerprint({**_split_source(source, convert_config), "sr": sr_train.to_dict()})


def run_experiment(experiment: Experiment, data_root: Path, runs: Path = Path("runs"),
                   tfrecords: Path = Path("tfrecords"), rows: list[str] | None = None, log=print,
                   progress: bool = False, folds: list[int] | None = None) -> Path:
    """Run every row (or the named ``rows``, and of K-fold rows only ``folds``: one job per row or fold shards a
    table over machines); returns the run folder."""
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
        data = cache.dataset(row)
        train, pretrain_seconds = row.train, None
        if row.pretrain is not None:
            pretrained = cache.pretrained(row.pretrain)
            train = dataclasses.replace(train, init_from=str(pretrained))
            # its training time is part of the row's budget (shared by the rows it starts; resumed: this job's part)
            stage_file = pretrained.parent / "stage.json"
            pretrain_seconds = json.loads(stage_file.read_text())["wall_seconds"] if stage_file.is_file() else None
        units = [(run_dir / row.name, train, None)]
        if row.folds:
            units = [(run_dir / row.name / f"fold{k}", dataclasses.replace(train, fold=k), k)
                     for k in row.folds if folds is None or k in folds]
        for out, config, fold in units:
            started = time.monotonic()
            log(f"[{row.name}{'' if fold is None else f' fold {fold}'}] training {config.backbone} "
                f"({row.protocol} protocol)")
            metrics = train_classifier(data, out, config, log=log)
            write_json_atomic(out / "row.json", {
                **{k: v for k, v in dataclasses.asdict(row).items() if k not in ("convert", "train", "pretrain")},
                "fold": fold, "data": str(data), "wall_seconds": round(time.monotonic() - started, 1),
                "pretrain_wall_seconds": pretrain_seconds})
            log(f"[{row.name}] accuracy {100 * metrics['accuracy']:.2f}% (paper: {row.paper_accuracy})")
            if row.size_evidence and fold is None:
                from sras_keras.evaluation.size_fit import fit_size_evidence

                # single view, and averaged with the mirror image (sras predict --tta); with the model's BatchNorm
                # statistics, and with each cell's own (--cell-bn)
                for tta, cell_bn in itertools.product((False, True), (False, True) if row.cell_bn else (False,)):
                    test = fit_size_evidence(out, tta=tta, cell_bn=cell_bn)["test"]
                    log(f"[{row.name}] {_views(tta, cell_bn)}: {100 * test['without']['accuracy_argmax']:.2f}%; "
                        f"with cell-relative size evidence {100 * test['with']['accuracy_argmax']:.2f}%, "
                        f"assigned {100 * test['with']['accuracy_assigned']:.2f}%")
    return run_dir


FOLD_METRICS = ("accuracy", "macro_f1", "auc_ovr")


def collect_rows(runs: Path, name: str) -> list[dict]:
    """The newest result of every row of experiment ``name`` found under ``runs/name/*/`` (so rows, and the folds
    of a K-fold row, run as separate jobs on separate machines merge into one table). A K-fold row's metrics are
    the mean and SD (ddof=1) over its folds; ``fold_runs`` lists the run folder of each fold."""
    found, fold_results = {}, {}
    for row_file in sorted([*Path(runs, name).glob("*/*/row.json"), *Path(runs, name).glob("*/*/fold*/row.json")],
                           key=str):
        metrics_file = row_file.parent / "metrics.json"
        if not metrics_file.exists():
            continue
        row = json.loads(row_file.read_text())
        entry = {**row, "metrics": json.loads(metrics_file.read_text()), "run": str(row_file.parent)}
        if row.get("fold") is None:
            found[row["name"]] = entry
        else:
            fold_results.setdefault(row["name"], {})[row["fold"]] = entry
    for row_name, by_fold in fold_results.items():
        found[row_name] = _fold_summary([by_fold[k] for k in sorted(by_fold)])
    return list(found.values())


def _fold_summary(entries: list[dict]) -> dict:
    import numpy as np

    metrics = {"folds": [entry["fold"] for entry in entries]}
    for key in FOLD_METRICS:
        values = np.array([entry["metrics"][key] for entry in entries], dtype=float)
        metrics[key] = float(values.mean())
        metrics[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        metrics[f"{key}_per_fold"] = values.tolist()
    metrics["images"] = sum(entry["metrics"]["images"] for entry in entries)
    metrics["checkpoint_selected_on_test_set"] = any(e["metrics"]["checkpoint_selected_on_test_set"] for e in entries)
    metrics["epochs_trained"] = "/".join(str(entry["metrics"]["epochs_trained"]) for entry in entries)
    first = entries[0]
    return {**first, "fold": None, "metrics": metrics, "wall_seconds": sum(e["wall_seconds"] for e in entries),
            "run": str(Path(first["run"]).parent), "fold_runs": [entry["run"] for entry in entries]}


def pooled_predictions(row: dict) -> list[dict]:
    """Every test image's prediction of a collected row: for a K-fold row, each image once, from its held-out fold."""
    rows = []
    for run in row.get("fold_runs") or [row["run"]]:
        with open(Path(run) / "predictions.csv", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _percent(metrics: dict, key: str, scale: float = 100.0, digits: int = 2) -> str:
    text = f"{scale * metrics[key]:.{digits}f}"
    return f"{text} ± {scale * metrics[f'{key}_std']:.{digits}f}" if f"{key}_std" in metrics else text


def report_table(runs: Path, name: str, results: Path = Path("results"), experiment: Experiment | None = None) -> Path:
    """``results/<name>.md`` and ``.csv``: each row's accuracy beside the paper's, with macro-F1, AUC and protocol
    (K-fold rows: mean ± SD over folds), and, for rows with tags, a pivot of macro-F1 by the tags. Rows whose recipe
    row (in ``experiment``) carries the paper's per-class numbers also get a per-class table (``<name>-per-class.csv``)."""
    rows = collect_rows(runs, name)
    if not rows:
        raise SrasError(f"no finished rows of {name} under {Path(runs, name)} (run `sras cv run --recipe {name}`)")
    header = ["row", "protocol", "paper accuracy %", "accuracy %", "macro-F1", "AUC-OvR", "test images",
              "checkpoint chosen on test", "epochs", "wall min", "run"]
    table = []
    for row in rows:
        m = row["metrics"]
        table.append([row["label"], row["protocol"], "" if row["paper_accuracy"] is None else f"{row['paper_accuracy']:.2f}",
                      _percent(m, "accuracy"), _percent(m, "macro_f1", 1, 4), _percent(m, "auc_ovr", 1, 4), m["images"],
                      "yes" if m["checkpoint_selected_on_test_set"] else "no", m["epochs_trained"],
                      f"{(row['wall_seconds'] + (row.get('pretrain_wall_seconds') or 0)) / 60:.1f}", row["run"]])
    results.mkdir(parents=True, exist_ok=True)
    with atomic_path(results / f"{name}.csv") as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *table])
    lines = [f"# {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in line) + " |" for line in table]
    lines += _pivot_lines(rows)
    lines += _size_evidence_lines(rows)
    published = {row.name: row.paper_per_class for row in (experiment.rows if experiment else ())}
    per_class = [(row, published[row["name"]]) for row in rows
                 if published.get(row["name"]) and "per_class" in row["metrics"]]
    records = []
    for row, paper in per_class:
        lines += _per_class_lines(row, paper)
        records += _per_class_records(row, paper)
    if records:
        with atomic_path(results / f"{name}-per-class.csv") as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    with atomic_path(results / f"{name}.md") as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    return results / f"{name}.md"


def _views(tta: bool, cell_bn: bool) -> str:
    return ("image + mirror" if tta else "image") + (", cell BN" if cell_bn else "")


def _size_evidence_lines(rows: list[dict]) -> list[str]:
    """Rows fitted with ``sras size-evidence`` (and ``--tta``, ``--cell-bn``): their test part without and with
    cell-relative size evidence."""
    from sras_keras.evaluation.size_fit import size_evidence_file

    fitted = [(row, json.loads((Path(row["run"]) / size_evidence_file(tta, cell_bn)).read_text())) for row in rows
              for tta, cell_bn in itertools.product((False, True), (False, True))
              if (Path(row["run"]) / size_evidence_file(tta, cell_bn)).is_file()]
    if not fitted:
        return []
    header = ["row", "protocol", "views", "weight (chosen on)", "accuracy %", "macro-F1", "+ size: accuracy %",
              "+ size: macro-F1", "assigned %", "+ size: assigned %", "+ size: sex right"]
    lines = ["", "With cell-relative size evidence (`sras size-evidence RUN [--tta] [--cell-bn]`; assignment: `sras "
             "predict --karyotype`, meaningful for whole held-out cells only; views: the image, or its mean with the "
             "mirror image's, `--tta`; cell BN: each cell normalised with its own BatchNorm statistics, `--cell-bn`; "
             "weight: the least log loss on the part named)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, record in fitted:
        without, with_size = record["test"]["without"], record["test"]["with"]
        cells = [row["label"], row["protocol"], _views(record.get("tta"), record.get("cell_bn")),
                 f"{record['evidence']['weight']:g} ({record['weight_chosen_on']})",
                 f"{100 * without['accuracy_argmax']:.2f}", f"{without['macro_f1_argmax']:.4f}",
                 f"{100 * with_size['accuracy_argmax']:.2f}", f"{with_size['macro_f1_argmax']:.4f}",
                 f"{100 * without['accuracy_assigned']:.2f}",
                 f"{100 * with_size['accuracy_assigned']:.2f}",
                 f"{with_size['sex_correct_cells']}/{with_size['sex_cells']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_PAPER_PER_CLASS_KEYS = ("paper_accuracy", "paper_precision", "paper_recall", "paper_f1")


def _per_class_records(row: dict, paper) -> list[dict]:
    """One record per class: ours (recall = the class's accuracy, precision, F1, in %) and the paper's, as printed."""
    ours = row["metrics"]["per_class"]
    return [{"row": row["label"], "protocol": row["protocol"], "class": label, "test_images": ours[label]["support"],
             **{key: round(100 * ours[label][key], 2) for key in ("recall", "precision", "f1")},
             **dict(zip(_PAPER_PER_CLASS_KEYS, printed))}
            for label, *printed in paper]


def _per_class_lines(row: dict, paper) -> list[str]:
    """SRAS-net Table 4's layout, ours beside the paper's (whose per-class accuracy is not its recall: as printed)."""
    header = ["class", "test images", "recall %", "precision %", "F1 %", "paper accuracy %", "paper precision %",
              "paper recall %", "paper F1 %"]
    lines = ["", f"Per class: {row['label']}, {row['protocol']} protocol ({row['run']})", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for record in _per_class_records(row, paper):
        cells = [record["class"], record["test_images"], *(f"{record[key]:.2f}" for key in ("recall", "precision", "f1")),
                 *(f"{record[key]:.2f}" for key in _PAPER_PER_CLASS_KEYS)]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return lines


def write_results(results: Path, name: str, markdown_lines: list[str], records: list[dict]) -> Path:
    """``results/<name>.md`` (the lines) and ``.csv`` (one row per record), each written whole or not at all."""
    results.mkdir(parents=True, exist_ok=True)
    with atomic_path(results / f"{name}.md") as temporary:
        temporary.write_text("\n".join(markdown_lines) + "\n")
    with atomic_path(results / f"{name}.csv") as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return results / f"{name}.md"


def _pivot_lines(rows: list[dict]) -> list[str]:
    """Macro-F1 % with the first tag down and the other tags across (the two-step study's Table 2 layout)."""
    tagged = [row for row in rows if row.get("tags")]
    if not tagged:
        return []
    keys = [key for key, _ in tagged[0]["tags"]]
    cells = {}
    for row in tagged:
        tags = dict(tuple(pair) for pair in row["tags"])
        cells[(tags[keys[0]], tuple(tags[key] for key in keys[1:]))] = _percent(row["metrics"], "macro_f1")
    down = list(dict.fromkeys(first for first, _ in cells))
    across = sorted({rest for _, rest in cells})
    lines = ["", f"Macro-F1 % by {keys[0]} and {', '.join(keys[1:])} (K-fold rows: mean ± SD over folds)", "",
             "| " + " | ".join([keys[0], *(" / ".join(rest) for rest in across)]) + " |", "|" + "---|" * (len(across) + 1)]
    lines += ["| " + " | ".join([first, *(cells.get((first, rest), "") for rest in across)]) + " |" for first in down]
    return lines
