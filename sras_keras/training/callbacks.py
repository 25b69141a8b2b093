"""Callbacks shared by every trainer: checkpoints that resume, a NaN guard, a wall-clock budget, best epoch."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras
import tensorflow as tf

from sras_keras.configs.records import EarlyStopping, TrainingState, read_record, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path
from sras_keras.core.run_files import BEST_WEIGHTS, CHECKPOINT, STATE


def pending_best(out: Path, epoch: int) -> Path:
    """Where an improved epoch's weights wait until ``Checkpoint`` commits that epoch (see ``settle_best``)."""
    return out / "checkpoints" / f"best-pending-{epoch}.weights.h5"


def settle_best(out: Path, state: TrainingState) -> None:
    """Promote the pending best weights of the committed best epoch to ``BEST_WEIGHTS``; drop any other (an epoch
    killed before its checkpoint). Run at each commit and on resume, so ``BEST_WEIGHTS`` always holds the weights
    of ``state.early_stopping.best_epoch``, whatever instant a kill struck."""
    early_stopping = state.early_stopping
    committed = pending_best(out, early_stopping.best_epoch).name if early_stopping else None
    for pending in (out / "checkpoints").glob("best-pending-*.weights.h5"):
        if pending.name == committed:
            os.replace(pending, out / BEST_WEIGHTS)
        else:
            pending.unlink(missing_ok=True)


def epoch_seed(seed, epoch, stream: int = 0):
    """A non-negative int64 seed that depends on (run seed, epoch, stream) alone, so a resumed run draws what the
    uninterrupted run drew from the resumed epoch on; Python ints or tensors (a tf.data map over epochs)."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64) * 1024 + stream])
    return tf.random.stateless_uniform([], key, minval=0, maxval=2**31 - 1, dtype=tf.int64)


class EpochSeeds(keras.callbacks.Callback):
    """Reseed the model's random layers (Dropout) at each epoch's start from (seed, epoch): a checkpoint keeps no
    seed-generator state, so a resumed run would otherwise draw other dropout masks than the uninterrupted one."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        states = [variable for variable in self.model.variables if variable.name == "seed_generator_state"]
        for stream, state in enumerate(states, start=1):  # stream 0: the data pipeline's
            state.assign(tf.cast(tf.stack([epoch_seed(self.seed, epoch, stream), 0]), state.dtype))


def save_model_atomic(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as temporary:
        model.save(temporary)


class FiniteLoss(keras.callbacks.Callback):
    """Stop at the first non-finite loss; the checkpoint of the last good epoch is kept."""

    def __init__(self):
        super().__init__()
        self.bad_batch = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            self.bad_batch = (self.epoch + 1, batch + 1)
            self.model.stop_training = True

    def raise_if_tripped(self, out: Path) -> None:
        """After ``fit``: a clear error naming the checkpoint that survives, if the loss broke."""
        if self.bad_batch is None:
            return
        epoch, batch = self.bad_batch
        kept = read_record(TrainingState, out).epoch if (out / STATE).exists() else 0
        # a resume keeps the run's learning rate (only epochs, the time budget and the strategy may change), so the
        # advice that works is a fresh start; with no epoch committed the folder itself is reusable (run_dir)
        if kept:
            where = f"the checkpoint of epoch {kept} ({CHECKPOINT}) is kept. Start again in a new folder"
            why = " (--resume would keep this run's)"
        else:
            where = "no epoch finished. Start again in a new folder (or this one: nothing in it is kept)"
            why = ""
        raise SrasError(
            f"{out}: the loss became NaN/inf at epoch {epoch}, batch {batch}; training stopped and {where} with a "
            f"lower --learning-rate{why}"
        )


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on a validation metric with the best weights kept on disk, so it survives a resume."""

    def __init__(self, out: Path, monitor: str, patience: int, resumed: EarlyStopping | None = None):
        super().__init__()
        self.out, self.monitor, self.patience = out, monitor, patience
        counters = resumed or EarlyStopping(best=-math.inf, best_epoch=0, wait=0, monitor=monitor)
        self.best, self.best_epoch, self.wait = counters.best, counters.best_epoch, counters.wait

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(
                f"early stopping monitors {self.monitor!r}, which the logs do not have: {sorted(logs or {})}"
            )
        if value > self.best:
            self.best, self.best_epoch, self.wait = float(value), epoch + 1, 0
            with atomic_path(pending_best(self.out, epoch + 1)) as temporary:  # Checkpoint commits it
                self.model.save_weights(temporary)
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True

    def state(self) -> EarlyStopping:
        return EarlyStopping(best=self.best, best_epoch=self.best_epoch, wait=self.wait, monitor=self.monitor)


class Checkpoint(keras.callbacks.Callback):
    """Save model + optimizer and the epoch reached after every epoch, atomically, unless the loss broke, with the
    counters of ``early_stopping`` (when the run has it), so a resume stops where an unbroken run would."""

    def __init__(self, out: Path, guard: FiniteLoss, early_stopping: BestEpoch | None = None):
        super().__init__()
        self.out, self.guard, self.early_stopping = out, guard, early_stopping

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.bad_batch is not None:
            return
        save_model_atomic(self.model, self.out / CHECKPOINT)
        state = TrainingState(
            epoch=epoch + 1,
            logs={key: float(value) for key, value in (logs or {}).items()},
            early_stopping=self.early_stopping.state() if self.early_stopping else None,
        )
        write_record(self.out, state)  # the commit point of an epoch
        settle_best(self.out, state)


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch that crosses ``minutes`` of training (CPU runs have a wall-clock budget)."""

    def __init__(self, minutes: float | None):
        super().__init__()
        self.deadline = time.monotonic() + 60 * minutes if minutes else None

    def on_epoch_end(self, epoch, logs=None):
        if self.deadline and time.monotonic() > self.deadline:
            self.model.stop_training = True
