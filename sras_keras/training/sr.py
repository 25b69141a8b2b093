"""``sras sr train``: SRAFBN on patches of the training cells' native images, resumable, with TensorBoard.

A run folder holds ``config.json``, ``env.json``, ``history.csv``, ``tensorboard/``, ``checkpoints/last.keras``
(model + optimizer, saved every epoch with ``checkpoints/state.json``) and, when training ends normally,
``model.keras``. ``--resume`` continues from the last checkpoint at the epoch it records.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sras_keras.config import SRTrainConfig
from sras_keras.data.sr_pairs import PatchSampler, crop_to_multiple, downscale, load_hr_images
from sras_keras.errors import SrasError
from sras_keras.io_utils import atomic_path, write_json_atomic
from sras_keras.runinfo import environment
from sras_keras.training.distribute import distribution_strategy

CHECKPOINT = Path("checkpoints") / "last.keras"
STATE = Path("checkpoints") / "state.json"
FINAL = "model.keras"


def load_sr_model(path: str | Path) -> keras.Model:
    """An SRAFBN saved by this suite, loaded in Keras safe mode; anything else is a clear error."""
    import sras_keras.models  # noqa: F401  (registers the custom layers for deserialisation)
    from sras_keras.models import SRAFBN

    path = Path(path)
    if not path.is_file():
        raise SrasError(f"{path}: no such model file")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a wrong or damaged file
        first_line = str(error).splitlines()[0][:200] if str(error) else ""
        raise SrasError(f"{path}: not a loadable Keras model ({type(error).__name__}: {first_line})") from None
    if not isinstance(model, SRAFBN):
        raise SrasError(f"{path}: holds a {type(model).__name__}, not an SRAFBN super-resolution model")
    return model


class _Checkpoint(keras.callbacks.Callback):
    """Save model + optimizer and the epoch reached after every epoch, atomically, unless the loss broke."""

    def __init__(self, out: Path, guard: "_FiniteLoss"):
        super().__init__()
        self.out, self.guard = out, guard

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.bad_batch is not None:
            return
        with atomic_path(self.out / CHECKPOINT) as temporary:
            self.model.save(temporary)
        write_json_atomic(self.out / STATE, {"epoch": epoch + 1, "logs": {k: float(v) for k, v in (logs or {}).items()}})


class _FiniteLoss(keras.callbacks.Callback):
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


class _TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch that crosses ``minutes`` of training (CPU runs have a wall-clock budget)."""

    def __init__(self, minutes: float | None):
        super().__init__()
        self.deadline = time.monotonic() + 60 * minutes if minutes else None

    def on_epoch_end(self, epoch, logs=None):
        if self.deadline and time.monotonic() > self.deadline:
            self.model.stop_training = True


class _SampleImages(keras.callbacks.Callback):
    """TensorBoard images each epoch: bicubic | SRAFBN | HR for a few fixed held-out chromosomes."""

    def __init__(self, log_dir: Path, samples: list[np.ndarray], scale: int):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir / "samples"))
        self.samples = [crop_to_multiple(sample, scale).astype(np.float32)[None, :, :, None] / 255 for sample in samples]
        self.scale = scale

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            for index, hr in enumerate(self.samples):
                lr = downscale(hr, self.scale)
                bicubic = tf.image.resize(lr, hr.shape[1:3], method="bicubic")
                sr = self.model(lr, training=False)
                strip = tf.clip_by_value(tf.concat([bicubic, sr, hr], axis=2), 0, 1)
                tf.summary.image(f"bicubic|srafbn|hr/{index}", strip, step=epoch + 1)
        self.writer.flush()


