"""``sras report table``: the newest finished result of every row of an experiment, as ``results/<experiment>.md|csv``
with the paper's numbers beside ours where the row is the paper's model, and the small files of every reported run
committed under ``results/runs/`` (``commit_run``) so that ``sras report check`` can recompute each number."""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np

from sras_keras.configs.records import ClassifierMetrics, Environment, ExperimentRow, SizeEvidenceFit, read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, make_folder, write_json_atomic
from sras_keras.core.run_files import (
    DATA,
    ENV,
    HISTORY,
    METRICS,
    PREDICTIONS,
    PREPROCESSING,
    PRETRAIN_STAGE,
    ROW,
    RUN_CONFIG,
    size_evidence_file,
)
from sras_keras.core.tables import markdown_table
from sras_keras.experiments.spec import Experiment
from sras_keras.inference.outputs import read_predictions

FOLD_METRICS = ("accuracy", "macro_f1", "auc_ovr")
COMMITTED = "runs"  # results/runs/<recipe>/<stamp>-s<seed>/...: the small files of every reported run
# What a reader needs to recompute and audit a run, never its models or logs (megabytes each)
SMALL_FILES = (RUN_CONFIG, DATA, ENV, HISTORY, METRICS, PREPROCESSING, ROW, PRETRAIN_STAGE, "results.json")
SIZE_EVIDENCE_FILES = tuple(size_evidence_file(*kind) for kind in itertools.product((False, True), (False, True)))
LARGEST_PREDICTIONS = (
    1_000_000  # bytes: a larger predictions.csv stays out of git (its metrics are then not recomputed)
)
LARGEST_FIGURE = 400_000  # bytes


def collect_rows(roots: Path | list[Path], name: str) -> list[dict]:
    """The newest result of every row of experiment ``name`` found under ``root/name/*/`` of each root (so rows, and
    the folds of a K-fold row, run as separate jobs on separate machines, merge into one table; ``results/runs``, the
    committed copies, is one root and ``runs/`` another). Newest is by the run folder's time stamp, whichever root
    holds it. A K-fold row's metrics are the mean and SD (ddof=1) over its folds; ``fold_runs`` lists the run folder
    of each fold. ``relative`` is a run's path under its root, the same in both."""
    folders = {}
    for root in [roots] if isinstance(roots, (str, os.PathLike)) else roots:
        for row_file in [*Path(root, name).glob(f"*/*/{ROW}"), *Path(root, name).glob(f"*/*/fold*/{ROW}")]:
            if (row_file.parent / METRICS).exists():
                folders[row_file.parent.relative_to(root).as_posix()] = row_file.parent
    found, fold_results = {}, {}
    for relative, folder in sorted(folders.items()):
        row = read_record(ExperimentRow, folder)
        stamp_folder = folder.parent if row.fold is None else folder.parent.parent
        entry = {
            **row.to_dict(),
            "metrics": read_record(ClassifierMetrics, folder).to_dict(),
            "run": str(folder),
            "relative": relative,
            "config_name": _config_name(stamp_folder),
            "commit": read_record(Environment, folder).git_commit,
        }
        if row.fold is None:
            found[row.name] = entry
        else:
            fold_results.setdefault(row.name, {})[row.fold] = entry
    for row_name, by_fold in fold_results.items():
        found[row_name] = _fold_summary([by_fold[k] for k in sorted(by_fold)])
    return list(found.values())


def _config_name(stamp_folder: Path) -> str:
    """``cpu`` or ``paper``: the recipe config an experiment run folder was started with (its ``config.json``)."""
    try:
        return json.loads((stamp_folder / RUN_CONFIG).read_text())["config_name"]
    except (OSError, ValueError, KeyError) as error:
        raise SrasError(f"{stamp_folder / RUN_CONFIG}: no recipe config name ({error})") from None


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
        "relative": Path(first["relative"]).parent.as_posix(),
        "commit": ", ".join(dict.fromkeys(entry["commit"] for entry in entries)),
        "fold_runs": [entry["run"] for entry in entries],
        "fold_relatives": [entry["relative"] for entry in entries],
    }


