"""The two-step study's machinery on tiny synthetic "bands": K-fold rows, a pretraining stage whose backbone
starts every fold, Adam-then-SGD, the honest K-fold variant, fold sharding, the Table 2 pivot and Fig 2."""

import dataclasses
import json
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.experiments.audit import check_results
from sras_keras.experiments.registry import get_recipe, recipe_doc, recipe_module
from sras_keras.experiments.report import collect_rows, report_table
from sras_keras.experiments.runner import run_experiment
from sras_keras.experiments.spec import Experiment, Pretrain, Row, apply_overrides
from sras_keras.training.classifier import data_roles


def test_recipes_are_registered_with_faithful_paper_configs():
    table2 = get_recipe("tl_table2", "paper")
    assert len(table2.rows) == 11 * 3 * 2 * 2
    assert all(row.folds == (0, 1, 2, 3, 4) and row.convert.image_size == 256 for row in table2.rows)
    assert all(row.convert.preprocess == "square_resize" and row.train.optimization.epochs == 80 for row in table2.rows)
    assert all(
        row.train.optimization.optimizer == "adam_then_sgd"
        and row.train.augmentation.flip == "both"
        and row.train.augmentation.blur > 0
        for row in table2.rows
    )
    two_step = [row for row in table2.rows if dict(row.tags)["approach"] == "two_step"]
    assert all(row.pretrain is not None and row.pretrain.source != row.source for row in two_step)
    assert all(row.pretrain.train.model.weights != "none" for row in two_step)  # ImageNet, then the other band
    cpu = get_recipe("tl_table2", "cpu")
    assert all(row.train.runtime.max_minutes and row.convert.image_size < 256 for row in cpu.rows)
    for name in ("tl_table1", "tl_table2", "tl_fig2", "tl_fig3"):
        assert f"--recipe {name}" in recipe_doc(name)
    table1 = apply_overrides(get_recipe("tl_table1", "cpu"), {"analysis.max_images": "10"})
    assert table1.params.max_images == 10
    with pytest.raises(SrasError, match="analysis"):
        apply_overrides(table1, {"train.epochs": "3"})


def test_kfold_roles_paper_and_honest(tmp_path):
    split = SplitConfig("kfold", folds=5, group_by="image")
    manifest = SimpleNamespace(
        parts=split.parts(), validation_part=None, config=SimpleNamespace(split=split, smote=False)
    )
    paper = data_roles(tmp_path, manifest, 4)
    assert (paper.train, paper.val, paper.test, paper.protocol) == (
        ["fold0", "fold1", "fold2", "fold3"],
        "fold4",
        "fold4",
        "paper",
    )
    honest = data_roles(tmp_path, manifest, 4, "next_fold")
    assert (honest.train, honest.val, honest.test, honest.protocol) == (
        ["fold1", "fold2", "fold3"],
        "fold0",
        "fold4",
        "honest",
    )
    assert honest.split == split and honest.data_dir == str(tmp_path.resolve())


