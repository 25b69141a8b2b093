"""``sras train``: fine-tune a registered backbone on a converted dataset, then evaluate it once on the test part.

Which parts train, validate and test comes from the dataset: a ``paper`` split validates on its test fifth (the
paper's protocol, whose checkpoint is chosen on the test set), a ``holdout`` split on its validation cells (the
honest protocol: test cells are touched once, after training), a ``kfold`` split on the held-out ``fold``.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from sras_keras.configs.records import (
    ClassifierMetrics,
    Environment,
    Manifest,
    RunData,
    TrainingState,
    read_record,
    write_config,
    write_record,
)
from sras_keras.configs.train import ModelConfig, OptimizationConfig, TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.provenance import environment
from sras_keras.core.run_files import BEST_WEIGHTS, CHECKPOINT, FINAL, METRICS
from sras_keras.data.inspect import check_shards
from sras_keras.data.pipeline import load_manifest, make_dataset, record_count, shard_files
from sras_keras.evaluation.classifier import evaluate_run
from sras_keras.inference.predictor import write_preprocessing
from sras_keras.models import SmoothedSparseCrossentropy, build_classifier, check_compatible
from sras_keras.models.registry import get_backbone
from sras_keras.models.saving import load_classifier
from sras_keras.training.callbacks import (
    BestEpoch,
    Checkpoint,
    EpochSeeds,
    FiniteLoss,
    TimeBudget,
    epoch_seed,
    save_model_atomic,
)
from sras_keras.training.cell_validation import METRIC, CellValidation
from sras_keras.training.distribute import (
    distribution_strategy,
    is_chief,
    keras_distribute_fixes,
    set_precision_policy,
    shard_by_data,
)
from sras_keras.training.run_dir import prepare_run
from sras_keras.training.transfer import carry_backbone, make_optimizer, optimizer_kind, optimizer_stages


def data_roles(data_dir, manifest: Manifest, fold: int | None, kfold_validation: str = "test_fold") -> RunData:
    """Which parts of a dataset train, select the checkpoint and test, and so the protocol. K-fold: ``test_fold``
    selects the checkpoint on the held-out fold (the two-step study), ``next_fold`` on fold k+1, which then does not
    train, so the held-out fold is touched once."""
    parts = manifest.parts
    split = manifest.config.split
    common = {"data_dir": str(Path(data_dir).resolve()), "split": split, "smote": manifest.config.smote}
    if split.scheme == "kfold":
        if fold is None or not 0 <= fold < len(parts):
            raise SrasError(f"a K-fold dataset needs --fold 0..{len(parts) - 1}")
        held = f"fold{fold}"
        validation = held if kfold_validation == "test_fold" else f"fold{(fold + 1) % len(parts)}"
        return RunData(
            train=[p for p in parts if p not in (held, validation)],
            val=validation,
            test=held,
            protocol="paper" if validation == held else "honest",
            **common,
        )
    if fold is not None:
        raise SrasError(f"--fold applies to K-fold datasets; this one has a {split.scheme} split")
    validation = manifest.validation_part
    return RunData(
        train=["train"], val=validation, test="test", protocol="paper" if validation == "test" else "honest", **common
    )


def learning_rate_schedule(optimization: OptimizationConfig, steps_per_epoch: int):
    """A constant rate (the paper), or one warm-up epoch then cosine decay to zero at the last epoch: with a fixed
    epoch budget the decay, not early stopping, ends training, and it converges faster in short CPU runs."""
    if optimization.schedule == "constant":
        return optimization.learning_rate
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=steps_per_epoch * (optimization.epochs - 1),
        warmup_target=optimization.learning_rate,
        warmup_steps=steps_per_epoch,
    )


def training_loss(optimization: OptimizationConfig):
    """Plain cross-entropy on the integer labels (the paper), or the same with label smoothing."""
    if optimization.label_smoothing == 0.0:
        return "sparse_categorical_crossentropy"
    return SmoothedSparseCrossentropy(optimization.label_smoothing)


def steps_per_epoch(data_dir, roles: RunData, config: TrainConfig) -> int:
    """Training batches an epoch: one pass over the training records."""
    data = config.data
    records = record_count(data_dir, roles.train, data.rotated_copies, data.synthetic, data.max_rotation)
    return math.ceil(records / config.optimization.batch_size)


def training_inputs(data_dir, roles: RunData, config: TrainConfig, first_epoch: int = 0):
    """(training batches from epoch ``first_epoch`` on, validation batches, steps per epoch) as `sras train` feeds
    them.

    Epoch k's batches (order and augmentation) are a pipeline seeded by ``epoch_seed(seed, k)``, so a resumed run
    sees what the uninterrupted one saw; the epochs run back to back in one iterator (rebuilding an autotuned
    pipeline from Keras every epoch stalls short epochs). The validation pipeline has a fixed parallelism."""
    data, augmentation, batch_size = config.data, config.augmentation, config.optimization.batch_size
    steps = steps_per_epoch(data_dir, roles, config)

    def epoch_batches(seed):
        # this function's graph-level seed (the run's sets it, 0 by default): with 0 and an op seed that is a tensor,
        # TF compares the tensor in Python (framework.random_seed.get_seed) and fails; the op seed carries the run's
        tf.random.set_seed(1)
        return make_dataset(
            data_dir,
            roles.train,
            batch_size=batch_size,
            rotated_copies=data.rotated_copies,
            synthetic=data.synthetic,
            shuffle=True,
            repeat=True,  # the last batch of an epoch is completed from a second pass
            seed=seed,
            shuffle_buffer=data.shuffle_buffer,
            flip=augmentation.flip,
            max_rotation=data.max_rotation,
            blur=augmentation.blur,
            contrast=augmentation.contrast,
            zoom=augmentation.zoom,
            cell_batches=data.cell_batches,
        ).take(steps)

    seed = config.runtime.seed
    train = (
        tf.data.Dataset.counter(first_epoch)
        .map(lambda epoch: epoch_seed(seed, epoch))
        .flat_map(tf.autograph.experimental.do_not_convert(epoch_batches))  # plain Python: it builds a pipeline
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = make_dataset(
        data_dir, roles.val, batch_size=batch_size, rotated_copies=False, synthetic=False, autotune=False
    )
    # A known length: otherwise Keras learns it from the first validation pass and warns "Your input ran out of
    # data; interrupting training" at its end
    val_records = record_count(data_dir, [roles.val], False)
    validation = validation.apply(tf.data.experimental.assert_cardinality(math.ceil(val_records / batch_size)))
    # DATA auto-sharding under a multi-worker strategy (see training.distribute); batch_size is the global batch
    return shard_by_data(train), shard_by_data(validation), steps


def _load_checkpoint(path: Path, model_config: ModelConfig) -> keras.Model:
    model = load_classifier(path)
    check_compatible(model, model_config.backbone, 24, source=str(path))
    return model


def _new_model(model_config: ModelConfig, manifest: Manifest) -> keras.Model:
    """The configured classifier for the dataset's image size; two-step transfer starts it from the previous
    stage's backbone (``init_from``) with a fresh head. Building it checks the backbone, its weights (a file,
    ImageNet's download) and the input size, so a fresh run builds it before it writes anything."""
    model = build_classifier(
        model_config.backbone,
        manifest.image_size,
        weights=None if model_config.weights == "none" else model_config.weights,
        dropout=model_config.dropout,
        head=model_config.head,
        batchnorm_momentum=model_config.batchnorm_momentum,
    )
    if model_config.init_from:
        carry_backbone(model, model_config.init_from)
    return model


