"""Callbacks shared by every trainer: checkpoints that resume, a NaN guard, a wall-clock budget, best epoch."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import keras

from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, write_json_atomic
from sras_keras.core.run_files import BEST_WEIGHTS, CHECKPOINT, STATE


def pending_best(out: Path, epoch: int) -> Path:
    """Where an improved epoch's weights wait until ``Checkpoint`` commits that epoch (see ``settle_best``)."""
    return out / "checkpoints" / f"best-pending-{epoch}.weights.h5"


def settle_best(out: Path, state: dict) -> None:
    """Promote the pending best weights of the committed best epoch to ``BEST_WEIGHTS``; drop any other (an epoch
    killed before its checkpoint). Run at each commit and on resume, so ``BEST_WEIGHTS`` always holds the weights
    of ``state['best_epoch']``, whatever instant a kill struck."""
    for pending in (out / "checkpoints").glob("best-pending-*.weights.h5"):
        if pending.name == pending_best(out, state.get("best_epoch", -1)).name:
            os.replace(pending, out / BEST_WEIGHTS)
        else:
            pending.unlink(missing_ok=True)


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
        kept = json.loads((out / STATE).read_text())["epoch"] if (out / STATE).exists() else 0
        raise SrasError(
            f"{out}: the loss became NaN/inf at epoch {epoch}, batch {batch}; training stopped. The last "
            f"good checkpoint ({CHECKPOINT}, epoch {kept}) is kept: lower --learning-rate and --resume"
        )


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on a validation metric with the best weights kept on disk, so it survives a resume."""

    def __init__(self, out: Path, monitor: str, patience: int, state: dict | None = None):
        super().__init__()
        self.out, self.monitor, self.patience = out, monitor, patience
        state = state or {}
        self.best = state.get("best", -math.inf)
        self.best_epoch = state.get("best_epoch", 0)
        self.wait = state.get("wait", 0)

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

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "monitor": self.monitor}


class Checkpoint(keras.callbacks.Callback):
    """Save model + optimizer and the epoch reached after every epoch, atomically, unless the loss broke.
    ``extra_state`` adds what other callbacks need to resume (early-stopping counters)."""

    def __init__(self, out: Path, guard: FiniteLoss, extra_state=dict):
        super().__init__()
        self.out, self.guard, self.extra_state = out, guard, extra_state

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.bad_batch is not None:
            return
        save_model_atomic(self.model, self.out / CHECKPOINT)
        logs = {key: float(value) for key, value in (logs or {}).items()}
        state = {"epoch": epoch + 1, "logs": logs, **self.extra_state()}
        write_json_atomic(self.out / STATE, state)  # the commit point of an epoch
        settle_best(self.out, state)


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch that crosses ``minutes`` of training (CPU runs have a wall-clock budget)."""

    def __init__(self, minutes: float | None):
        super().__init__()
        self.deadline = time.monotonic() + 60 * minutes if minutes else None

    def on_epoch_end(self, epoch, logs=None):
        if self.deadline and time.monotonic() > self.deadline:
            self.model.stop_training = True
