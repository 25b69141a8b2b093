"""`sras train` and `sras evaluate`: a classifier run, and its test part scored once."""

from __future__ import annotations

import click

from sras_keras.cli.common import clear_errors
from sras_keras.configs.train import FLIPS, SCHEDULES, TrainConfig

TRAIN = TrainConfig()  # every option's default is the config's: declared once


@click.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--backbone", default=TRAIN.model.backbone, help="A registered backbone (`sras models` lists them).")
@click.option(
    "--weights",
    default=None,
    show_default="imagenet where the backbone has it, else none",
    help="imagenet, none, or a local weights file.",
)
@click.option("--batch-size", type=click.IntRange(1), default=TRAIN.optimization.batch_size)
@click.option("--epochs", type=click.IntRange(1), default=TRAIN.optimization.epochs)
@click.option("--learning-rate", type=float, default=TRAIN.optimization.learning_rate)
@click.option(
    "--patience",
    type=click.IntRange(1),
    default=TRAIN.optimization.patience,
    help="Early stopping on validation accuracy.",
)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=TRAIN.model.dropout)
@click.option(
    "--rotated-copies/--no-rotated-copies",
    default=TRAIN.data.rotated_copies,
    help="Train on the dataset's rotated copies.",
)
@click.option(  # not --synthetic: `sras data synth` makes synthetic karyotypes, a different thing
    "--smote-images/--no-smote-images",
    "synthetic",
    default=TRAIN.data.synthetic,
    help="Train on the dataset's SMOTE images (`sras data convert --smote`).",
)
@click.option(
    "--flip",
    type=click.Choice(FLIPS),
    default=TRAIN.augmentation.flip,
    help="Random mirroring of training images, left-right or also up-down (not in the paper).",
)
@click.option(
    "--max-rotation",
    type=click.FloatRange(0, 180),
    default=TRAIN.data.max_rotation,
    help="Train only on the stored rotated copies within this many degrees of upright (default: all).",
)
@click.option(
    "--schedule",
    type=click.Choice(SCHEDULES),
    default=TRAIN.optimization.schedule,
    help="cosine: one warm-up epoch, then decay to zero at --epochs.",
)
@click.option(
    "--weight-decay",
    type=click.FloatRange(0),
    default=TRAIN.optimization.weight_decay,
    help="Decoupled (AdamW-style) weight decay, times the learning rate (not in the paper).",
)
@click.option(
    "--label-smoothing",
    type=click.FloatRange(0, 1, max_open=True),
    default=TRAIN.optimization.label_smoothing,
    help="Share of each training target spread over all classes (not in the paper).",
)
@click.option(
    "--cell-batches",
    is_flag=True,
    help="Fill each training batch from one cell, so BatchNorm learns per-cell statistics, and choose the "
    "checkpoint on val_cell_accuracy (each validation cell with its own): for `sras predict --cell-bn`.",
)
@click.option("--fold", type=int, default=TRAIN.data.fold, help="K-fold datasets: the held-out fold.")
@click.option(
    "--max-minutes",
    type=float,
    default=TRAIN.runtime.max_minutes,
    help="Stop after the epoch that crosses this budget.",
)
@click.option(
    "--mixed-precision/--no-mixed-precision",
    default=TRAIN.runtime.mixed_precision,
    help="float16 on GPUs, bfloat16 on CPUs (fast only on CPUs with bf16 instructions).",
)
@click.option("--seed", type=int, default=TRAIN.runtime.seed)
@click.option(
    "--strategy",
    type=click.Choice(["auto", "mirrored", "multiworker"]),
    default=TRAIN.runtime.strategy,
    help="tf.distribute: auto (mirrored over >1 local GPU), mirrored, or multiworker over the machines of "
    "TF_CONFIG (run the same command on each). --batch-size is the global batch.",
)
@click.option("--resume", is_flag=True, help="Continue the run in OUT from its last checkpoint.")
@clear_errors
def train(data, out, resume, **options):
    """Fine-tune a backbone on converted dataset DATA (SRAS-net's defaults); the run goes to OUT."""
    from sras_keras.training.classifier import default_weights, train_classifier

    if options["weights"] is None:
        options["weights"] = default_weights(options["backbone"])
    if options["cell_batches"]:
        options["monitor"] = "val_cell_accuracy"
    metrics = train_classifier(
        data, out, TRAIN.replace(**options), resume=resume, log=lambda line: click.echo(line, err=True)
    )
    if metrics is not None:  # a non-chief worker of a multi-worker run returns none: the chief evaluates
        _print_metrics(metrics, out)


def _print_metrics(metrics, run):
    click.echo(
        f"test ({metrics.protocol} protocol, {metrics.images} images): accuracy {100 * metrics.accuracy:.2f}%"
        f"  macro-F1 {metrics.macro_f1:.4f}  AUC-OvR {metrics.auc_ovr:.4f}   ({run}/metrics.json, "
        f"{run}/figures/confusion_matrix.png)"
    )


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@clear_errors
def evaluate(run):
    """Evaluate a training RUN on its test part: predictions.csv, metrics.json, figures."""
    from sras_keras.evaluation.classifier import evaluate_run

    _print_metrics(evaluate_run(run), run)
