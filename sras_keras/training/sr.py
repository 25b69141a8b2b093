"""``sras sr train``: SRAFBN on patches of the training cells' native images, resumable, with TensorBoard.

A run folder holds ``config.json``, ``env.json``, ``history.csv``, ``tensorboard/``, ``checkpoints/last.keras``
(model + optimizer, saved every epoch with ``checkpoints/state.json``) and, when training ends normally,
``model.keras``. ``--resume`` continues from the last checkpoint at the epoch it records.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sras_keras.configs.records import Environment, write_config, write_record
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.provenance import environment
from sras_keras.core.run_files import CHECKPOINT, FINAL
from sras_keras.data.pipeline import load_manifest
from sras_keras.data.sr_pairs import PatchSampler, crop_to_multiple, downscale, load_hr_images
from sras_keras.models import SRAFBN
from sras_keras.models.saving import load_sr_model
from sras_keras.training.callbacks import Checkpoint, FiniteLoss, TimeBudget, save_model_atomic
from sras_keras.training.distribute import distribution_strategy, set_precision_policy
from sras_keras.training.run_dir import prepare_run


class _SampleImages(keras.callbacks.Callback):
    """TensorBoard images each epoch: bicubic | SRAFBN | HR for a few fixed held-out chromosomes."""

    def __init__(self, log_dir: Path, samples: list[np.ndarray], scale: int):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir / "samples"))
        self.samples = [
            crop_to_multiple(sample, scale).astype(np.float32)[None, :, :, None] / 255 for sample in samples
        ]
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


def default_val_part(data_dir: str | Path) -> str:
    """The part SR validation patches come from when none is named: ``val``, else the dataset's validation part
    (a paper split's ``test``: SR only monitors PSNR on it, nothing is selected)."""
    manifest = load_manifest(data_dir)
    if "val" in manifest.parts:
        return "val"
    if manifest.validation_part is None:
        raise SrasError(
            f"{data_dir}: no val part and no validation part (a {manifest.config.split.scheme} split of parts "
            f"{', '.join(manifest.parts)}); name them with --train-parts and --val-part"
        )
    return manifest.validation_part


def train_sr(data_dir: str | Path, out: str | Path, config: SRTrainConfig, resume: bool = False, log=print) -> dict:
    """Train (or resume) an SRAFBN run in ``out``; returns the last epoch's logs. The images are read and a fresh
    run's model built before ``out`` is created or cleared, so a bad part or source leaves the folder as it was."""
    out = Path(out)
    manifest = load_manifest(data_dir)
    unknown = [part for part in (*config.train_parts, *config.val_parts) if part not in manifest.parts]
    if unknown:
        raise SrasError(
            f"{data_dir}: no part {', '.join(unknown)} (it has {', '.join(manifest.parts)}); "
            "choose with --train-parts and --val-part"
        )
    keras.utils.set_random_seed(config.seed)
    set_precision_policy(config.mixed_precision)
    images, _, background = load_hr_images(data_dir, list(config.train_parts))
    val_images, _, _ = load_hr_images(data_dir, list(config.val_parts))
    if resume:
        state = prepare_run(out, config, resume)
        with distribution_strategy().scope():
            model = load_sr_model(out / CHECKPOINT)
    else:
        with distribution_strategy().scope():
            model = SRAFBN.from_preset(config.preset, scale=config.scale, step_weighting=config.step_weighting)
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        state = prepare_run(out, config, resume)
    initial_epoch = state.epoch

    sampler = PatchSampler(images, background, config.patch_size, config.min_foreground, seed=config.seed)
    if sampler.padded:
        log(
            f"{sampler.padded} of {len(images)} training images are smaller than the {config.patch_size}px patch: "
            "padded with background"
        )
    val_sampler = PatchSampler(
        val_images, background, config.patch_size, config.min_foreground, seed=10_000 + config.seed
    )
    validation = (
        val_sampler.dataset(config.batch_size, config.scale, config.val_batches)
        .take(config.val_batches)
        .cache()
        .apply(tf.data.experimental.assert_cardinality(config.val_batches))
    )
    if not resume:
        write_config(out, config)
    write_record(out, Environment.from_dict(environment(seed=config.seed, data_checksum=manifest.source.checksum)))

    guard = FiniteLoss()
    base_rate = config.learning_rate
    halvings = config.halve_at
    callbacks = [
        guard,
        keras.callbacks.LearningRateScheduler(lambda epoch: base_rate * 0.5 ** sum(epoch >= h for h in halvings)),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resume),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch"),
        _SampleImages(out / "tensorboard", val_images[:4], config.scale),
        Checkpoint(out, guard),
        TimeBudget(config.max_minutes),
    ]
    if initial_epoch >= config.epochs:  # trained, then killed before model.keras: finish the run
        save_model_atomic(model, out / FINAL)
        return state.logs
    history = model.fit(
        sampler.dataset(config.batch_size, config.scale, config.steps_per_epoch, first_epoch=initial_epoch),
        steps_per_epoch=config.steps_per_epoch,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        validation_data=validation,
        callbacks=callbacks,
        verbose=2,
        shuffle=False,  # the sampler draws at random
    )
    guard.raise_if_tripped(out)
    save_model_atomic(model, out / FINAL)
    return {key: float(values[-1]) for key, values in history.history.items()}
