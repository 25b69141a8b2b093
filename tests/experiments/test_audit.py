"""`sras report table` commits each reported run's small files under results/runs/, and `sras report check`
recomputes every number from them: each test builds a tiny finished run by hand (records and predictions, no
training) and changes one thing."""

import csv
import json
import os
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from sras_keras.cli import main
from sras_keras.configs.records import ClassifierMetrics, Environment, ExperimentRow, write_record
from sras_keras.core.provenance import environment
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.evaluation.metrics import classification_metrics
from sras_keras.experiments.audit import check_results
from sras_keras.experiments.report import collect_rows, report_table
from sras_keras.inference.outputs import PREDICTION_COLUMNS


def finished_run(runs: Path, stamp: str, row: str = "toy-honest", seed: int = 0, images: int = 96) -> Path:
    """A finished row of recipe ``toy`` under ``runs``: config, env, row, data (an absolute path, as training
    writes it), metrics from random probabilities, their predictions, history, a figure and a model file."""
    stamp_folder = runs / "toy" / stamp
    folder = stamp_folder / row
    folder.mkdir(parents=True)
    experiment = {"format_version": 2, "name": "toy", "config_name": "cpu", "notes": "the recipe's docstring"}
    (stamp_folder / "config.json").write_text(json.dumps(experiment))
    write_record(stamp_folder, Environment.from_dict(environment(seed=seed)))
    write_record(folder, Environment.from_dict(environment(seed=seed)))
    rng = np.random.default_rng(seed)
    labels = np.arange(images) % len(CLASS_NAMES)
    probabilities = rng.dirichlet(np.ones(len(CLASS_NAMES)), images)
    probabilities[np.arange(images), labels] += rng.random(images)  # mostly right, some wrong
    probabilities /= probabilities.sum(1, keepdims=True)
    metrics = classification_metrics(labels, probabilities)
    write_record(
        folder,
        ClassifierMetrics(
            **metrics,
            protocol="honest",
            test_part="test",
            selected_on="val",
            checkpoint_selected_on_test_set=False,
            synthetic_test_images=0,
            best_epoch=3,
            epochs_trained=4,
            backbone="resnet_small",
            weights="none",
            seed=seed,
        ),
    )
    with open(folder / "predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PREDICTION_COLUMNS)
        for k, probs in enumerate(probabilities):
            top = np.argsort(-probs)[:3]
            cells = [f"{k}.png", str(k // 46), 0, CLASS_NAMES[labels[k]]]
            writer.writerow(cells + [v for c in top for v in (CLASS_NAMES[c], f"{probs[c]:.6f}")] + ["", ""])
    write_record(folder, ExperimentRow(name=row, label="Toy row", protocol="honest", data="x", wall_seconds=60.0))
    (folder / "data.json").write_text(
        json.dumps({"format_version": 1, "data_dir": str(Path.cwd().parent / "x" / "data")})
    )
    (folder / "config.json").write_text(json.dumps({"format_version": 3, "model": {"init_from": None}}))
    (folder / "history.csv").write_text("epoch,accuracy\n0,0.5\n")
    (folder / "figures").mkdir()
    (folder / "figures" / "confusion_matrix.png").write_bytes(b"\x89PNG not really")
    (folder / "model.keras").write_bytes(b"megabytes")
    return folder


def test_a_table_commits_its_runs_small_files_and_the_check_recomputes_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    finished_run(Path("runs"), "20260101T000000Z-s0")
    results = Path("results")
    table = report_table(Path("runs"), "toy", results).read_text()
    committed = results / "runs" / "toy" / "20260101T000000Z-s0" / "toy-honest"
    assert sorted(p.name for p in committed.iterdir()) == sorted(
        [
            "config.json",
            "data.json",
            "env.json",
            "history.csv",
            "metrics.json",
            "predictions.csv",
            "row.json",
            "figures",
        ]
    )  # never the model
    assert json.loads((committed / "data.json").read_text())["data_dir"] == ".../x/data"  # no machine path
    assert (committed.parent / "env.json").is_file()
    assert json.loads((committed.parent / "config.json").read_text()) == {  # the docstring stays in the recipe
        "format_version": 2,
        "name": "toy",
        "config_name": "cpu",
    }
    assert "(runs/toy/20260101T000000Z-s0/toy-honest)" in table and "![confusion_matrix]" in table
    assert check_results(results)[0] == []

    # the committed copy is enough: with runs/ gone, the table is written again the same
    os.rename("runs", "elsewhere")
    assert report_table(Path("runs"), "toy", results).read_text() == table
    assert check_results(results)[0] == []

    # a newer run of the row replaces the committed one
    newer = finished_run(Path("runs"), "20260102T000000Z-s1", seed=1)
    report_table(Path("runs"), "toy", results)
    assert [p.name for p in (results / "runs" / "toy").iterdir()] == ["20260102T000000Z-s1"]
    assert [row["commit"] for row in collect_rows(results / "runs", "toy")] and check_results(results)[0] == []
    assert (newer / "model.keras").exists() and not (
        results / "runs" / "toy" / newer.parent.name / "model.keras"
    ).exists()


def test_the_check_fails_on_an_edited_prediction_or_number_and_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    finished_run(Path("runs"), "20260101T000000Z-s0")
    results = Path("results")
    report_table(Path("runs"), "toy", results)
    predictions = results / "runs" / "toy" / "20260101T000000Z-s0" / "toy-honest" / "predictions.csv"
    text = predictions.read_text()
    first = text.splitlines()[1].split(",")
    wrong = next(name for name in CLASS_NAMES if name not in (first[3], first[4]))
    predictions.write_text(text.replace(",".join(first), ",".join([*first[:4], wrong, *first[5:]]), 1))
    problems = check_results(results)[0]
    assert any("accuracy" in p and "predictions.csv" in p for p in problems), problems
    predictions.write_text(text)

    table = results / "toy.md"
    original = table.read_text()
    accuracy = original.split("| Toy row | honest | cpu | ")[1].split(" |")[0]
    table.write_text(original.replace(f"| {accuracy} |", f"| {float(accuracy) + 1:.2f} |"))
    assert check_results(results)[0] == [f"{table}: differs from the same file written again from results/runs/toy"]
    table.write_text(original)

    (results / "orphan.md").write_text("# orphan\n\n| a | 99.0 |\n")
    (results / "toy.csv").write_text((results / "toy.csv").read_text() + "# see /home/someone/runs\n")
    problems = check_results(results)[0]
    assert any(p.startswith(f"{results / 'orphan.md'}: no committed runs") for p in problems)
    assert any(p.startswith(f"{results / 'toy.csv'}: a machine path") for p in problems)

    result = CliRunner().invoke(main, ["report", "check", "--results", str(results)])
    assert result.exit_code == 1 and "error: 3 problem(s) in results:" in result.output  # orphan, path, edited csv
