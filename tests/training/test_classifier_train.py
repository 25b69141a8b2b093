"""A tiny end-to-end classifier run on synthetic karyotypes: outputs, metrics, resume, protocols."""

import csv
import json

import pytest
import tensorflow as tf
from click.testing import CliRunner
from sklearn.metrics import accuracy_score

from sras_keras.cli import main
from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.records import TrainingState, read_record
from sras_keras.configs.train import OptimizationConfig, TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.data.convert import convert
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.models.saving import load_classifier
from sras_keras.training.classifier import train_classifier

TINY = TrainConfig().replace(
    backbone="resnet_small", weights="none", batch_size=32, epochs=2, patience=5, learning_rate=2e-3
)
# the resumed run must come back with its custom loss and its decay, so the output test trains regularised
REGULARISED = TINY.replace(weight_decay=0.05, label_smoothing=0.1)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from sras_keras.data.synthetic import write_synthetic_dataset

    root = tmp_path_factory.mktemp("clf")
    write_synthetic_dataset(root / "source", n_cells=8, seed=2, male_fraction=0.5)
    return root


@pytest.fixture(scope="module")
def holdout(source):
    config = ConvertConfig(split=SplitConfig("holdout", seed=0), image_size=32, rotations=2, smote=True)
    convert(source / "source", source / "holdout", config, log=lambda line: None)
    return source / "holdout"


