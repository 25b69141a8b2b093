"""`sras train --strategy`: the strategy choice and, on two CPU worker processes on 127.0.0.1 (TF_CONFIG), a
MultiWorkerMirroredStrategy run that matches a one-worker run of the same global batch.

What must hold exactly: at every step the two workers' batches are the one-worker run's batch, cut in two (DATA
auto-sharding of each global batch), read here through the training pipeline as `sras train` distributes it.

What holds within a tolerance (2 epochs, 24 steps, Adam 2e-3, dropout 0): only the order of the float sums differs
(two half-batch means averaged by an all-reduce instead of one batch mean), about 1e-7 relative per step, which
training amplifies; Adam moves each weight by up to the learning rate a step nearly regardless of the gradient's
size, so a weight whose gradient sits near zero can take the opposite sign, and one ReLU or pooling tie decided the
other way moves many. Measured here after one epoch over seeds 0, 1, 2: largest weight difference 1.6e-2, 2.8e-4,
1.3e-3; after two epochs, seed 0: logged losses up to 1e-3 relative apart, weights 3.8% apart in norm (1.2e-4 for
seed 2), training accuracy 6 vs 9 of 384 images (a net near chance on 6 synthetic cells: its argmax flips on
near-ties). So: every logged loss within 2e-3 relative, final weights within 10% in norm; accuracies are not
compared.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import types

import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.training.distribute import distribution_strategy, is_chief

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
TRAIN = [
    "--backbone",
    "resnet_small",
    "--weights",
    "none",
    "--batch-size",
    "32",
    "--epochs",
    "2",
    "--learning-rate",
    "2e-3",
    "--dropout",
    "0",
    "--seed",
    "0",
]


# The batches of the first two epochs as `sras train` feeds them to fit: the global batches on one worker, this
# worker's replica batches under multiworker (argv: multiworker|auto, DATA, OUT.npz)
BATCHES = """
import sys
import numpy as np
from sras_keras.training.distribute import distribution_strategy
strategy_name, data, out = sys.argv[1:]
strategy = distribution_strategy(strategy_name)
from sras_keras.configs.train import TrainConfig
from sras_keras.data.pipeline import load_manifest
from sras_keras.training.classifier import data_roles, training_inputs
config = TrainConfig().replace(batch_size=32, seed=0)
train, _, steps = training_inputs(data, data_roles(data, load_manifest(data), None), config)
batches = iter(strategy.experimental_distribute_dataset(train))
images, labels = [], []
for _ in range(2 * steps):
    x, y = (np.concatenate([v.numpy() for v in strategy.experimental_local_results(t)]) for t in next(batches))
    images.append(x)
    labels.append(y)
np.savez(out, images=np.stack(images), labels=np.stack(labels))
"""


def test_strategy_choice_and_chief(monkeypatch):
    import tensorflow as tf

    assert distribution_strategy("auto") is tf.distribute.get_strategy()  # no GPU here
    assert isinstance(distribution_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(SrasError, match="unknown strategy"):
        distribution_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SrasError, match="needs TF_CONFIG"):
        distribution_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(SrasError, match="not a valid cluster"):
        distribution_strategy("multiworker")

    def fake(task_type, task_id, cluster):
        spec = types.SimpleNamespace(as_dict=lambda: cluster)
        resolver = types.SimpleNamespace(cluster_spec=lambda: spec, task_type=task_type, task_id=task_id)
        return types.SimpleNamespace(cluster_resolver=resolver)

    workers = {"worker": ["a:1", "b:1"]}
    assert is_chief(tf.distribute.get_strategy())
    assert is_chief(fake("worker", 0, workers)) and not is_chief(fake("worker", 1, workers))
    with_chief = {"chief": ["c:1"], **workers}
    assert is_chief(fake("chief", 0, with_chief)) and not is_chief(fake("worker", 0, with_chief))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def history(run):
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow  # about 4 minutes on 2 shared cores: six TensorFlow processes
def test_two_cpu_workers_match_one(tmp_path):
    import keras

    import sras_keras.models  # noqa: F401  (registers the custom layers)

    sras = [sys.executable, "-m", "sras_keras.cli"]
    subprocess.run(
        [*sras, "data", "synth", tmp_path / "source", "--cells", "6"], env=ENV, check=True, capture_output=True
    )
    subprocess.run(
        [
            *sras,
            "data",
            "convert",
            tmp_path / "source",
            tmp_path / "data",
            "--split",
            "holdout",
            "--image-size",
            "32",
            "--rotations",
            "2",
            "--smote",
            "--records-per-shard",
            "64",
        ],
        env=ENV,
        check=True,
        capture_output=True,
    )
    single_run = subprocess.run(
        [*sras, "train", tmp_path / "data", tmp_path / "one", *TRAIN],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single_run.returncode == 0, single_run.stderr[-3000:]

    def two_workers(*command):
        cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
        workers = [
            subprocess.Popen(
                [str(part).replace("{i}", str(i)) for part in command],
                env={**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outputs = [worker.communicate(timeout=600) for worker in workers]
        for worker, (_, err) in zip(workers, outputs):
            assert worker.returncode == 0, err[-3000:]
        return outputs

    probe = [sys.executable, "-c", BATCHES]
    subprocess.run([*probe, "auto", tmp_path / "data", tmp_path / "one.npz"], env=ENV, check=True, capture_output=True)
    two_workers(*probe, "multiworker", tmp_path / "data", tmp_path / "worker{i}.npz")
    whole, halves = np.load(tmp_path / "one.npz"), [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert whole["images"].shape[:2] == (24, 32) and halves[0]["images"].shape[:2] == (24, 16)
    for key in ("images", "labels"):  # every step: the global batch, cut in two
        np.testing.assert_array_equal(np.concatenate([h[key] for h in halves], axis=1), whole[key])

    outputs = two_workers(*sras, "train", tmp_path / "data", tmp_path / "two", *TRAIN, "--strategy", "multiworker")
    assert "test (honest protocol" in outputs[0][0] and "test (" not in outputs[1][0]  # only the chief evaluates

    single, multi = history(tmp_path / "one"), history(tmp_path / "two")
    assert [row["epoch"] for row in multi] == [row["epoch"] for row in single] == ["0", "1"]
    for a, b in zip(single, multi):
        for key in ("loss", "val_loss"):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=2e-3), key
    one, two = (
        np.concatenate(
            [w.ravel() for w in keras.saving.load_model(tmp_path / run / "checkpoints" / "last.keras").get_weights()]
        )
        for run in ("one", "two")
    )
    apart = float(np.linalg.norm(one - two) / np.linalg.norm(one))
    print(f"one vs two workers: weights {apart:.2e} apart in norm, largest difference {np.abs(one - two).max():.2e}")
    assert apart < 0.1, apart
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert (
        config["runtime"]["strategy"] == "multiworker" and config["optimization"]["batch_size"] == 32
    )  # the global batch
    assert not list((tmp_path / "two").glob("**/.*.tmp*"))
