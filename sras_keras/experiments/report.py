"""``sras report table``: the newest finished result of every row of an experiment, from its run folders, as
``results/<experiment>.md|csv`` with the paper's numbers beside ours."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np

from sras_keras.configs.records import ClassifierMetrics, ExperimentRow, SizeEvidenceFit, read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path
from sras_keras.core.run_files import METRICS, PREDICTIONS, ROW, size_evidence_file
from sras_keras.core.tables import markdown_table
from sras_keras.experiments.spec import Experiment
from sras_keras.inference.outputs import read_predictions

FOLD_METRICS = ("accuracy", "macro_f1", "auc_ovr")


def collect_rows(runs: Path, name: str) -> list[dict]:
    """The newest result of every row of experiment ``name`` found under ``runs/name/*/`` (so rows, and the folds
    of a K-fold row, run as separate jobs on separate machines merge into one table). A K-fold row's metrics are
    the mean and SD (ddof=1) over its folds; ``fold_runs`` lists the run folder of each fold."""
    found, fold_results = {}, {}
    for row_file in sorted([*Path(runs, name).glob(f"*/*/{ROW}"), *Path(runs, name).glob(f"*/*/fold*/{ROW}")], key=str):
        if not (row_file.parent / METRICS).exists():
            continue
        row = read_record(ExperimentRow, row_file)
        entry = {
            **row.to_dict(),
            "metrics": read_record(ClassifierMetrics, row_file.parent).to_dict(),
            "run": str(row_file.parent),
        }
        if row.fold is None:
            found[row.name] = entry
        else:
            fold_results.setdefault(row.name, {})[row.fold] = entry
    for row_name, by_fold in fold_results.items():
        found[row_name] = _fold_summary([by_fold[k] for k in sorted(by_fold)])
    return list(found.values())


def _fold_summary(entries: list[dict]) -> dict:
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
    return {
        **first,
        "fold": None,
        "metrics": metrics,
        "wall_seconds": sum(e["wall_seconds"] for e in entries),
        "run": str(Path(first["run"]).parent),
        "fold_runs": [entry["run"] for entry in entries],
    }


def pooled_predictions(row: dict) -> list[dict]:
    """Every test image's prediction of a collected row: for a K-fold row, each image once, from its held-out fold."""
    return [
        prediction
        for run in row.get("fold_runs") or [row["run"]]
        for prediction in read_predictions(Path(run) / PREDICTIONS)
    ]


def _percent(metrics: dict, key: str, scale: float = 100.0, digits: int = 2) -> str:
    text = f"{scale * metrics[key]:.{digits}f}"
    return f"{text} ± {scale * metrics[f'{key}_std']:.{digits}f}" if f"{key}_std" in metrics else text


def report_table(runs: Path, name: str, results: Path = Path("results"), experiment: Experiment | None = None) -> Path:
    """``results/<name>.md`` and ``.csv``: each row's accuracy beside the paper's, with macro-F1, AUC and protocol
    (K-fold rows: mean ± SD over folds), and, for rows with tags, a pivot of macro-F1 by the tags. Rows whose recipe
    row (in ``experiment``) carries the paper's per-class numbers also get a per-class table
    (``<name>-per-class.csv``)."""
    if not name or Path(name).name != name or name.startswith("."):  # "../x" would write outside ``results``
        raise SrasError(f"{name!r} is not a recipe name: give the name, or the recipe's .py file")
    rows = collect_rows(runs, name)
    if not rows:
        raise SrasError(f"no finished rows of {name} under {Path(runs, name)} (run `sras cv run --recipe {name}`)")
    header = [
        "row",
        "protocol",
        "paper accuracy %",
        "accuracy %",
        "macro-F1",
        "AUC-OvR",
        "test images",
        "checkpoint chosen on test",
        "epochs",
        "wall min",
        "run",
    ]
    table = []
    for row in rows:
        m = row["metrics"]
        table.append(
            [
                row["label"],
                row["protocol"],
                "" if row["paper_accuracy"] is None else f"{row['paper_accuracy']:.2f}",
                _percent(m, "accuracy"),
                _percent(m, "macro_f1", 1, 4),
                _percent(m, "auc_ovr", 1, 4),
                m["images"],
                "yes" if m["checkpoint_selected_on_test_set"] else "no",
                m["epochs_trained"],
                f"{(row['wall_seconds'] + (row.get('pretrain_wall_seconds') or 0)) / 60:.1f}",
                row["run"],
            ]
        )
    results.mkdir(parents=True, exist_ok=True)
    with atomic_path(results / f"{name}.csv") as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *table])
    lines = [f"# {name}", "", *markdown_table(header, table)]
    lines += _pivot_lines(rows)
    lines += _size_evidence_lines(rows)
    published = {row.name: row.paper_per_class for row in (experiment.rows if experiment else ())}
    per_class = [
        (row, published[row["name"]]) for row in rows if published.get(row["name"]) and "per_class" in row["metrics"]
    ]
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


