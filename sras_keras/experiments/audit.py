"""``sras report check``: every number in ``results/`` traced to the run files committed beside it.

Three checks, each failing on any difference: (1) each committed run's ``metrics.json`` recomputed from its
``predictions.csv`` (images, accuracy, macro-F1, the confusion matrix, per-class recall, precision and F1; AUC-OvR
needs every class's probability, which predictions.csv does not keep, so it is taken from metrics.json); (2) each
results file written again from the committed runs alone (an analysis recipe's from its committed ``results.json``),
equal to the one in ``results/``; (3) no machine path in any results file, and no results table without its runs.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from sras_keras.configs.records import ClassifierMetrics, read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import METRICS, PREDICTIONS
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.evaluation.metrics import macro_f1
from sras_keras.experiments.registry import get_recipe, recipe_names
from sras_keras.experiments.report import COMMITTED, collect_rows, write_tables
from sras_keras.experiments.spec import Analysis
from sras_keras.inference.outputs import read_predictions

TOLERANCE = 1e-9
# An absolute path under a home, work or system folder of some machine (not a URL's path: a letter or dot precedes
# that one)
MACHINE_PATH = re.compile(r"(?<![\w.~/-])/(?:home|work|tmp|root|Users|mnt|srv|opt|var|data|scratch)/")
NOT_TABLES = {"bench"}  # results/bench.md|json: benchmarks, their own record (bench.json)


def check_results(results: Path) -> tuple[list[str], list[str]]:
    """(problems, what was checked) for the results folder ``results``."""
    problems, checked = [], []
    store = results / COMMITTED
    runs = sorted(path.parent for path in store.rglob(METRICS))
    recomputed = 0
    for folder in runs:
        if (folder / PREDICTIONS).is_file():
            problems += recompute_metrics(folder)
            recomputed += 1
    checked.append(f"{recomputed} of {len(runs)} committed runs' metrics recomputed from their predictions")
    names = sorted(path.name for path in store.iterdir() if path.is_dir()) if store.is_dir() else []
    for name in names:
        problems += _regenerate(results, name)
    checked.append(f"{len(names)} results files written again from their committed runs")
    for table in sorted(results.glob("*.md")):
        if table.stem not in names and table.stem not in NOT_TABLES:
            problems.append(f"{table}: no committed runs under {store / table.stem} (`sras report table` copies them)")
    text_files = [path for path in sorted(results.rglob("*")) if path.suffix in (".md", ".csv", ".json")]
    for path in text_files:
        match = MACHINE_PATH.search(path.read_text(errors="replace"))
        if match:
            problems.append(f"{path}: a machine path ({match.group(0)}...); results name paths relative to the data")
    checked.append(f"{len(text_files)} files free of machine paths")
    return problems, checked


def recompute_metrics(folder: Path) -> list[str]:
    """Differences between a run's ``metrics.json`` and the same metrics recomputed from its ``predictions.csv``."""
    recorded = read_record(ClassifierMetrics, folder)
    predictions = read_predictions(folder / PREDICTIONS)
    try:
        truth = np.array([CLASS_NAMES.index(p["true"]) for p in predictions])
        top1 = np.array([CLASS_NAMES.index(p["top1"]) for p in predictions])
    except ValueError as error:
        return [f"{folder / PREDICTIONS}: not a labelled test part ({error})"]
    classes = np.arange(len(CLASS_NAMES))
    precision, recall, f1, support = precision_recall_fscore_support(truth, top1, labels=classes, zero_division=0)
    ours = {
        "images": len(truth),
        "accuracy": float(np.mean(truth == top1)),
        "macro_f1": macro_f1(truth, top1, labels=np.unique(truth)),
        "confusion_matrix": confusion_matrix(truth, top1, labels=classes).tolist(),
    }
    problems = [
        f"{folder}: {key} is {getattr(recorded, key)} in {METRICS}, {value} from {PREDICTIONS}"
        for key, value in ours.items()
        if not _same(getattr(recorded, key), value)
    ]
    for index, name in enumerate(CLASS_NAMES):
        for key, values in (("support", support), ("recall", recall), ("precision", precision), ("f1", f1)):
            if not _same(recorded.per_class[name][key], float(values[index])):
                problems.append(
                    f"{folder}: class {name} {key} is {recorded.per_class[name][key]} in {METRICS}, "
                    f"{values[index]} from {PREDICTIONS}"
                )
    return problems


def _same(recorded, recomputed) -> bool:
    if isinstance(recomputed, list):
        return recorded == recomputed
    return abs(float(recorded) - float(recomputed)) <= TOLERANCE


def _regenerate(results: Path, name: str) -> list[str]:
    """Differences between ``results/<name>.*`` and the same files written again from ``results/runs/<name>``."""
    store = results / COMMITTED
    recipe = get_recipe(name) if name in recipe_names() else None
    with tempfile.TemporaryDirectory() as temporary:
        again = Path(temporary)
        if isinstance(recipe, Analysis):
            stamps = sorted(path for path in (store / name).iterdir() if path.is_dir())
            if not recipe.render or len(stamps) != 1:
                return [f"{store / name}: expected one committed run of analysis {name}, found {len(stamps)}"]
            recipe.render(stamps[-1], again)
        else:
            rows = collect_rows(store, name)
            if not rows:
                return [f"{store / name}: no finished rows"]
            write_tables(rows, name, again, recipe)
        written = sorted(path.name for path in again.iterdir() if path.is_file())
        problems = []
        for file_name in written:
            committed = results / file_name
            if not committed.is_file():
                problems.append(f"{committed}: missing (written again from {store / name})")
            elif committed.read_text() != (again / file_name).read_text():
                problems.append(f"{committed}: differs from the same file written again from {store / name}")
    return problems


def check_or_fail(results: Path, log) -> None:
    problems, checked = check_results(results)
    for line in checked:
        log(line)
    if problems:
        raise SrasError(f"{len(problems)} problem(s) in {results}:\n" + "\n".join(problems))
