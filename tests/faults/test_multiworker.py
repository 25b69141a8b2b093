"""`sras train --strategy`: the strategy choice and, on two CPU worker processes on 127.0.0.1 (TF_CONFIG), a
MultiWorkerMirroredStrategy run that matches a one-worker run of the same global batch.

Tolerance of the two-worker comparison (2 epochs, 24 steps, Adam 2e-3, dropout 0): the workers see exactly the
one-worker run's images at every step (DATA auto-sharding of each global batch, asserted bit-exact after one step
while this was built); only the order of the float sums differs (two half-batch means averaged by an all-reduce
instead of one batch mean), about 1e-7 relative per step (weights after one step: 6e-7 apart), which training
amplifies: measured here, logged losses about 1e-4 relative apart and the largest single weight difference 1.0e-2
(Adam moves each weight by up to the learning rate, 2e-3, a step, nearly regardless of the gradient's size, so a
weight whose gradient sits near zero can take the opposite sign). So: every logged loss within 2e-3 relative,
accuracies within 2 images, final weights within 2e-2 absolute (their scale is about 1).
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


@pytest.mark.slow  # about 2 minutes on 2 shared cores: three TensorFlow processes
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
    one = subprocess.run(
        [*sras, "train", tmp_path / "data", tmp_path / "one", *TRAIN],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-3000:]

    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = [
        subprocess.Popen(
            [*sras, "train", tmp_path / "data", tmp_path / "two", *TRAIN, "--strategy", "multiworker"],
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
    assert "test (honest protocol" in outputs[0][0] and "test (" not in outputs[1][0]  # only the chief evaluates

    single, multi = history(tmp_path / "one"), history(tmp_path / "two")
    assert [row["epoch"] for row in multi] == [row["epoch"] for row in single] == ["0", "1"]
    for a, b in zip(single, multi):
        for key in ("loss", "val_loss"):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=2e-3), key
        assert abs(float(a["accuracy"]) - float(b["accuracy"])) * 384 <= 2.01  # 384 training records an epoch
        assert abs(float(a["val_accuracy"]) - float(b["val_accuracy"])) * 46 <= 2.01  # 46 validation images
    weights = [
        keras.saving.load_model(tmp_path / run / "checkpoints" / "last.keras").get_weights() for run in ("one", "two")
    ]
    difference = max(float(np.abs(a - b).max()) for a, b in zip(*weights))
    print(f"max |weight difference| one vs two workers: {difference:.2e}")
    assert difference < 2e-2, difference
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert (
        config["runtime"]["strategy"] == "multiworker" and config["optimization"]["batch_size"] == 32
    )  # the global batch
    assert not list((tmp_path / "two").glob("**/.*.tmp*"))