def views_label(tta: bool, cell_bn: bool) -> str:
    return ("image + mirror" if tta else "image") + (", cell BN" if cell_bn else "")


def _size_evidence_lines(rows: list[dict]) -> list[str]:
    """Rows fitted with ``sras size-evidence`` (and ``--tta``, ``--cell-bn``): their test part without and with
    cell-relative size evidence."""
    fitted = [
        (row, read_record(SizeEvidenceFit, Path(row["run"]) / size_evidence_file(tta, cell_bn)))
        for row in rows
        for tta, cell_bn in itertools.product((False, True), (False, True))
        if (Path(row["run"]) / size_evidence_file(tta, cell_bn)).is_file()
    ]
    if not fitted:
        return []
    header = [
        "row",
        "protocol",
        "views",
        "weight (chosen on)",
        "accuracy %",
        "macro-F1",
        "+ size: accuracy %",
        "+ size: macro-F1",
        "assigned %",
        "+ size: assigned %",
        "+ size: sex right",
    ]
    lines = [
        "",
        "With cell-relative size evidence (`sras size-evidence RUN [--tta] [--cell-bn]`; assignment: `sras "
        "predict --karyotype`, meaningful for whole held-out cells only; views: the image, or its mean with the "
        "mirror image's, `--tta`; cell BN: each cell normalised with its own BatchNorm statistics, `--cell-bn`; "
        "weight: the least log loss on the part named)",
        "",
    ]
    table = []
    for row, fit in fitted:
        without, with_size = fit.test["without"], fit.test["with"]
        cells = [
            row["label"],
            row["protocol"],
            views_label(fit.tta, fit.cell_bn),
            f"{fit.evidence['weight']:g} ({fit.weight_chosen_on})",
            f"{100 * without['accuracy_argmax']:.2f}",
            f"{without['macro_f1_argmax']:.4f}",
            f"{100 * with_size['accuracy_argmax']:.2f}",
            f"{with_size['macro_f1_argmax']:.4f}",
            f"{100 * without['accuracy_assigned']:.2f}",
            f"{100 * with_size['accuracy_assigned']:.2f}",
            f"{with_size['sex_correct_cells']}/{with_size['sex_cells']}",
        ]
        table.append(cells)
    return lines + markdown_table(header, table)


_PAPER_PER_CLASS_KEYS = ("paper_accuracy", "paper_precision", "paper_recall", "paper_f1")


def _per_class_records(row: dict, paper) -> list[dict]:
    """One record per class: ours (recall = the class's accuracy, precision, F1, in %) and the paper's, as printed."""
    ours = row["metrics"]["per_class"]
    return [
        {
            "row": row["label"],
            "protocol": row["protocol"],
            "class": label,
            "test_images": ours[label]["support"],
            **{key: round(100 * ours[label][key], 2) for key in ("recall", "precision", "f1")},
            **dict(zip(_PAPER_PER_CLASS_KEYS, printed)),
        }
        for label, *printed in paper
    ]


def _per_class_lines(row: dict, paper) -> list[str]:
    """SRAS-net Table 4's layout, ours beside the paper's (whose per-class accuracy is not its recall: as printed)."""
    header = [
        "class",
        "test images",
        "recall %",
        "precision %",
        "F1 %",
        "paper accuracy %",
        "paper precision %",
        "paper recall %",
        "paper F1 %",
    ]
    table = [
        [
            record["class"],
            record["test_images"],
            *(f"{record[key]:.2f}" for key in ("recall", "precision", "f1")),
            *(f"{record[key]:.2f}" for key in _PAPER_PER_CLASS_KEYS),
        ]
        for record in _per_class_records(row, paper)
    ]
    return [
        "",
        f"Per class: {row['label']}, {row['protocol']} protocol ({row['run']})",
        "",
        *markdown_table(header, table),
    ]


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
    header = [keys[0], *(" / ".join(rest) for rest in across)]
    table = [[first, *(cells.get((first, rest), "") for rest in across)] for first in down]
    return [
        "",
        f"Macro-F1 % by {keys[0]} and {', '.join(keys[1:])} (K-fold rows: mean ± SD over folds)",
        "",
        *markdown_table(header, table),
    ]
