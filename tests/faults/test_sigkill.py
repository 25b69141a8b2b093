"""SIGKILL at seeded random points of `sras data convert`, `sras train` and `sras sr train`, then the same command
again (with --resume for the trainers): it completes, and the result is what an uninterrupted run gives.

What "the same result" means here:
- convert: every shard and splits.json byte-identical to an uninterrupted conversion into another folder, and
  manifest.json identical but for ``env.created`` (the conversion's wall-clock time).
- sras train: the killed-and-resumed run has one history row per epoch, no duplicate, the same epoch count, and
  every epoch's metrics *exactly* equal (CPU) to a clean run stopped at the same checkpoint and resumed: the kill
  loses nothing but the uncommitted epoch. (Epoch k's batches are a function of the seed and k, so a resumed run
  also repeats the uninterrupted run's history: tests/training/test_classifier_train.py asserts that.)
- sras sr train: completes, one history row per epoch, model.keras written.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sras_keras.configs.records import EarlyStopping, TrainingState, read_record, write_config, write_record

SRAS = [sys.executable, "-m", "sras_keras.cli"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
TRAIN = [
    "--backbone",
    "resnet_small",
    "--weights",
    "none",
    "--batch-size",
    "32",
    "--learning-rate",
    "2e-3",
    "--patience",
    "10",
]
SR = [
    "--preset",
    "tiny",
    "--patch-size",
    "16",
    "--batch-size",
    "4",
    "--steps-per-epoch",
    "8",
    "--halve-at",
    "2",
    "--max-minutes",
    "30",
]


def sras(*args, check=True):
    result = subprocess.run([*SRAS, *map(str, args)], env=ENV, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def kill_when(args, ready, delay: float, timeout: float = 300, finished=lambda: False) -> bool:
    """Start `sras ARGS`, wait until ``ready(pid)`` holds, then ``delay`` seconds, then SIGKILL it. False when it
    finished first (the kill came too late): it exited, or ``finished()`` holds (its work is done and it is only
    shutting down, which takes TensorFlow a second on a busy machine)."""
    process = subprocess.Popen([*SRAS, *map(str, args)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while not ready(process.pid):
            if process.poll() is not None:
                return False
            assert time.monotonic() < deadline, f"sras {args[:2]} never reached its working phase"
            time.sleep(0.01)
        time.sleep(delay)
        if process.poll() is not None or finished():
            return False
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def history(run: Path) -> list[dict]:
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


def state(run: Path) -> TrainingState:
    return read_record(TrainingState, run)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    sras("data", "synth", root / "source", "--cells", "6", "--seed", "3")
    sras(
        "data",
        "convert",
        root / "source",
        root / "data",
        "--split",
        "holdout",
        "--image-size",
        "32",
        "--rotations",
        "2",
        "--smote",
        "--records-per-shard",
        "64",
    )
    # SR on a dataset without SMOTE: `sras sr train` on a --smote dataset fails ("smote/train/X-00000: cannot
    # read": sr_pairs.load_hr_images reads splits.json's synthetic entries as files), a bug outside this test
    sras("data", "convert", root / "source", root / "plain", "--split", "holdout", "--image-size", "32")
    return root


def test_convert_killed_mid_write_then_rerun_is_byte_identical(dataset, tmp_path):
    args = [
        "data",
        "convert",
        dataset / "source",
        None,
        "--split",
        "holdout",
        "--image-size",
        "32",
        "--rotations",
        "6",
        "--smote",
        "--records-per-shard",
        "16",
        "--seed",
        "1",
    ]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    sras(*[reference if a is None else a for a in args])
    rng = np.random.default_rng(7)
    kills = 0
    for _ in range(2):  # two kills at seeded random instants of the shard-writing phase, then a clean finish
        delay = float(rng.uniform(0, 1.5))
        started = lambda pid: any(killed.glob(f".*.{pid}.tmp.tfrecord"))  # noqa: E731  (writing a shard)
        if kill_when(
            [killed if a is None else a for a in args],
            started,
            delay,
            finished=lambda: (killed / "manifest.json").exists(),
        ):
            kills += 1
            assert not (killed / "manifest.json").exists()
    assert kills >= 1
    sras(*[killed if a is None else a for a in args])
    assert not list(killed.glob(".*"))  # no temporary file left behind
    names = sorted(p.name for p in reference.iterdir())
    assert sorted(p.name for p in killed.iterdir()) == names
    for name in names:
        if name != "manifest.json":
            assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (reference, killed)]
    for manifest in manifests:
        del manifest["env"]["created"]
    assert manifests[0] == manifests[1]
    assert sras("data", "verify", killed).returncode == 0


@pytest.mark.slow  # about 95 s on 2 shared cores: four training processes
def test_train_killed_then_resumed_equals_a_clean_resume(dataset, tmp_path):
    data, run, epochs = dataset / "data", tmp_path / "killed", 4
    rng = np.random.default_rng(11)
    delay = float(rng.uniform(0, 2.0))  # one epoch is about 1-3 s here
    checkpointed = lambda pid: (run / "checkpoints" / "state.json").exists()  # noqa: E731
    assert kill_when(["train", data, run, *TRAIN, "--epochs", epochs], checkpointed, delay), (
        "the run finished before the kill: raise --epochs"
    )
    committed = state(run).epoch
    assert 1 <= committed < epochs
    sras("train", data, run, *TRAIN, "--epochs", epochs, "--resume")
    rows = history(run)
    assert [int(row["epoch"]) for row in rows] == list(range(epochs))  # one row per epoch, none twice
    assert state(run).epoch == epochs and (run / "metrics.json").exists()

    clean = tmp_path / "clean"  # the same checkpoint reached without a kill, then the same resume
    sras("train", data, clean, *TRAIN, "--epochs", committed)
    sras("train", data, clean, *TRAIN, "--epochs", epochs, "--resume")
    assert history(clean) == rows  # every metric, exactly
    assert json.loads((clean / "metrics.json").read_text()) == json.loads((run / "metrics.json").read_text())


def test_train_killed_while_writing_its_checkpoint(dataset, tmp_path):
    """The kill lands between history.csv's row and the checkpoint commit: resume must not repeat that epoch, and
    the best weights must be those of the committed best epoch (not of the uncommitted one)."""
    import keras

    import sras_keras.models  # noqa: F401  (registers the custom layers)

    data, run, epochs = dataset / "data", tmp_path / "run", 3

    def writing(pid):  # epoch 2 or later, its checkpoint half-written
        return (run / "checkpoints" / "state.json").exists() and any(
            (run / "checkpoints").glob(f".last.{pid}.tmp.keras")
        )

    assert kill_when(["train", data, run, *TRAIN, "--epochs", epochs], writing, 0.0)
    committed = state(run).epoch
    written = [int(row["epoch"]) for row in history(run)]
    assert written[-1] == committed  # the uncommitted epoch's row is already in history.csv
    sras("train", data, run, *TRAIN, "--epochs", epochs, "--resume")
    assert [int(row["epoch"]) for row in history(run)] == list(range(epochs))
    assert not list((run / "checkpoints").glob(".*")) and not list((run / "checkpoints").glob("best-pending-*"))
    saved = state(run)
    model = keras.saving.load_model(run / "model.keras")
    best = keras.saving.load_model(run / "checkpoints" / "last.keras")
    best.load_weights(run / "checkpoints" / "best.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), best.get_weights()))
    assert saved.early_stopping.best == max(float(row["val_accuracy"]) for row in history(run))


def test_sr_train_killed_then_resumed_completes(dataset, tmp_path):
    data, run, epochs = dataset / "plain", tmp_path / "sr", 12
    rng = np.random.default_rng(5)
    assert kill_when(
        ["sr", "train", data, run, *SR, "--epochs", epochs],
        lambda pid: (run / "checkpoints" / "state.json").exists(),
        float(rng.uniform(0, 0.6)),
    )
    committed = state(run).epoch
    assert 1 <= committed < epochs
    sras("sr", "train", data, run, *SR, "--epochs", epochs, "--resume")
    assert [int(row["epoch"]) for row in history(run)] == list(range(epochs))
    assert state(run).epoch == epochs and state(run).early_stopping is None and (run / "model.keras").exists()
    assert all(np.isfinite(float(row["loss"])) for row in history(run))


def test_a_run_killed_after_its_last_epoch_finishes_on_resume(tmp_path):
    """Killed after the last checkpoint but before model.keras / metrics.json: --resume used to refuse ("already
    trained N epochs"); now it trains nothing more and writes the missing outputs."""
    from sras_keras.configs.train import TrainConfig
    from sras_keras.core.errors import SrasError
    from sras_keras.training.run_dir import prepare_run

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = TrainConfig().replace(epochs=2, learning_rate=1.0)
    write_config(run, config)
    write_record(run, TrainingState(2, {"loss": 0.5}, EarlyStopping(0.5, best_epoch=2, wait=0, monitor="val_accuracy")))
    (run / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n1,0.5\n2,0.")  # a duplicate and a torn row
    (run / "checkpoints" / ".last.123.tmp.keras").write_bytes(b"torn")
    (run / "checkpoints" / "best-pending-2.weights.h5").write_bytes(b"best of epoch 2")
    (run / "checkpoints" / "best-pending-3.weights.h5").write_bytes(b"uncommitted epoch 3")
    assert prepare_run(run, config, resume=True, finished="metrics.json").epoch == 2
    assert (run / "history.csv").read_text() == "epoch,loss\n0,1.0\n1,0.5\n"
    assert (run / "checkpoints" / "best.weights.h5").read_bytes() == b"best of epoch 2"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.weights.h5", "state.json"]
    (run / "metrics.json").write_text("{}")
    with pytest.raises(SrasError, match="already trained 2 epochs"):
        prepare_run(run, config, resume=True, finished="metrics.json")