def default_weights(backbone: str) -> str:
    """``imagenet`` for a Keras Applications backbone (Keras publishes ImageNet weights for each), else ``none``:
    the small ResNets and the ported torchvision / timm architectures have none to download."""
    return "imagenet" if get_backbone(backbone).imagenet else "none"


def _started_model(out: Path, config: TrainConfig, strategy, manifest: Manifest, resume: bool):
    """(the run's saved state, its model): a resume's checkpoint, or a new model built before ``prepare_run``
    creates or clears ``out``, so a bad backbone, weights or input size leaves the folder as it was."""
    if resume:
        state = prepare_run(out, config, resume, finished=METRICS)
        with strategy.scope():
            return state, _load_checkpoint(out / CHECKPOINT, config.model)
    with strategy.scope():
        model = _new_model(config.model, manifest)
    return prepare_run(out, config, resume, finished=METRICS), model


def training_callbacks(
    out: Path, config: TrainConfig, state: TrainingState, resume: bool, data_dir=None, roles: RunData | None = None
):
    """(NaN guard, early stopping, every callback of a run): what `sras train` adds to a bare `model.fit`.
    Monitoring ``val_cell_accuracy`` adds its validation pass over ``roles.val`` of ``data_dir``, first."""
    optimization = config.optimization
    guard = FiniteLoss()
    best = BestEpoch(out, optimization.monitor, optimization.patience, state.early_stopping)
    callbacks = [
        EpochSeeds(config.runtime.seed),
        *([CellValidation(data_dir, roles.val, optimization.batch_size)] if optimization.monitor == METRIC else []),
        guard,
        best,
        # append: a resumed run (its history trimmed to the checkpoint) and each optimizer stage add rows
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch"),
        Checkpoint(out, guard, best),
        TimeBudget(config.runtime.max_minutes),
    ]
    return guard, best, callbacks


