"""The recipe machinery end to end on synthetic karyotypes: SR rows, plain rows, overrides, the report."""

import csv
import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sras_keras.cli import main
from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.records import (
    ClassifierMetrics,
    Environment,
    ExperimentRow,
    SRApply,
    read_record,
    write_config,
    write_record,
)
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.provenance import environment
from sras_keras.experiments.registry import get_recipe, recipe_doc, recipe_module, recipe_names
from sras_keras.experiments.report import report_table
from sras_keras.experiments.runner import conversion_key, run_experiment, sr_source_key
from sras_keras.experiments.spec import Experiment, Row, apply_overrides, protocol_split
from sras_keras.inference.predict import predict
from sras_keras.inference.predictor import Predictor
from tests.conftest import top1_predictions


def test_registered_recipes_have_both_configs_and_documented_commands():
    assert {"sras_net_table2", "sras_net_table3", "sras_net_table4"} <= set(recipe_names())
    for name in [n for n in recipe_names() if n.startswith("sras_net")]:
        assert f"--recipe {name}" in recipe_doc(name)
        paper, cpu = get_recipe(name, "paper"), get_recipe(name, "cpu")
        assert all(row.convert.image_size == 224 and row.convert.rotations == 24 for row in paper.rows)
        assert all(
            row.train.model.weights == "imagenet" and row.train.optimization.batch_size == 40 for row in paper.rows
        )
        assert all(
            row.train.optimization.patience == 21 and row.train.optimization.learning_rate == 5e-4 for row in paper.rows
        )
        assert {row.protocol for row in paper.rows} == {"paper", "honest"}
        # CPU rows end by their cosine schedule; the wall-clock budget is only a safety net
        assert all(row.train.runtime.max_minutes and row.train.optimization.schedule == "cosine" for row in cpu.rows)
    assert "--recipe demo" in recipe_doc("demo") and get_recipe("demo").source == "synthetic"
    table3 = get_recipe("sras_net_table3", "paper")
    assert [r.paper_accuracy for r in table3.rows[:4]] == [91.69, 93.30, 96.83, 97.55]
    with pytest.raises(SrasError, match="unknown recipe"):
        get_recipe("nope")


@pytest.mark.parametrize("name", ["tl_table1", "tl_fig2", "tl_fig3"])
def test_an_analysis_recipe_records_its_params_as_a_versioned_config(name, tmp_path):
    params = get_recipe(name, "cpu").params
    write_config(tmp_path, params)
    assert json.loads((tmp_path / "config.json").read_text()) == {"format_version": 1, **dataclasses.asdict(params)}


def test_overrides_change_every_row():
    experiment = apply_overrides(
        get_recipe("sras_net_table4", "cpu"),
        {"train.epochs": "3", "convert.image_size": "48", "sr_train.max_minutes": "1"},
    )
    assert all(r.train.optimization.epochs == 3 and r.convert.image_size == 48 for r in experiment.rows)
    assert experiment.sr_train.max_minutes == 1
    with pytest.raises(SrasError, match="no field 'epoch'"):
        apply_overrides(experiment, {"train.epoch": "3"})


def test_a_conversion_is_cached_by_its_folder_however_the_data_root_is_spelt(tmp_path, monkeypatch):
    (tmp_path / "data" / "bioimlab").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    config = ConvertConfig()
    absolute = conversion_key(tmp_path / "data" / "bioimlab", config)
    assert conversion_key(Path("data/bioimlab"), config) == absolute
    assert conversion_key(Path("data/../data/bioimlab"), config) == absolute
    assert conversion_key(Path("data/bioimlab"), ConvertConfig(image_size=96)) != absolute


def test_the_sr_cache_key_follows_how_the_source_is_read_and_split(tmp_path):
    base, sr = protocol_split("honest", 0, ConvertConfig()), SRTrainConfig()
    key = sr_source_key(tmp_path, base, sr)
    assert key == sr_source_key(tmp_path, dataclasses.replace(base, image_size=64, smote=True, magnify=2.0), sr)
    for changed in (
        dataclasses.replace(base, cell_regex=r"^(\d+)_"),
        dataclasses.replace(base, layout="bioimlab"),
        dataclasses.replace(base, label_coding="sras"),
        protocol_split("honest", 1, ConvertConfig()),
        dataclasses.replace(base, splits_file="splits.json"),
    ):
        assert sr_source_key(tmp_path, changed, sr) != key
    assert sr_source_key(tmp_path, base, dataclasses.replace(sr, epochs=sr.epochs + 1)) != key


