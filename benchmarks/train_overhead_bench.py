"""Training-loop overhead: images/s of `sras train`'s loop (its callbacks: early stopping with best weights on
disk, CSV history, TensorBoard, a checkpoint every epoch, NaN guard, time budget) vs a bare ``model.fit``, on
the same model, the same tf.data input (built by `sras train`'s own `training_inputs`) and the same seed, in one
run. Usage:

    python benchmarks/train_overhead_bench.py --data tfrecords/DATASET [--backbone resnet_small] [--epochs 3]

The first epoch (tracing) is excluded; reported: training images per second over the remaining epochs.
Writes ``runs/bench/train_overhead/<stamp>-s0/{config,env,results}.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from sras_keras.configs.records import Environment, TrainingState, write_record
from sras_keras.configs.train import TrainConfig
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.data.pipeline import load_manifest
from sras_keras.models import build_classifier
from sras_keras.training.classifier import data_roles, training_callbacks, training_inputs


class EpochClock(keras.callbacks.Callback):
    """Wall time of each epoch, measured outside every other callback (it runs first and last)."""

    def __init__(self):
        super().__init__()
        self.seconds, self.start = [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def close_epoch(self):
        self.seconds.append(time.perf_counter() - self.start)


class CloseEpoch(keras.callbacks.Callback):
    def __init__(self, clock: EpochClock):
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        self.clock.close_epoch()


def timed_fit(data: Path, config: TrainConfig, extra_callbacks) -> tuple[list[float], int]:
    """Epoch wall times and images per epoch of one fit, on the input `sras train` builds."""
    keras.utils.set_random_seed(config.runtime.seed)
    manifest = load_manifest(data)
    model = build_classifier(config.model.backbone, manifest.image_size, weights=None)
    model.compile(
        optimizer=keras.optimizers.Adam(config.optimization.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train, validation, steps = training_inputs(data, data_roles(data, manifest, None), config)
    clock = EpochClock()
    model.fit(
        train,
        validation_data=validation,
        epochs=config.optimization.epochs,
        steps_per_epoch=steps,
        verbose=0,
        shuffle=False,
        callbacks=[clock, *extra_callbacks, CloseEpoch(clock)],
    )
    return clock.seconds, steps * config.optimization.batch_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--backbone", default="resnet_small")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()

    manifest = load_manifest(args.data)
    config = TrainConfig().replace(
        backbone=args.backbone,
        weights="none",
        batch_size=args.batch_size,
        epochs=args.epochs,
        learning_rate=1e-3,
        patience=100,
    )
    bare, images = timed_fit(args.data, config, [])
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "checkpoints").mkdir()
        _, _, callbacks = training_callbacks(Path(scratch), config, TrainingState(epoch=0, logs={}), resume=False)
        suite, _ = timed_fit(args.data, config, callbacks)
    rate = {
        name: round(images * (len(times) - 1) / sum(times[1:]), 1) for name, times in (("bare", bare), ("sras", suite))
    }
    results = {
        "train_images_per_epoch": images,
        "epoch_seconds": {"bare": bare, "sras": suite},
        "images_per_s": rate,
        "overhead_percent": round(100 * (rate["bare"] / rate["sras"] - 1), 2),
    }
    run = new_run_dir(args.out, "bench/train_overhead", 0)
    (run / "config.json").write_text(json.dumps(vars(args), default=str, indent=2))
    write_record(run, Environment.from_dict(environment(seed=0, data_checksum=manifest.source.checksum)))
    (run / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"bare model.fit: {rate['bare']} img/s   sras train loop: {rate['sras']} img/s   "
        f"overhead {results['overhead_percent']}%   ({run})"
    )


if __name__ == "__main__":
    main()