def test_run_writes_every_output_and_resumes(holdout, tmp_path):
    run = tmp_path / "run"
    metrics = train_classifier(holdout, run, REGULARISED, log=lambda line: None)
    for name in (
        "config.json",
        "env.json",
        "data.json",
        "preprocessing.json",
        "history.csv",
        "predictions.csv",
        "metrics.json",
        "model.keras",
        "checkpoints/last.keras",
        "checkpoints/best.weights.h5",
        "figures/confusion_matrix.png",
        "figures/tsne.png",
    ):
        assert (run / name).exists(), name
    assert list((run / "tensorboard").iterdir())
    assert metrics.protocol == "honest" and not metrics.checkpoint_selected_on_test_set
    with open(run / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics.images and not any(int(r["synthetic"]) for r in rows)
    truth = [CLASS_NAMES.index(r["true"]) for r in rows]
    predicted = [CLASS_NAMES.index(r["top1"]) for r in rows]
    assert metrics.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert 0 <= metrics.macro_f1 <= 1 and 0 <= metrics.auc_ovr <= 1
    test_cells = {r["cell_id"] for r in rows}
    splits = json.loads((holdout / "splits.json").read_text())
    assert test_cells == {e["cell_id"] for e in splits["images"] if e["part"] == "test"}

    with pytest.raises(SrasError, match="holds a finished run"):
        train_classifier(holdout, run, REGULARISED, log=lambda line: None)
    checkpoint = load_classifier(run / "checkpoints" / "last.keras")
    assert checkpoint.optimizer.weight_decay == pytest.approx(0.05)
    assert checkpoint.loss.smoothing == pytest.approx(0.1)
    longer = REGULARISED.replace(epochs=3)
    train_classifier(holdout, run, longer, resume=True, log=lambda line: None)
    with open(run / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    state = read_record(TrainingState, run)
    assert state.epoch == 3 and 1 <= state.early_stopping.best_epoch <= 3


def test_paper_protocol_is_flagged(source, tmp_path):
    data = tmp_path / "paper"
    convert(
        source / "source",
        data,
        ConvertConfig(split=SplitConfig("paper"), image_size=32, smote=True, smote_scope="all"),
        log=lambda line: None,
    )
    lines = []
    metrics = train_classifier(data, tmp_path / "run", TINY.replace(epochs=1), log=lines.append)
    assert metrics.protocol == "paper" and metrics.checkpoint_selected_on_test_set
    assert any("also the test set" in line for line in lines)
    assert metrics.synthetic_test_images > 0  # SMOTE before the split puts synthetic images in the test set


def test_evaluate_command_and_bad_runs(holdout, tmp_path):
    run = tmp_path / "run"
    train_classifier(holdout, run, TINY.replace(epochs=1), log=lambda line: None)
    before = json.loads((run / "metrics.json").read_text())
    result = CliRunner().invoke(main, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())["accuracy"] == before["accuracy"]  # deterministic
    assert "accuracy" in result.output
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path)])
    assert result.exit_code == 1 and "not a training run" in result.output
    with pytest.raises(SrasError, match="K-fold datasets"):
        train_classifier(holdout, tmp_path / "other", TINY.replace(fold=1), log=print)


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="GPUs run mixed precision in float16")
def test_mixed_precision_on_a_cpu_trains_in_bfloat16_and_the_next_run_is_float32_again(holdout, tmp_path):
    import keras

    mixed = TINY.replace(epochs=1, mixed_precision=True)
    try:
        metrics = train_classifier(holdout, tmp_path / "mixed", mixed, log=lambda line: None)
        assert json.loads((tmp_path / "mixed" / "env.json").read_text())["precision"] == "mixed_bfloat16"
        model = load_classifier(tmp_path / "mixed" / "model.keras")
        convolutions = [
            layer
            for outer in model.layers
            for layer in getattr(outer, "layers", [outer])
            if isinstance(layer, keras.layers.Conv2D)
        ]
        assert convolutions and all(layer.dtype_policy.name == "mixed_bfloat16" for layer in convolutions)
        assert model.output.dtype == "float32" and 0 <= metrics.accuracy <= 1
        train_classifier(holdout, tmp_path / "plain", TINY.replace(epochs=1), log=lambda line: None)
        assert json.loads((tmp_path / "plain" / "env.json").read_text())["precision"] == "float32"
        assert keras.mixed_precision.global_policy().name == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_cosine_schedule_warms_up_then_decays_to_zero():
    from sras_keras.training.classifier import learning_rate_schedule

    config = TrainConfig().replace(learning_rate=1e-3, epochs=5, schedule="cosine")
    schedule = learning_rate_schedule(config.optimization, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert rates[0] == 0 and rates[1] == pytest.approx(5e-4) and rates[2] == pytest.approx(1e-3)
    assert rates[2] > rates[3] > rates[4] and rates[4] == pytest.approx(0, abs=1e-9)
    assert learning_rate_schedule(OptimizationConfig(learning_rate=1e-3), 10) == 1e-3
    with pytest.raises(SrasError, match="unknown schedule 'step'"):
        TrainConfig().replace(schedule="step")
    with pytest.raises(SrasError, match="cosine schedule needs at least 2 epochs"):
        TrainConfig().replace(schedule="cosine", epochs=1)


def test_regularisation_settings_are_checked():
    from sras_keras.training.classifier import training_loss
    from sras_keras.training.transfer import make_optimizer

    assert training_loss(TINY.optimization) == "sparse_categorical_crossentropy"
    with pytest.raises(SrasError, match="label_smoothing must be in"):
        TrainConfig().replace(label_smoothing=1.0)
    assert make_optimizer("sgd", OptimizationConfig(weight_decay=1e-4), 1e-3).weight_decay == pytest.approx(1e-4)
    with pytest.raises(SrasError, match="weight_decay must be >= 0"):
        TrainConfig().replace(weight_decay=-1.0)


def test_cell_batches_run_is_chosen_on_cell_normalised_validation(holdout, tmp_path):
    """``val_cell_accuracy`` is logged every epoch, picks the checkpoint, and is what `sras predict --cell-bn` gets."""
    import numpy as np

    from sras_keras.inference.predictor import Predictor, predict_records

    result = CliRunner().invoke(
        main,
        [
            "train",
            str(holdout),
            str(tmp_path / "run"),
            "--backbone",
            "resnet_small_bn",
            "--weights",
            "none",
            "--batch-size",
            "16",
            "--epochs",
            "2",
            "--learning-rate",
            "2e-3",
            "--cell-batches",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"]["cell_batches"]
    with open(tmp_path / "run" / "history.csv") as handle:
        history = list(csv.DictReader(handle))
    early_stopping = read_record(TrainingState, tmp_path / "run").early_stopping
    assert early_stopping.monitor == "val_cell_accuracy"
    assert early_stopping.best == pytest.approx(max(float(row["val_cell_accuracy"]) for row in history))
    images, probabilities = predict_records(Predictor(tmp_path / "run"), holdout, ["val"], cell_bn=True)
    labels = np.array([image.label for image in images])
    assert (probabilities.argmax(axis=1) == labels).mean() == pytest.approx(early_stopping.best)


def test_cell_validation_needs_batchnorm_and_cells(holdout, tmp_path):
    from tests.conftest import write_class_tree

    config = TINY.replace(monitor="val_cell_accuracy")  # resnet_small: GroupNorm
    with pytest.raises(SrasError, match="no BatchNorm layer"):
        train_classifier(holdout, tmp_path / "run", config, log=lambda line: None)
    assert not (tmp_path / "run" / "checkpoints" / "last.keras").exists()
    convert(
        write_class_tree(tmp_path / "source", cells=3),
        tmp_path / "cell-less",
        ConvertConfig(split=SplitConfig("paper"), image_size=32),  # split by image: the images have no cell
        log=lambda line: None,
    )  # class folders without --cell-regex: no cell ids
    config = config.replace(backbone="resnet_small_bn")
    with pytest.raises(SrasError, match="no 'test' cell of 10 or more images"):
        train_classifier(tmp_path / "cell-less", tmp_path / "run2", config, log=lambda line: None)


def history_rows(run):
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


def test_a_resumed_run_repeats_the_uninterrupted_runs_history(holdout, tmp_path):
    """Epoch k's batch order, augmentation and dropout masks depend on (seed, k) alone (``epoch_seed``), so a run
    stopped after epoch 1 and resumed logs what the uninterrupted run logged. CPU: the same ops on the same values in
    the same order, so the rows are equal as written (no tolerance)."""
    config = TINY.replace(epochs=3, flip="both", zoom=0.1, contrast=0.2)
    train_classifier(holdout, tmp_path / "whole", config, log=lambda line: None)
    train_classifier(holdout, tmp_path / "resumed", config.replace(epochs=1), log=lambda line: None)
    train_classifier(holdout, tmp_path / "resumed", config, resume=True, log=lambda line: None)
    whole, resumed = history_rows(tmp_path / "whole"), history_rows(tmp_path / "resumed")
    assert [row["epoch"] for row in whole] == ["0", "1", "2"]
    assert resumed == whole


def test_a_failed_start_writes_nothing_or_leaves_a_folder_the_corrected_run_starts_in(holdout, tmp_path, monkeypatch):
    """A backbone, weights file, input size or ImageNet download that cannot work is refused before OUT exists; a
    NaN loss in epoch 1 leaves a folder with no finished epoch, which the corrected run (a lower learning rate, as
    the error advises) starts in without --resume (which has nothing to resume)."""
    import urllib.error

    import keras

    from sras_keras.training import classifier as classifier_training

    run = tmp_path / "run"
    command = ["train", str(holdout), str(run), "--batch-size", "32", "--epochs", "1"]
    alien = tmp_path / "alien.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(alien)

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure") from urllib.error.URLError("offline")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    for options, message in [
        (["--backbone", "resnet_small", "--weights", str(tmp_path / "missing.weights.h5")], "does not exist"),
        (["--backbone", "resnet_small", "--weights", str(alien)], "does not fit model"),
        (["--backbone", "nope"], "unknown backbone 'nope'"),
        (["--backbone", "inception_resnet_v2", "--weights", "none"], "needs inputs of at least 75x75"),
        (["--backbone", "resnet50"], "ImageNet weights for backbone 'resnet50' could not be fetched"),
    ]:
        result = CliRunner().invoke(main, [*command, *options])
        assert result.exit_code == 1 and message in result.output, result.output
        assert not run.exists(), options

    class PoisonedGuard(classifier_training.FiniteLoss):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, {"loss": float("nan")})

    monkeypatch.setattr(classifier_training, "FiniteLoss", PoisonedGuard)
    small = [*command, "--backbone", "resnet_small"]  # --weights: none, resnet_small's default
    result = CliRunner().invoke(main, [*small, "--learning-rate", "2e-3"])
    assert result.exit_code == 1, result.output
    assert "NaN/inf at epoch 1, batch 1" in result.output and "no epoch finished" in result.output
    assert "Start again in a new folder (or this one" in result.output and "lower --learning-rate" in result.output
    assert (run / "config.json").exists() and not (run / "checkpoints" / "state.json").exists()
    result = CliRunner().invoke(main, [*small, "--learning-rate", "2e-3", "--resume"])
    assert result.exit_code == 1 and "nothing to resume" in result.output and "without --resume" in result.output

    monkeypatch.undo()
    result = CliRunner().invoke(main, [*small, "--learning-rate", "1e-3"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "config.json").read_text())["model"]
    assert saved["weights"] == "none" and len(history_rows(run)) == 1
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "plan.txt").write_text("mine")
    result = CliRunner().invoke(main, [*small[:2], str(tmp_path / "notes"), *small[3:]])
    assert result.exit_code == 1 and "not empty (plan.txt" in result.output
    assert (tmp_path / "notes" / "plan.txt").exists()


def test_weights_default_to_imagenet_only_where_the_backbone_has_them():
    from sras_keras.training.classifier import default_weights

    assert [default_weights(name) for name in ("inception_resnet_v2", "resnet50", "convnext_tiny")] == ["imagenet"] * 3
    assert [default_weights(name) for name in ("resnet_small", "resnet_small_bn", "vgg16_bn", "vit_s16")] == [
        "none"
    ] * 4
    help_text = " ".join(CliRunner().invoke(main, ["train", "--help"]).output.split())
    assert "[default: (imagenet where the backbone has it, else none)]" in help_text