def train_classifier(data_dir, out, config: TrainConfig, resume: bool = False, log=print) -> ClassifierMetrics | None:
    """Train (or resume) a classifier run in ``out``, evaluate it on the test part; returns the test metrics."""
    out = Path(out)
    strategy = distribution_strategy(config.runtime.strategy)  # first: a multi-worker strategy must precede any TF op
    if not is_chief(strategy):
        return _train_worker(data_dir, out, config, strategy, resume)
    manifest = load_manifest(data_dir)
    roles = data_roles(data_dir, manifest, config.data.fold, config.data.kfold_validation)
    check_shards(
        data_dir,
        shard_files(data_dir, roles.train, config.data.rotated_copies, manifest, config.data.synthetic)
        + shard_files(data_dir, [roles.val, roles.test], False, manifest),
        manifest,
    )  # before any write
    keras.utils.set_random_seed(config.runtime.seed)
    set_precision_policy(config.runtime.mixed_precision)
    state, model = _started_model(out, config, strategy, manifest, resume)
    if not resume:
        write_config(out, config)
    write_record(out, roles)
    write_preprocessing(out, data_dir)
    environment_record = environment(seed=config.runtime.seed, data_checksum=manifest.source.checksum)
    write_record(out, Environment.from_dict(environment_record))
    if roles.protocol == "paper":
        log(f"protocol=paper: the checkpoint is selected on '{roles.val}', which is also the test set (as published)")

    model, best = _fit(data_dir, out, config, strategy, model, roles, state)
    log(f"best {config.optimization.monitor} {best.best:.4f} at epoch {best.best_epoch}; restored those weights")
    save_model_atomic(model, out / FINAL)
    if config.runtime.strategy == "multiworker":  # evaluate every test image here, not this worker's DATA shard
        return evaluate_run(out)
    return evaluate_run(out, model=model)


def _fit(data_dir, out: Path, config: TrainConfig, strategy, model: keras.Model, roles: RunData, state: TrainingState):
    """Train ``model`` (new, or a resumed checkpoint, built under ``strategy``) from ``state`` with every callback
    writing to ``out``; returns (the model with its best epoch's weights, the early-stopping callback). A resumed
    run whose training had ended (last epoch or early stop reached, then killed before its outputs) trains no more."""
    optimization = config.optimization
    adam_rate = learning_rate_schedule(optimization, steps_per_epoch(data_dir, roles, config))
    stages = optimizer_stages(optimization)
    guard, best, callbacks = training_callbacks(out, config, state, state.epoch > 0, data_dir, roles)
    initial_epoch = state.epoch
    for first, end, kind in stages:  # Adam, or Adam then SGD: one fit per optimizer, the callbacks carry over
        if initial_epoch >= end or best.wait >= optimization.patience:
            continue
        if optimizer_kind(model) != kind:  # a fresh build, or the switch; a resumed stage keeps its optimizer state
            with strategy.scope():
                model.compile(
                    optimizer=make_optimizer(kind, optimization, adam_rate),
                    loss=training_loss(optimization),
                    metrics=["accuracy"],
                )
        start = max(first, initial_epoch)
        train, validation, steps = training_inputs(data_dir, roles, config, first_epoch=start)
        keras_distribute_fixes(model, strategy, train.element_spec)
        model.fit(
            train,
            validation_data=validation,
            epochs=end,
            initial_epoch=start,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=2,
            shuffle=False,
        )  # the pipeline shuffles
        initial_epoch = end
        if model.stop_training:  # early stopping, the time budget or a broken loss ends every stage
            break
    guard.raise_if_tripped(out)
    model.load_weights(out / BEST_WEIGHTS)
    return model, best


def _train_worker(data_dir, out: Path, config: TrainConfig, strategy, resume: bool) -> None:
    """A non-chief worker of a multi-worker run: the same training steps as the chief (which writes ``out``),
    its own checkpoints in a temporary folder; resumes from the chief's checkpoint (``out`` on a shared disk).
    Returns None: the chief evaluates."""
    manifest = load_manifest(data_dir)
    roles = data_roles(data_dir, manifest, config.data.fold, config.data.kfold_validation)
    state = read_record(TrainingState, out) if resume else TrainingState(epoch=0, logs={})
    keras.utils.set_random_seed(config.runtime.seed)
    set_precision_policy(config.runtime.mixed_precision)
    with strategy.scope():
        model = _load_checkpoint(out / CHECKPOINT, config.model) if resume else _new_model(config.model, manifest)
    scratch = Path(tempfile.mkdtemp(prefix="sras-worker-"))
    try:
        (scratch / "checkpoints").mkdir()
        if resume and (out / BEST_WEIGHTS).exists():
            shutil.copyfile(out / BEST_WEIGHTS, scratch / BEST_WEIGHTS)
        model, _ = _fit(data_dir, scratch, config, strategy, model, roles, state)
        save_model_atomic(model, scratch / FINAL)  # as the chief does: the same saves on every worker
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
