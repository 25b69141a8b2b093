"""`sras sr`: SRAFBN super-resolution: train, evaluate, apply."""

from __future__ import annotations

from pathlib import Path

import click

from sras_keras.cli.common import clear_errors, progress
from sras_keras.configs.sr import PRESETS, SCALES, STEP_WEIGHTINGS
from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import SR_APPLY


@click.group()
def sr():
    """SRAFBN super-resolution: train, evaluate, apply."""


def _check_scale(model, expected):
    if expected is not None and expected != model.scale:
        raise SrasError(f"scale mismatch: the model upscales x{model.scale}, --expect-scale asks for x{expected}")


@sr.command("train")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--config",
    "base",
    type=click.Choice(["cpu", "paper"]),
    default="cpu",
    help="cpu: the light model on a 2-core budget; paper: SRFBN's full recipe (a GPU job).",
)
@click.option("--preset", type=click.Choice(PRESETS), default=None, help="Overrides --config.")
@click.option("--scale", type=click.Choice([str(scale) for scale in SCALES]), default=None)
@click.option("--step-weighting", type=click.Choice(STEP_WEIGHTINGS), default=None)
@click.option("--patch-size", type=click.IntRange(4), default=None, help="HR patch side.")
@click.option("--batch-size", type=click.IntRange(1), default=None)
@click.option("--epochs", type=click.IntRange(1), default=None)
@click.option("--steps-per-epoch", type=click.IntRange(1), default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option(
    "--train-parts",
    default=None,
    show_default="train",
    help="Comma-separated parts of DATA whose images SR trains on (a K-fold dataset: its training folds).",
)
@click.option(
    "--val-part",
    default=None,
    show_default="val, else the dataset's validation part (paper split: test)",
    help="The part of DATA whose patches SR validation (PSNR, monitoring only) draws from.",
)
@click.option("--halve-at", default=None, help="Comma-separated epochs at which the learning rate halves.")
@click.option("--max-minutes", type=float, default=None, help="Stop after the epoch that crosses this budget.")
@click.option(
    "--mixed-precision/--no-mixed-precision",
    default=None,
    help="float16 on GPUs, bfloat16 on CPUs (fast only on CPUs with bf16 instructions).",
)
@click.option("--seed", type=int, default=None)
@click.option("--resume", is_flag=True, help="Continue the run in OUT from its last checkpoint.")
@clear_errors
def sr_train(data, out, base, resume, **options):
    """Train SRAFBN on the training cells of converted dataset DATA; the run goes to OUT."""
    import dataclasses

    from sras_keras.configs.sr import SR_PAPER, SRTrainConfig
    from sras_keras.training.sr import default_val_part, train_sr

    config = SR_PAPER if base == "paper" else SRTrainConfig()
    overrides = {key: value for key, value in options.items() if value is not None}
    if "scale" in overrides:
        overrides["scale"] = int(overrides["scale"])
    if "halve_at" in overrides:
        epochs = [epoch.strip() for epoch in overrides["halve_at"].split(",") if epoch.strip()]
        if not all(epoch.isdigit() for epoch in epochs):
            raise SrasError(f"--halve-at: expected comma-separated epochs, got {overrides['halve_at']!r}")
        overrides["halve_at"] = tuple(int(epoch) for epoch in epochs)
    if "train_parts" in overrides:
        overrides["train_parts"] = tuple(part.strip() for part in overrides["train_parts"].split(",") if part.strip())
    val_part = overrides.pop("val_part", None)
    config = dataclasses.replace(config, **overrides)  # checks every value before the dataset is read
    if val_part is None:
        val_part = default_val_part(data)
        if val_part != "val":
            click.echo(f"{data}: no val part; SR validation patches come from '{val_part}' (monitoring only)", err=True)
    config = dataclasses.replace(config, val_parts=(val_part,))
    logs = train_sr(data, out, config, resume=resume, log=lambda line: click.echo(line, err=True))
    click.echo(" ".join(f"{key}={value:.4g}" for key, value in logs.items()))


@sr.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("--parts", default="test", help="Comma-separated parts of DATA to score (held-out cells).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default: MODEL's folder / eval-PARTS.")
@click.option("--max-images", type=click.IntRange(1), default=None)
@click.option("--expect-scale", "scale", type=int, default=None, help="Refuse a model of another scale.")
@clear_errors
def sr_evaluate(model_path, data, parts, out, max_images, scale):
    """PSNR/SSIM of every step and of bicubic on whole held-out images, whole and foreground only."""

    from sras_keras.evaluation.sr import evaluate_sr
    from sras_keras.models.saving import load_sr_model

    model = load_sr_model(model_path)
    _check_scale(model, scale)
    part_list = [part.strip() for part in parts.split(",") if part.strip()]
    out = out or Path(model_path).parent / f"eval-{'-'.join(part_list)}"
    metrics = evaluate_sr(model, data, part_list, out, max_images, progress=progress())
    for region in ("whole", "foreground"):
        row = "  ".join(f"{name} {v['psnr']:.2f}/{v['ssim']:.4f}" for name, v in getattr(metrics, region).items())
        click.echo(f"{region:<11} PSNR/SSIM  {row}")
    click.echo(
        f"gain over bicubic: {metrics.gain_db['whole']:+.2f} dB whole, "
        f"{metrics.gain_db['foreground']:+.2f} dB foreground   ({out}/metrics.json)"
    )


@sr.command("apply")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--batch-size", type=click.IntRange(1), default=16)
@click.option("--layout", type=click.Choice(["auto", "bioimlab", "class_folders"]), default="auto")
@click.option("--label-coding", type=click.Choice(["standard", "sras"]), default="standard")
@click.option("--cell-regex", default=None)
@click.option("--expect-scale", "scale", type=int, default=None, help="Refuse a model of another scale.")
@clear_errors
def sr_apply(model_path, source, out, batch_size, layout, label_coding, cell_regex, scale):
    """Upscale every image of SOURCE into OUT with the same layout (then: sras data convert OUT ... --splits)."""

    from sras_keras.inference.upscale import apply_sr
    from sras_keras.models.saving import load_sr_model

    if (Path(source) / SR_APPLY).exists():
        raise SrasError(
            f"{source}: already upscaled by sras sr apply (sr_apply.json); applying again would upscale twice"
        )
    model = load_sr_model(model_path)
    _check_scale(model, scale)
    summary = apply_sr(model, model_path, source, out, layout, label_coding, cell_regex, batch_size, progress())
    click.echo(f"{out}: {summary.images} images upscaled x{summary.scale} ({summary.images_per_s} images/s)")