def pooled_predictions(row: dict) -> list[dict]:
    """Every test image's prediction of a collected row: for a K-fold row, each image once, from its held-out fold."""
    return [
        prediction
        for run in row.get("fold_runs") or [row["run"]]
        for prediction in read_predictions(Path(run) / PREDICTIONS)
    ]


def commit_run(source: Path, destination: Path, figures: bool = True) -> None:
    """Copy a run folder's small files (``SMALL_FILES``, size evidence, ``predictions.csv`` up to
    ``LARGEST_PREDICTIONS``, ``figures/*.png``) to ``destination``, replacing what was there; JSON files with their
    absolute paths made relative (to the working folder, else cut to their last two parts), so that no machine path
    enters ``results/``. Written beside and renamed, so an interrupted copy leaves the old one whole."""
    if source.resolve() == destination.resolve():
        return
    staging = destination.with_name(f".{destination.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    make_folder(staging)
    names = [*SMALL_FILES, *SIZE_EVIDENCE_FILES]
    if (source / PREDICTIONS).is_file() and (source / PREDICTIONS).stat().st_size <= LARGEST_PREDICTIONS:
        names.append(PREDICTIONS)
    if figures:
        names += [
            f"figures/{png.name}"
            for png in sorted(source.glob("figures/*.png"))
            if png.stat().st_size <= LARGEST_FIGURE
        ]
    for name in names:
        if not (source / name).is_file():
            continue
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".json"):
            write_json_atomic(staging / name, portable(json.loads((source / name).read_text())))
        else:
            shutil.copyfile(source / name, staging / name)
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)


def portable(document):
    """``document`` with every absolute path made relative to the working folder, or cut to ``.../last/two``."""
    if isinstance(document, dict):
        return {key: portable(value) for key, value in document.items()}
    if isinstance(document, list):
        return [portable(value) for value in document]
    if isinstance(document, str) and os.path.isabs(document) and "\n" not in document:
        path = Path(document)
        if path.is_relative_to(Path.cwd()):
            return path.relative_to(Path.cwd()).as_posix()
        return ".../" + "/".join(path.parts[-2:])
    return document


def commit_rows(rows: list[dict], roots: list[Path], results: Path, name: str) -> list[dict]:
    """Copy every reported run of ``rows`` (each fold; the pretraining stage a row started from; the experiment
    run's ``config.json`` and ``env.json``) into ``results/runs/<name>/...``, delete the copies of runs no longer
    reported, and return the rows pointing at the copies."""
    store = results / COMMITTED
    kept, committed = set(), []
    for row in rows:
        pairs = list(zip(row.get("fold_runs") or [row["run"]], row.get("fold_relatives") or [row["relative"]]))
        for source, relative in pairs:
            source = Path(source)
            stamp_relative = Path(relative).parts[:2]
            stamp_source = source.parents[len(Path(relative).parts) - 3]
            make_folder(store.joinpath(*stamp_relative))
            for name_ in (RUN_CONFIG, ENV):
                if (stamp_source / name_).is_file():
                    document = portable(json.loads((stamp_source / name_).read_text()))
                    document.pop("notes", None)  # the recipe's docstring of the day: the recipe file holds it
                    write_json_atomic(store.joinpath(*stamp_relative, name_), document)
            commit_run(source, store / relative, figures=relative == pairs[0][1])
            kept.add(relative)
            for stage in _pretrain_stages(source, stamp_source):
                commit_run(stage, store.joinpath(*stamp_relative, stage.name))
                kept.add(Path(*stamp_relative, stage.name).as_posix())
        folds = row.get("fold_relatives")
        committed.append(
            {
                **row,
                "run": str(store / row["relative"]),
                **({"fold_runs": [str(store / relative) for relative in folds]} if folds else {}),
            }
        )
    _prune(store / name, store, kept)
    return committed


def _pretrain_stages(run: Path, stamp_folder: Path) -> list[Path]:
    """The pretraining stage folder of ``stamp_folder`` a run started from (its config's ``model.init_from``)."""
    try:
        init_from = json.loads((run / RUN_CONFIG).read_text())["model"].get("init_from")
    except (OSError, ValueError, KeyError):
        return []
    if not init_from:
        return []
    stage = stamp_folder / Path(init_from).parent.name
    return [stage] if Path(init_from).parent.name.startswith("pretrain-") and stage.is_dir() else []


