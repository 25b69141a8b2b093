"""``sras train``: fine-tune a registered backbone on a converted dataset, then evaluate it once on the test part.

Which parts train, validate and test comes from the dataset: a ``paper`` split validates on its test fifth (the
paper's protocol, whose checkpoint is chosen on the test set), a ``holdout`` split on its validation cells (the
honest protocol: test cells are touched once, after training), a ``kfold`` split on the held-out ``fold``.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras

from sras_keras.config import SCHEDULES, TrainConfig
from sras_keras.data.pipeline import load_manifest, make_dataset, record_count
from sras_keras.errors import SrasError
from sras_keras.io_utils import write_json_atomic
from sras_keras.runinfo import environment
from sras_keras.training.callbacks import (
    BEST_WEIGHTS,
    CHECKPOINT,
    BestEpoch,
    Checkpoint,
    FiniteLoss,
    TimeBudget,
    save_model_atomic,
)
from sras_keras.training.distribute import distribution_strategy
from sras_keras.training.run_dir import FINAL, prepare_run


def data_roles(manifest: dict, fold: int | None) -> dict:
    """{'train': [...], 'val': part, 'test': part, 'protocol': 'paper' | 'honest'} for a dataset."""
    parts = manifest["parts"]
    scheme = manifest["config"]["split"]["scheme"]
    if scheme == "kfold":
        if fold is None or not 0 <= fold < len(parts):
            raise SrasError(f"a K-fold dataset needs --fold 0..{len(parts) - 1}")
        held = f"fold{fold}"
        return {"train": [p for p in parts if p != held], "val": held, "test": held, "protocol": "paper"}
    if fold is not None:
        raise SrasError(f"--fold applies to K-fold datasets; this one has a {scheme} split")
    validation = manifest["validation_part"]
    return {"train": ["train"], "val": validation, "test": "test", "protocol": "paper" if validation == "test" else "honest"}


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int):
    """A constant rate (the paper), or one warm-up epoch then cosine decay to zero at the last epoch: with a fixed
    epoch budget the decay, not early stopping, ends training, and it converges faster in short CPU runs."""
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule != "cosine":
        raise SrasError(f"unknown schedule {config.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if config.epochs < 2:
        raise SrasError("the cosine schedule needs at least 2 epochs (one of them warms up)")
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps_per_epoch * (config.epochs - 1), warmup_target=config.learning_rate,
        warmup_steps=steps_per_epoch)


def training_inputs(data_dir, roles: dict, config: TrainConfig):
    """(training batches, validation batches, steps per epoch) as `sras train` feeds them.

    One endless training iterator and a fixed-parallelism validation pipeline: rebuilding an autotuned pipeline
    every epoch stalled short epochs here (30 s -> 60 s an epoch for 4,000 images)."""
    train = make_dataset(data_dir, roles["train"], batch_size=config.batch_size, rotations=config.rotations,
                         synthetic=config.synthetic, shuffle=True, repeat=True, seed=config.seed,
                         shuffle_buffer=config.shuffle_buffer, flip=config.flip, max_rotation=config.max_rotation)
    records = record_count(data_dir, roles["train"], config.rotations, config.synthetic, config.max_rotation)
    validation = make_dataset(data_dir, roles["val"], batch_size=config.batch_size, rotations=False, synthetic=False,
                              autotune=False)
    return train, validation, math.ceil(records / config.batch_size)


def _load_checkpoint(path: Path, config: TrainConfig) -> keras.Model:
    import sras_keras.models  # noqa: F401  (registers the custom layers)
    from sras_keras.models import check_compatible

    model = keras.saving.load_model(path, safe_mode=True)
    check_compatible(model, config.backbone, 24, source=str(path))
    return model


def training_callbacks(out: Path, config: TrainConfig, state: dict, resume: bool):
    """(NaN guard, early stopping, every callback of a run): what `sras train` adds to a bare `model.fit`."""
    guard = FiniteLoss()
    best = BestEpoch(out, config.monitor, config.patience, state)
    callbacks = [
        guard,
        best,
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resume),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch"),
        Checkpoint(out, guard, best.state),
        TimeBudget(config.max_minutes),
    ]
    return guard, best, callbacks


def train_classifier(data_dir, out, config: TrainConfig, resume: bool = False, log=print) -> dict:
    """Train (or resume) a classifier run in ``out``, evaluate it on the test part; returns the test metrics."""
    from sras_keras.evaluation.classifier import evaluate_run
    from sras_keras.models import build_classifier

    out = Path(out)
    manifest = load_manifest(data_dir)
    roles = data_roles(manifest, config.fold)
    state = prepare_run(out, config.to_dict(), resume)
    initial_epoch = state.get("epoch", 0)
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if not resume:
        write_json_atomic(out / "config.json", config.to_dict())
    write_json_atomic(out / "data.json", {"data_dir": str(Path(data_dir).resolve()), **roles,
                                          "split": manifest["config"]["split"], "smote": manifest["config"].get("smote")})
    write_json_atomic(out / "env.json", environment(seed=config.seed, data_checksum=manifest["source"]["checksum"]))
    if roles["protocol"] == "paper":
        log(f"protocol=paper: the checkpoint is selected on '{roles['val']}', which is also the test set (as published)")

    train, validation, steps = training_inputs(data_dir, roles, config)
    with distribution_strategy().scope():
        if resume:
            model = _load_checkpoint(out / CHECKPOINT, config)
        else:
            weights = None if config.weights == "none" else config.weights
            model = build_classifier(config.backbone, manifest["image_size"], weights=weights, dropout=config.dropout)
            model.compile(optimizer=keras.optimizers.Adam(learning_rate_schedule(config, steps)),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    guard, best, callbacks = training_callbacks(out, config, state, resume)
    model.fit(train, validation_data=validation, epochs=config.epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps, callbacks=callbacks, verbose=2)
    guard.raise_if_tripped(out)
    model.load_weights(out / BEST_WEIGHTS)
    log(f"best {config.monitor} {best.best:.4f} at epoch {best.best_epoch}; restored those weights")
    save_model_atomic(model, out / FINAL)
    return evaluate_run(out, model=model)
