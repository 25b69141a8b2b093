"""End-to-end SR on a tiny synthetic dataset: train, resume, evaluate, apply, and the bad-input cases."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sras_keras.cli import main
from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.records import TrainingState, read_record
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.data.convert import convert
from sras_keras.inference.upscale import crop_with_margin
from sras_keras.models.saving import load_sr_model
from sras_keras.training import sr as sr_training
from sras_keras.training.sr import train_sr

TINY = SRTrainConfig(
    preset="tiny",
    patch_size=16,
    batch_size=4,
    epochs=2,
    steps_per_epoch=2,
    val_batches=1,
    halve_at=(1,),
    max_minutes=None,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from sras_keras.data.synthetic import write_synthetic_dataset

    root = tmp_path_factory.mktemp("sr")
    write_synthetic_dataset(root / "source", n_cells=6, seed=1)
    convert(
        root / "source",
        root / "data",
        ConvertConfig(split=SplitConfig("holdout", seed=0), image_size=64),
        log=lambda line: None,
    )
    return root


def epochs_in_history(run):
    with open(run / "history.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_train_then_resume_continues_from_the_saved_epoch(dataset, tmp_path):
    run = tmp_path / "run"
    logs = train_sr(dataset / "data", run, TINY, log=lambda line: None)
    assert np.isfinite(logs["loss"]) and logs["learning_rate"] == pytest.approx(1e-4)  # halved at epoch 1
    assert read_record(TrainingState, run) == TrainingState(epoch=2, logs=logs)  # no early stopping
    assert (run / "model.keras").exists() and json.loads((run / "config.json").read_text())["preset"] == "tiny"
    assert json.loads((run / "env.json").read_text())["data_checksum"]
    with pytest.raises(SrasError, match="holds a finished run"):
        train_sr(dataset / "data", run, TINY, log=lambda line: None)

    longer = SRTrainConfig(**{**TINY.to_dict(), "epochs": 3})
    train_sr(dataset / "data", run, longer, resume=True, log=lambda line: None)
    assert epochs_in_history(run) == [0, 1, 2]
    assert read_record(TrainingState, run).epoch == 3
    other = SRTrainConfig(**{**TINY.to_dict(), "epochs": 4, "learning_rate": 1.0})
    with pytest.raises(SrasError, match="different config"):
        train_sr(dataset / "data", run, other, resume=True, log=lambda line: None)


def test_a_resumed_run_repeats_the_uninterrupted_runs_history(dataset, tmp_path):
    """Epoch k's patches depend on (seed, k) alone and the checkpoint carries the optimizer, so a run stopped after
    epoch 1 and resumed logs what the uninterrupted run logged, as written (CPU: no tolerance)."""
    whole = SRTrainConfig(**{**TINY.to_dict(), "epochs": 3})
    train_sr(dataset / "data", tmp_path / "whole", whole, log=lambda line: None)
    train_sr(
        dataset / "data", tmp_path / "resumed", SRTrainConfig(**{**TINY.to_dict(), "epochs": 1}), log=lambda line: None
    )
    train_sr(dataset / "data", tmp_path / "resumed", whole, resume=True, log=lambda line: None)
    rows = [(tmp_path / run / "history.csv").read_bytes() for run in ("whole", "resumed")]
    assert rows[0].count(b"\n") == 4 and rows[1] == rows[0]
    # a kill between an epoch's history row and its checkpoint: the resume drops the row and writes it again, and
    # the file stays byte for byte what the uninterrupted run wrote (Keras ends rows with \r\n)
    stopped = tmp_path / "killed"
    train_sr(dataset / "data", stopped, SRTrainConfig(**{**TINY.to_dict(), "epochs": 1}), log=lambda line: None)
    with open(stopped / "history.csv", "a", newline="") as handle:
        handle.write(rows[0].decode().splitlines(keepends=True)[2])  # epoch 1's row, its checkpoint never written
    train_sr(dataset / "data", stopped, whole, resume=True, log=lambda line: None)
    assert (stopped / "history.csv").read_bytes() == rows[0]
    # resuming with fewer epochs than were trained is refused, not finished as is
    with pytest.raises(SrasError, match="already trained 3 epochs, more than --epochs 2; resume with --epochs 3"):
        train_sr(
            dataset / "data",
            stopped,
            SRTrainConfig(**{**TINY.to_dict(), "epochs": 2}),
            resume=True,
            log=lambda line: None,
        )


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train_sr(dataset / "data", run, SRTrainConfig(**{**TINY.to_dict(), "epochs": 1}), log=lambda line: None)
    good = (run / "checkpoints" / "last.keras").read_bytes()

    real_guard = sr_training.FiniteLoss

    class PoisonedGuard(real_guard):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, {"loss": float("nan")})

    monkeypatch.setattr(sr_training, "FiniteLoss", PoisonedGuard)
    with pytest.raises(SrasError, match="NaN/inf at epoch 2, batch 1.*epoch 1"):
        train_sr(
            dataset / "data", run, SRTrainConfig(**{**TINY.to_dict(), "epochs": 2}), resume=True, log=lambda line: None
        )
    assert (run / "checkpoints" / "last.keras").read_bytes() == good


def test_eval_and_apply_through_the_cli(dataset, tmp_path):
    run = tmp_path / "run"
    train_sr(dataset / "data", run, TINY, log=lambda line: None)
    runner = CliRunner()
    result = runner.invoke(
        main, ["sr", "evaluate", str(run / "model.keras"), str(dataset / "data"), "--max-images", "12"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "eval-test" / "metrics.json").read_text())
    assert metrics["images"] == 12 and set(metrics["whole"]) == {"bicubic", "step1", "step2"}
    assert 15 < metrics["whole"]["bicubic"]["psnr"] < 60 and 0 < metrics["foreground"]["step2"]["ssim"] <= 1
    assert metrics["gain_db"]["whole"] == pytest.approx(
        metrics["whole"]["step2"]["psnr"] - metrics["whole"]["bicubic"]["psnr"]
    )
    assert (run / "eval-test" / "figures" / "sr_comparison.png").stat().st_size > 1000

    out = tmp_path / "upscaled"
    result = runner.invoke(main, ["sr", "apply", str(run / "model.keras"), str(dataset / "source"), str(out)])
    assert result.exit_code == 0, result.output
    original = np.asarray(Image.open(dataset / "source" / "1" / "1 1a.bmp"))
    upscaled = np.asarray(Image.open(out / "1" / "1 1a.bmp"))
    cropped = crop_with_margin(original, 0)  # the chromosome plus a margin, then x2
    assert upscaled.shape == tuple(2 * n for n in cropped.shape) and cropped.shape[0] <= original.shape[0] + 8
    assert len(list(out.rglob("*.bmp"))) == len(list((dataset / "source").rglob("*.bmp")))
    again = runner.invoke(main, ["sr", "apply", str(run / "model.keras"), str(out), str(tmp_path / "twice")])
    assert again.exit_code == 1 and "already upscaled" in again.output
    scale = runner.invoke(
        main, ["sr", "evaluate", str(run / "model.keras"), str(dataset / "data"), "--expect-scale", "3"]
    )
    assert scale.exit_code == 1 and "scale mismatch" in scale.output


def test_a_model_file_of_another_kind_is_refused(tmp_path):
    import keras

    path = tmp_path / "classifier.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
    with pytest.raises(SrasError, match="holds a Sequential, not an SRAFBN"):
        load_sr_model(path)
    (tmp_path / "junk.keras").write_bytes(b"junk")
    with pytest.raises(SrasError, match="junk.keras: not a readable .keras archive"):  # models.saving.check_archive
        load_sr_model(tmp_path / "junk.keras")


def test_sr_train_on_a_default_split_validates_on_its_test_part_and_a_failed_start_is_reusable(
    dataset, tmp_path, monkeypatch
):
    """A paper split (`sras data convert --split paper`) has no val part: SR monitors PSNR on its test part, as
    --val-part's default says. Unknown parts are refused before OUT exists; a NaN loss in epoch 1 leaves a folder
    the corrected run (a lower learning rate) starts in without --resume."""
    paper = tmp_path / "paper"
    convert(dataset / "source", paper, ConvertConfig(split=SplitConfig("paper"), image_size=64), log=lambda line: None)
    run = tmp_path / "run"
    command = ["sr", "train", str(paper), str(run), "--preset", "tiny", "--patch-size", "16", "--batch-size", "4"]
    command += ["--epochs", "1", "--steps-per-epoch", "2"]
    result = CliRunner().invoke(main, [*command, "--train-parts", "train,val"])
    assert result.exit_code == 1 and "no part val (it has train, test)" in result.output, result.output
    assert not run.exists()

    class PoisonedGuard(sr_training.FiniteLoss):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, {"loss": float("nan")})

    monkeypatch.setattr(sr_training, "FiniteLoss", PoisonedGuard)
    result = CliRunner().invoke(main, [*command, "--learning-rate", "1e-3"])
    assert result.exit_code == 1 and "SR validation patches come from 'test'" in result.output
    assert "no epoch finished" in result.output and "lower --learning-rate" in result.output
    result = CliRunner().invoke(main, [*command, "--learning-rate", "1e-3", "--resume"])
    assert result.exit_code == 1 and "nothing to resume" in result.output
    monkeypatch.undo()
    result = CliRunner().invoke(main, [*command, "--learning-rate", "1e-4"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "config.json").read_text())
    assert saved["val_parts"] == ["test"] and saved["learning_rate"] == 1e-4 and epochs_in_history(run) == [0]


def test_a_k_fold_dataset_needs_its_parts_named(monkeypatch):
    from types import SimpleNamespace

    kfold = SimpleNamespace(
        parts=["fold0", "fold1", "fold2"],
        validation_part=None,
        config=SimpleNamespace(split=SimpleNamespace(scheme="kfold")),
    )
    monkeypatch.setattr(sr_training, "load_manifest", lambda data_dir: kfold)
    with pytest.raises(SrasError, match="a kfold split of parts fold0, fold1, fold2.*--train-parts and --val-part"):
        sr_training.default_val_part("data")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"learning_rate": -1.0}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ({"epochs": 0}, "epochs must be an integer of at least 1"),
        ({"steps_per_epoch": 0}, "steps_per_epoch must be an integer of at least 1"),
        ({"val_batches": 0}, "val_batches must be an integer of at least 1"),
        ({"patch_size": 15}, "patch_size must be at least 4 and a multiple of the scale 2"),
        ({"halve_at": (0,)}, "halve_at must be epochs of at least 1"),
        ({"min_foreground": 1.5}, r"min_foreground must be in \[0, 1\]"),
        ({"max_minutes": 0.0}, "max_minutes must be a finite number > 0"),
        ({"scale": 5}, "unknown scale 5"),
        ({"val_parts": ()}, "must each name at least one part"),
    ],
)
def test_a_bad_sr_value_fails_where_the_config_is_made(change, message):
    with pytest.raises(SrasError, match=message):
        SRTrainConfig(**{**TINY.to_dict(), **change})


def test_sr_train_refuses_a_bad_number_before_reading_the_data(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for options, message in [
        (["--learning-rate", "-1"], "learning_rate must be a finite number > 0"),
        (["--max-minutes", "-5"], "max_minutes must be a finite number > 0"),
        (["--halve-at", "3,x"], "--halve-at: expected comma-separated epochs"),
    ]:
        result = CliRunner().invoke(main, ["sr", "train", str(empty), str(tmp_path / "run"), *options])
        assert result.exit_code == 1 and result.output.startswith(f"error: {message}"), result.output
        assert not (tmp_path / "run").exists()