def test_run_and_report(tmp_path):
    from sras_keras.data.synthetic import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data" / "synthetic", n_cells=8, seed=3, male_fraction=0.5)
    train = TrainConfig().replace(backbone="resnet_small", weights="none", batch_size=32, epochs=1, learning_rate=2e-3)
    base = ConvertConfig(image_size=32, rotations=2, smote=True)
    rows = (
        Row(
            "plain-honest",
            "plain",
            protocol_split("honest", 0, base),
            train.replace(backbone="resnet_small_bn"),
            False,
            90.0,
            "honest",
            size_evidence=True,
            cell_bn=True,
        ),
        # the paper's split has no val part: SR then monitors on its test part
        Row("sr-paper", "with SR", protocol_split("paper", 0, base), train, True, 95.0, "paper"),
    )
    sr = SRTrainConfig(
        preset="tiny", patch_size=16, batch_size=4, epochs=1, steps_per_epoch=2, val_batches=1, max_minutes=None
    )
    experiment = Experiment("toy", "cpu", "synthetic", rows, sr)
    run = run_experiment(
        experiment, tmp_path / "data", tmp_path / "runs", tmp_path / "tfrecords", log=lambda line: None
    )
    assert (run / "plain-honest" / "metrics.json").exists() and (run / "sr-paper" / "metrics.json").exists()
    assert read_record(ExperimentRow, run / "plain-honest").cell_bn and read_record(Environment, run).seed == 0
    sr_runs = list((tmp_path / "runs" / "srafbn").iterdir())  # one SR model, trained on this split's training images
    assert len(sr_runs) == 1 and (sr_runs[0] / "model.keras").exists()
    assert json.loads((sr_runs[0] / "config.json").read_text())["val_parts"] == ["test"]
    upscaled = tmp_path / "tfrecords" / "sr-source" / sr_runs[0].name
    assert read_record(SRApply, upscaled).model == str(sr_runs[0] / "model.keras")
    # `sras predict --tta` on the SR row's own files: upscaled by its SR model, then mirrored, as its records were
    sr_run = run / "sr-paper"
    records = predict(sr_run, [Predictor(sr_run).run_data.data_dir], tmp_path / "records", parts=["test"], tta=True)
    predict(sr_run, sorted((tmp_path / "data" / "synthetic").iterdir()), tmp_path / "files", tta=True)
    from_records, from_files = top1_predictions(tmp_path / "records"), top1_predictions(tmp_path / "files")
    common = from_records.keys() & from_files.keys()  # the paper split's test part: pieces of cells, and SMOTE's
    assert records["tta"] and len(common) > 40
    for name in common:
        assert from_files[name][0] == from_records[name][0], name
        assert from_files[name][1] == pytest.approx(from_records[name][1], abs=1e-3), name
    # another recipe on the same split and SR settings reuses both: no second SR model
    sr_row = dataclasses.replace(experiment, name="toy2", rows=rows[1:])
    run_experiment(sr_row, tmp_path / "data", tmp_path / "runs", tmp_path / "tfrecords", log=lambda line: None)
    assert list((tmp_path / "runs" / "srafbn").iterdir()) == sr_runs
    # ... and its conversion: one dataset per distinct conversion, whichever recipe made it
    converted = sorted(p.parent.name for p in (tmp_path / "tfrecords" / "converted").glob("*/manifest.json"))
    assert len(converted) == 2 and converted[1].startswith("sr-"), converted

    command = ["report", "table", "--recipe", "toy", "--runs", str(tmp_path / "runs")]
    shown = CliRunner().invoke(main, [*command, "--results", str(tmp_path / "results")])
    assert shown.exit_code == 0, shown.output
    table = (tmp_path / "results" / "toy.md").read_text()
    assert shown.output.strip() == table.strip()
    assert "| plain | honest | cpu | " in table and "| with SR | paper | cpu | " in table
    # a cpu row is not the paper's model: the paper's number is given for orientation, not in the row
    assert "| 90.00 |" not in table and "plain: 90.00%, with SR: 95.00%" in table
    size_section = table.split("Beyond the papers")[1]
    for views in ("image", "image + mirror", "image, cell BN", "image + mirror, cell BN"):
        assert f"| plain | honest | {views} | " in size_section, views
    # `sras predict --cell-bn --tta` on the held-out cells' files: each cell normalised as its records were
    plain_run = run / "plain-honest"
    # a held-out cell's karyogram, read again from its source images, beside the confusion matrix on the page
    assert (plain_run / "figures" / "karyogram.png").stat().st_size > 0 and "![karyogram](runs/toy/" in table
    assert not (run / "sr-paper" / "figures" / "karyogram.png").exists()  # an image-level split has no whole cell
    fitted = json.loads((plain_run / "size_evidence_tta_cellbn.json").read_text())
    records = predict(
        plain_run,
        [Predictor(plain_run).run_data.data_dir],
        tmp_path / "cell-records",
        parts=["test"],
        tta=True,
        cell_bn=True,
    )
    assert records["cell_bn"] and records["accuracy_argmax"] == pytest.approx(
        fitted["test"]["without"]["accuracy_argmax"]
    )
    with open(tmp_path / "cell-records" / "predictions.csv") as handle:
        test_cells = {row["cell_id"] for row in csv.DictReader(handle)}
    predict(
        plain_run,
        [tmp_path / "data" / "synthetic" / cell for cell in sorted(test_cells)],
        tmp_path / "cell-files",
        tta=True,
        cell_bn=True,
    )
    from_records, from_files = top1_predictions(tmp_path / "cell-records"), top1_predictions(tmp_path / "cell-files")
    assert from_records.keys() == from_files.keys() and len(from_files) >= 46
    for name, (top1, probability) in from_records.items():
        assert from_files[name][0] == top1 and from_files[name][1] == pytest.approx(probability, abs=1e-3), name
    predict(
        plain_run,
        [Predictor(plain_run).run_data.data_dir],
        tmp_path / "model-stats",
        parts=["test"],
        tta=True,
    )
    model_stats = top1_predictions(tmp_path / "model-stats")  # the cells' own statistics changed the probabilities
    assert max(abs(model_stats[name][1] - probability) for name, (_, probability) in from_records.items()) > 1e-3
    assert (tmp_path / "results" / "toy.csv").exists()
    with pytest.raises(SrasError, match="unknown row"):
        run_experiment(experiment, tmp_path / "data", tmp_path / "runs", tmp_path / "tfrecords", rows=["nope"])
    with pytest.raises(SrasError, match="no finished rows"):
        report_table(tmp_path / "runs", "other", tmp_path / "results")