def _prepare_run(out: Path, config: SRTrainConfig, resume: bool) -> int:
    """The epoch to start from; refuses to overwrite a run."""
    if resume:
        if not (out / STATE).exists():
            raise SrasError(f"{out}: nothing to resume (no {STATE})")
        saved = SRTrainConfig.from_dict(json.loads((out / "config.json").read_text()))
        if dataclasses.replace(saved, epochs=config.epochs, max_minutes=config.max_minutes) != config:
            raise SrasError(f"{out}: --resume with a different config than config.json (only --epochs and "
                            "--max-minutes may change)")
        return json.loads((out / STATE).read_text())["epoch"]
    if (out / FINAL).exists():
        raise SrasError(f"{out}: holds a finished run; pass --resume to continue it or choose a new folder")
    started_before = (out / "config.json").exists() and json.loads((out / "config.json").read_text()) == config.to_dict()
    if out.exists() and any(out.iterdir()) and not started_before:  # a start that died before its first epoch
        raise SrasError(f"{out}: not empty; pass --resume to continue a run or choose a new folder")
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    return 0


def train_sr(data_dir: str | Path, out: str | Path, config: SRTrainConfig, resume: bool = False, log=print) -> dict:
    """Train (or resume) an SRAFBN run in ``out``; returns the last epoch's logs."""
    from sras_keras.models import SRAFBN

    out = Path(out)
    initial_epoch = _prepare_run(out, config, resume)
    if initial_epoch >= config.epochs:
        raise SrasError(f"{out}: already trained {initial_epoch} epochs; raise --epochs to continue")
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")

    images, _, background = load_hr_images(data_dir, list(config.train_parts))
    sampler = PatchSampler(images, background, config.patch_size, config.min_foreground, seed=config.seed + initial_epoch)
    if sampler.padded:
        log(f"{sampler.padded} of {len(images)} training images are smaller than the {config.patch_size}px patch: "
            "padded with background")
    val_images, _, _ = load_hr_images(data_dir, list(config.val_parts))
    val_sampler = PatchSampler(val_images, background, config.patch_size, config.min_foreground, seed=10_000 + config.seed)
    validation = (
        val_sampler.dataset(config.batch_size, config.scale)
        .take(config.val_batches)
        .cache()
        .apply(tf.data.experimental.assert_cardinality(config.val_batches))
    )
    if not resume:
        write_json_atomic(out / "config.json", config.to_dict())
    write_json_atomic(out / "env.json", environment(seed=config.seed, data_checksum=_data_checksum(data_dir)))

    with distribution_strategy().scope():
        if resume:
            model = load_sr_model(out / CHECKPOINT)
        else:
            model = SRAFBN.from_preset(config.preset, scale=config.scale, step_weighting=config.step_weighting)
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    guard = _FiniteLoss()
    base_rate = config.learning_rate
    halvings = config.halve_at
    callbacks = [
        guard,
        keras.callbacks.LearningRateScheduler(lambda epoch: base_rate * 0.5 ** sum(epoch >= h for h in halvings)),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resume),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch"),
        _SampleImages(out / "tensorboard", val_images[:4], config.scale),
        _Checkpoint(out, guard),
        _TimeBudget(config.max_minutes),
    ]
    history = model.fit(
        sampler.dataset(config.batch_size, config.scale),
        steps_per_epoch=config.steps_per_epoch,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        validation_data=validation,
        callbacks=callbacks,
        verbose=2,
    )
    if guard.bad_batch is not None:
        epoch, batch = guard.bad_batch
        kept = json.loads((out / STATE).read_text())["epoch"] if (out / STATE).exists() else 0
        raise SrasError(f"{out}: the loss became NaN/inf at epoch {epoch}, batch {batch}; training stopped. The last "
                        f"good checkpoint ({CHECKPOINT}, epoch {kept}) is kept: lower --learning-rate and --resume")
    with atomic_path(out / FINAL) as temporary:
        model.save(temporary)
    return {key: float(values[-1]) for key, values in history.history.items()}


def _data_checksum(data_dir) -> str:
    return json.loads((Path(data_dir) / "manifest.json").read_text())["source"]["checksum"]