def _prune(folder: Path, store: Path, kept: set[str]) -> None:
    """Delete what is under ``folder`` that no kept run is in or under (a kept folder keeps all it holds)."""
    for child in sorted(folder.iterdir()) if folder.is_dir() else ():
        relative = child.relative_to(store).as_posix()
        if not child.is_dir() or relative in kept:
            continue
        if any(k.startswith(relative + "/") for k in kept):
            _prune(child, store, kept)
        else:
            shutil.rmtree(child)
    if folder.is_dir() and not any(child.is_dir() for child in folder.iterdir()):
        shutil.rmtree(folder)


def _percent(metrics: dict, key: str, scale: float = 100.0, digits: int = 2) -> str:
    text = f"{scale * metrics[key]:.{digits}f}"
    return f"{text} ± {scale * metrics[f'{key}_std']:.{digits}f}" if f"{key}_std" in metrics else text


def check_name(name: str) -> None:
    if not name or Path(name).name != name or name.startswith("."):  # "../x" would write outside ``results``
        raise SrasError(f"{name!r} is not a recipe name: give the name, or the recipe's .py file")


def report_table(runs: Path, name: str, results: Path = Path("results"), experiment: Experiment | None = None) -> Path:
    """``results/<name>.md`` and ``.csv`` from the newest finished run of every row (under ``runs`` or already
    committed under ``results/runs``), whose small files are committed beside them first."""
    check_name(name)
    roots = [results / COMMITTED, runs]
    rows = collect_rows(roots, name)
    if not rows:
        raise SrasError(f"no finished rows of {name} under {Path(runs, name)} (run `sras cv run --recipe {name}`)")
    return write_tables(commit_rows(rows, roots, results, name), name, results, experiment)


def write_tables(rows: list[dict], name: str, results: Path, experiment: Experiment | None = None) -> Path:
    """The results files of collected ``rows`` whose runs are committed under ``results/runs``: each row's accuracy
    (beside the paper's where the row ran the paper's config), macro-F1, AUC and protocol (K-fold rows: mean ± SD over
    folds), its commit and run; for rows with tags, a pivot of macro-F1 by the tags; the size evidence fits; the
    per-class table of rows that carry the paper's per-class numbers (``<name>-per-class.csv``); the figures."""
    paper_rows = [row for row in rows if row["config_name"] == "paper"]
    header = [
        "row",
        "protocol",
        "config",
        *(["paper accuracy %"] if paper_rows else []),
        "accuracy %",
        "macro-F1",
        "AUC-OvR",
        "test images",
        "checkpoint chosen on test",
        "epochs",
        "wall min",
        "commit",
        "run",
    ]
    table = []
    for row in rows:
        m = row["metrics"]
        paper = "" if row["paper_accuracy"] is None or row["config_name"] != "paper" else f"{row['paper_accuracy']:.2f}"
        table.append(
            [
                row["label"],
                row["protocol"],
                row["config_name"],
                *([paper] if paper_rows else []),
                _percent(m, "accuracy"),
                _percent(m, "macro_f1", 1, 4),
                _percent(m, "auc_ovr", 1, 4),
                m["images"],
                "yes" if m["checkpoint_selected_on_test_set"] else "no",
                m["epochs_trained"],
                f"{(row['wall_seconds'] + (row.get('pretrain_wall_seconds') or 0)) / 60:.1f}",
                ", ".join(short_commit(commit) for commit in row["commit"].split(", ")),
                f"{COMMITTED}/{row['relative']}",
            ]
        )
    make_folder(results)
    with atomic_path(results / f"{name}.csv") as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *table])
    linked = [[*cells[:-1], f"[{Path(cells[-1]).name}]({cells[-1]})"] for cells in table]
    lines = [f"# {name}", "", *_preamble(rows, name), "", *markdown_table(header, linked)]
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
    lines += _figure_lines(rows)
    with atomic_path(results / f"{name}.md") as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    return results / f"{name}.md"