def test_report_puts_our_per_class_numbers_beside_the_papers(tmp_path):
    """Table 4's layout: a row whose recipe row carries the paper's per-class numbers gets them beside ours."""
    PAPER_PER_CLASS = recipe_module("sras_net_table4").PAPER_PER_CLASS

    experiment = get_recipe("sras_net_table4", "cpu")
    run = tmp_path / "runs" / "sras_net_table4" / "20260101T000000Z-s0" / "sras-honest"
    run.mkdir(parents=True)
    (run.parent / "config.json").write_text(json.dumps({"format_version": 2, "config_name": "cpu"}))
    write_record(run, Environment.from_dict(environment(seed=0)))
    labels = [label for label, *_ in PAPER_PER_CLASS]
    per_class = {
        label: {
            "support": 46,
            "recall": 0.5 if label == "X" else 1.0,
            "precision": 1.0,
            "f1": 2 / 3 if label == "X" else 1.0,
        }
        for label in labels
    }
    write_record(
        run,
        ClassifierMetrics(
            images=46 * 24,
            accuracy=0.98,
            macro_f1=0.97,
            auc_ovr=0.99,
            per_class=per_class,
            confusion_matrix=[],
            protocol="honest",
            test_part="test",
            selected_on="val",
            checkpoint_selected_on_test_set=False,
            synthetic_test_images=0,
            best_epoch=8,
            epochs_trained=8,
            backbone="resnet_small_bn",
            weights="none",
            seed=0,
        ),
    )
    row = next(r for r in experiment.rows if r.name == "sras-honest")
    write_record(
        run,
        ExperimentRow(
            name=row.name, label=row.label, protocol="honest", data="converted", wall_seconds=60, paper_accuracy=97.55
        ),
    )
    table = report_table(tmp_path / "runs", "sras_net_table4", tmp_path / "results", experiment).read_text()
    per_class_lines = table.split("Per class:")[1].splitlines()[4:]
    assert [line.split(" | ")[0] for line in per_class_lines] == [f"| {label}" for label in labels]
    assert "| X | 46 | 50.00 | 100.00 | 66.67 | 97.87 | 97.87 | 95.74 | 96.79 |" in per_class_lines
    with open(tmp_path / "results" / "sras_net_table4-per-class.csv") as handle:
        records = handle.read().splitlines()
    assert len(records) == 25 and records[-1].endswith("Y,46,100.0,100.0,100.0,100.0,100.0,100.0,100.0")
    # without the recipe, or for a recipe row without per-class numbers, no per-class table
    assert "Per class" not in report_table(tmp_path / "runs", "sras_net_table4", tmp_path / "plain").read_text()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", ""])
def test_a_report_name_is_a_recipe_name_not_a_path(tmp_path, name):
    results = tmp_path / "deep" / "results"
    with pytest.raises(SrasError, match="is not a recipe name"):
        report_table(tmp_path / "runs", name, results)
    assert not (tmp_path / "deep").exists() and not (tmp_path / "x.md").exists()


def test_a_label_with_a_pipe_or_a_line_break_stays_one_markdown_cell():
    from sras_keras.core.tables import markdown_table

    lines = markdown_table(["row", "accuracy %"], [["SRAS-net | x\nsecond line", 97.5], ["", "a\\b"]])
    assert lines[2] == "| SRAS-net \\| x second line | 97.5 |"
    assert lines[3] == "|  | a\\\\b |"