def test_two_step_rows_train_per_fold_from_the_pretrained_backbone(tmp_path):
    from sras_keras.data.synthetic import write_synthetic_dataset
    from sras_keras.models.saving import load_classifier

    write_synthetic_dataset(tmp_path / "data" / "band_a", n_cells=6, seed=1, male_fraction=0.5)
    write_synthetic_dataset(tmp_path / "data" / "band_b", n_cells=10, seed=2, male_fraction=0.5)
    train = TrainConfig().replace(
        backbone="resnet_small",
        weights="none",
        batch_size=32,
        epochs=2,
        learning_rate=2e-3,
        optimizer="adam_then_sgd",
        sgd_epoch=1,
        blur=1.0,
        flip="both",
        rotated_copies=False,
    )
    convert = ConvertConfig(image_size=32, preprocess="square_resize", split=SplitConfig("kfold", folds=2))
    one_epoch = train.replace(optimizer="adam", epochs=1)  # the two-stage optimiser is checked once
    stage = Pretrain(
        "band_b",
        dataclasses.replace(convert, split=SplitConfig("holdout", val_fraction=0.2, test_fraction=0.2)),
        one_epoch,
    )
    rows = tuple(
        Row(
            f"small-{approach}",
            f"small {approach}",
            convert,
            train if approach == "two_step" else one_epoch,
            protocol="paper",
            folds=(0, 1),
            pretrain=stage if approach == "two_step" else None,
            tags=(("architecture", "ResNet-34"), ("band", "A"), ("approach", approach)),
        )
        for approach in ("scratch", "two_step")
    )
    experiment = Experiment("toy_tl", "cpu", "band_a", rows)
    run = run_experiment(
        experiment, tmp_path / "data", tmp_path / "runs", tmp_path / "tfrecords", log=lambda line: None, folds=[1]
    )
    assert not (run / "small-scratch" / "fold0").exists()  # a fold-sharded job trains its folds only
    pretrained = next(run.glob("pretrain-band_b-*/model.keras"))
    fold = run / "small-two_step" / "fold1"
    assert json.loads((fold / "config.json").read_text())["model"]["init_from"] == str(pretrained)
    assert json.loads((fold / "row.json").read_text())["pretrain_wall_seconds"] > 0  # counted in the row's time
    assert json.loads((run / "small-scratch" / "fold1" / "row.json").read_text())["pretrain_wall_seconds"] is None
    history = (fold / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + one Adam epoch + one SGD epoch
    assert isinstance(load_classifier(fold / "checkpoints" / "last.keras").optimizer, keras.optimizers.SGD)

    run_experiment(
        experiment, tmp_path / "data", tmp_path / "runs", tmp_path / "tfrecords", log=lambda line: None, folds=[0]
    )  # the other shard, another run folder: the report merges both
    collected = {row["name"]: row for row in collect_rows(tmp_path / "runs", "toy_tl")}
    assert collected["small-scratch"]["metrics"]["folds"] == [0, 1]
    metrics = collected["small-two_step"]["metrics"]
    assert metrics["macro_f1"] == pytest.approx(np.mean(metrics["macro_f1_per_fold"]))
    assert metrics["macro_f1_std"] == pytest.approx(np.std(metrics["macro_f1_per_fold"], ddof=1))
    table = report_table(tmp_path / "runs", "toy_tl", tmp_path / "results").read_text()
    assert " ± " in table and "| architecture | A / scratch | A / two_step |" in table

    GainFigure, fig2 = recipe_module("tl_fig2").GainFigure, recipe_module("tl_fig2").run

    fig2(GainFigure(table="toy_tl", resamples=200), tmp_path / "data", tmp_path / "runs", tmp_path / "results")
    gains = (tmp_path / "results" / "tl_fig2.md").read_text()
    assert "| ResNet-34 | A | paper | scratch |" in gains
    assert next((tmp_path / "runs" / "tl_fig2").glob("*/figures/tl_fig2.png")).stat().st_size > 0
    # both pages link their committed runs (folds, the pretraining stage, the figure), and every number rechecks
    committed = tmp_path / "results" / "runs"
    assert len(list(committed.glob("toy_tl/*/small-two_step/fold*/predictions.csv"))) == 2
    assert list(committed.glob("toy_tl/*/pretrain-band_b-*/metrics.json"))
    assert list(committed.glob("tl_fig2/*/figures/tl_fig2.png")) and "scratch measure what" in gains
    assert check_results(tmp_path / "results")[0] == []


def test_carry_backbone_copies_the_body_and_keeps_a_fresh_head(tmp_path):
    from sras_keras.models import build_classifier, classifier_backbone
    from sras_keras.training.transfer import carry_backbone

    keras.utils.set_random_seed(0)
    source = build_classifier("resnet_small", 32)
    source.save(tmp_path / "source.keras")
    keras.utils.set_random_seed(1)
    target = build_classifier("resnet_small", 32)
    head_before = target.get_layer("probabilities").get_weights()[0].copy()
    carry_backbone(target, tmp_path / "source.keras")
    for carried, original in zip(classifier_backbone(target).get_weights(), classifier_backbone(source).get_weights()):
        np.testing.assert_array_equal(carried, original)
    np.testing.assert_array_equal(target.get_layer("probabilities").get_weights()[0], head_before)
    with pytest.raises(SrasError, match="cannot start"):
        carry_backbone(build_classifier("resnet34", 32), tmp_path / "source.keras")


def test_split_override_groups_the_folds_by_cell():
    experiment = apply_overrides(get_recipe("tl_table2", "cpu"), {"convert.split": '{"group_by": "cell"}'})
    assert all(row.convert.split.group_by == "cell" and row.convert.split.scheme == "kfold" for row in experiment.rows)
    with pytest.raises(SrasError, match="convert.split"):
        apply_overrides(experiment, {"convert.split": '{"grouping": "cell"}'})


def test_domain_similarity_table_on_tiny_bands(tmp_path):
    CPU, run = recipe_module("tl_table1").CPU, recipe_module("tl_table1").run
    from sras_keras.data.synthetic import write_synthetic_dataset

    for name in ("bioimlab", "gband65"):  # one synthetic tree under both names: two samples of one distribution
        write_synthetic_dataset(tmp_path / "data" / name, n_cells=2, seed=1, male_fraction=0.5)
    params = dataclasses.replace(
        CPU, backbone="resnet_small", image_size=32, max_images=30, bootstraps=50, permutations=50
    )
    run_dir = run(params, tmp_path / "data", tmp_path / "runs", tmp_path / "results", log=lambda line: None)
    rows = json.loads((run_dir / "results.json").read_text())["rows"]
    assert [row["pair"] for row in rows] == ["G vs Q", "G vs natural", "Q vs natural"]
    assert all(row["n_x"] == 30 and row["n_y"] == 30 and row["ci_low"] <= row["mmd2"] <= row["ci_high"] for row in rows)
    same, natural = rows[0], rows[1]  # the same images vs photographs: no difference vs a significant one
    assert same["mmd2"] < 0.01 < natural["mmd2"] and same["p_value"] > 0.5 and natural["p_value"] < 0.05
    table = (tmp_path / "results" / "tl_table1.md").read_text()
    # random features are not the paper's measure: its values are named apart, not in a column beside ours
    assert "Random embedding weights" in table and "G vs Q 0.148" in table and "paper MMD^2" not in table
    assert (tmp_path / "results" / "tl_table1.csv").exists() and (run_dir / "env.json").exists()
    assert check_results(tmp_path / "results")[0] == []  # the page is written again from its committed run