def _preamble(rows: list[dict], name: str) -> list[str]:
    """Where the numbers come from, and the paper's numbers for rows that are not the paper's model."""
    lines = [
        f"Each row is the newest finished run of a row of recipe `{name}` (`sras report table --recipe {name}`); "
        f"its small files (config, env.json with the commit, metrics, history, predictions, figures) are under "
        f"[{COMMITTED}/{name}/]({COMMITTED}/{name}/), and `sras report check` recomputes the metrics from the "
        "predictions. AUC-OvR needs every class's probability, which predictions.csv does not keep: it is "
        "checked against metrics.json."
    ]
    stand_ins = {row["label"]: row["paper_accuracy"] for row in rows if row["config_name"] != "paper"}
    published = ", ".join(f"{label}: {value:.2f}%" for label, value in stand_ins.items() if value is not None)
    if stand_ins:
        lines += [
            "",
            "Rows of config `cpu` are CPU stand-ins, not the paper's models (see the recipe for what differs), so no "
            "paper number stands beside them."
            + (
                f" For orientation, the paper reports, for the model each row stands in for: {published}."
                if published
                else ""
            ),
        ]
    return lines


def _figure_lines(rows: list[dict]) -> list[str]:
    """The committed figures: the first row's shown, the others' linked (K-fold rows: fold 0's)."""
    shown, linked = [], []
    for row in rows:
        relative = row["fold_relatives"][0] if row.get("fold_relatives") else row["relative"]
        folder = Path(row["fold_runs"][0] if row.get("fold_runs") else row["run"]) / "figures"
        links = [f"{COMMITTED}/{relative}/figures/{png.name}" for png in sorted(folder.glob("*.png"))]
        caption = f"{row['label']}, {row['protocol']} protocol" + (" (fold 0)" if row.get("fold_runs") else "")
        if links and not shown:
            shown = [f"{caption}:", "", *(f"![{Path(link).stem}]({link})" for link in links)]
        elif links:
            linked.append(f"- {caption}: " + ", ".join(f"[{Path(link).stem}]({link})" for link in links))
    return ["", "## Figures", "", *shown, *([""] + linked if linked else [])] if shown else []


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
        "Beyond the papers, which classify each image alone: cell-relative size evidence (`sras size-evidence RUN "
        "[--tta] [--cell-bn]`), the mirror view (`--tta`: the mean of the image's and its mirror image's "
        "probabilities), per-cell BatchNorm (`--cell-bn`: each test cell normalised with its own images' "
        "statistics, so a cell's images inform each other), and whole-cell assignment of the 46 slots (`sras predict "
        "--karyotype`; meaningful for whole held-out cells only). Weight: the least log loss on the part named.",
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
        f"Per class: {row['label']}, {row['protocol']} protocol ({COMMITTED}/{row['relative']})"
        + (
            "; the paper columns are the published model's, for orientation: this row is a CPU stand-in"
            if row["config_name"] != "paper"
            else ""
        ),
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


def commit_analysis(run_dir: Path, results: Path, name: str) -> Path:
    """Commit an analysis run's small files (its ``results.json``, config, env, figures) as the one committed run of
    analysis ``name``, replacing the one before; returns the committed folder, which its results page links to."""
    check_name(name)
    destination = results / COMMITTED / name / run_dir.name
    make_folder(destination.parent)
    commit_run(run_dir, destination)
    _prune(results / COMMITTED / name, results / COMMITTED, {f"{name}/{run_dir.name}"})
    return destination


def analysis_link(run: Path) -> str:
    """A committed analysis run's folder as its results page names it: a link to ``runs/<name>/<stamp>`` and the
    commit it ran at."""
    link = f"{COMMITTED}/{run.parent.name}/{run.name}"
    return f"[{link}]({link}) at commit {short_commit(read_record(Environment, run).git_commit)}"


def short_commit(commit: str) -> str:
    return commit[:10] + ("+dirty" if commit.endswith("+dirty") else "")


def read_analysis(run: Path, params_type) -> tuple[object, dict]:
    """A committed analysis run's parameters (its ``config.json`` as ``params_type``) and ``results.json``."""
    try:
        config = json.loads((run / RUN_CONFIG).read_text())
        document = json.loads((run / "results.json").read_text())
    except (OSError, ValueError) as error:
        raise SrasError(f"{run}: not a finished analysis run ({error})") from None
    config.pop("format_version", None)
    return params_type(**config), document
