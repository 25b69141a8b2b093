"""The ``sras`` command line. Thin on purpose: heavy imports happen inside commands so ``--help`` is instant."""

from __future__ import annotations

import functools
import json
import os
import sys

import click

from sras_keras import __version__
from sras_keras.config import FLIPS, SCHEDULES
from sras_keras.errors import SrasError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _clear_errors(command):
    """Turn a SrasError into one 'error: ...' line and exit status 1 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SrasError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)

    return wrapper


def _progress() -> bool:
    return sys.stderr.isatty() or bool(os.environ.get("SRAS_PROGRESS"))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="sras")
def main():
    """sras-keras: SRAS-net and two-step transfer learning for chromosome classification."""


@main.group()
def data():
    """Convert, inspect, verify and synthesise chromosome image sets."""


@data.command()
@click.argument("source", type=click.Path(file_okay=False, path_type=str))
@click.argument("out", type=click.Path(file_okay=False, path_type=str))
@click.option("--layout", type=click.Choice(["auto", "bioimlab", "class_folders"]), default="auto")
@click.option(
    "--label-coding",
    type=click.Choice(["standard", "sras"]),
    default="standard",
    help="class_folders labels: standard = 1..22, 23/X, 24/Y; sras = SRAS-net's 23 = X, 0 = Y.",
)
@click.option("--cell-regex", default=None, help="Regex on the file stem whose first group is the cell id, "
              "e.g. '_([^_]+)$' for the G-band set.")
@click.option("--split", "scheme", type=click.Choice(["paper", "holdout", "kfold"]), default="paper")
@click.option("--folds", type=int, default=5, help="Number of folds for --split kfold.")
@click.option("--group-by", type=click.Choice(["image", "cell"]), default=None,
              help="Keep each cell in one part. Default: cell for holdout, image for paper and kfold.")
@click.option("--val-fraction", type=float, default=0.1, help="holdout only.")
@click.option("--test-fraction", type=float, default=0.2, help="holdout only.")
@click.option("--splits", "splits_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Reuse the parts of a saved splits.json (matched by relative path).")
@click.option("--rotations", type=click.IntRange(1, 360), default=1,
              help="Copies of each training image at 360/N degree steps (the paper: 24).")
@click.option("--image-size", type=click.IntRange(8, 4096), default=224)
@click.option("--preprocess", type=click.Choice(["iam", "square_resize", "stretch"]), default="iam",
              help="iam = SRAS-net's canvas fit; square_resize = the two-step study's pad + resize; "
                   "stretch = the plain resize IAM replaces (Table 3).")
@click.option("--placement", type=click.Choice(["top_left", "center"]), default="top_left", help="IAM only.")
@click.option("--magnify", type=click.FloatRange(1.0), default=1.0,
              help="IAM only: enlarge every crop by this factor before fitting (the paper: 1, never enlarge).")
@click.option("--background", type=click.Choice(["auto", "black", "white"]), default="auto")
@click.option("--invert/--no-invert", default=False,
              help="Invert grey levels on reading: G-band images (dark bands on white) then look Q-banded.")
@click.option("--threshold", type=click.IntRange(0, 254), default=20, help="Foreground = |pixel - background| > T.")
@click.option("--records-per-shard", type=click.IntRange(1), default=1024)
@click.option("--smote/--no-smote", default=False, help="Synthesise X and Y up to the largest class (SRAS-net 3.4).")
@click.option("--smote-scope", type=click.Choice(["train", "all"]), default="train",
              help="train: inside each training part (honest); all: before the split, as the paper did (leaky).")
@click.option("--seed", type=int, default=0)
@_clear_errors
def convert(source, out, scheme, folds, group_by, val_fraction, test_fraction, seed, **options):
    """Convert SOURCE images into sharded TFRecords in OUT (resumable: run the same command again)."""
    from sras_keras.config import ConvertConfig
    from sras_keras.data.convert import convert as run_convert
    from sras_keras.data.inspect import format_table, inspect_path
    from sras_keras.data.splits import SplitConfig

    split = SplitConfig(scheme, seed, group_by, folds, val_fraction, test_fraction)
    config = ConvertConfig(split=split, **options)
    run_convert(source, out, config, progress=_progress(), log=lambda line: click.echo(line, err=True))
    click.echo(format_table(inspect_path(out)))


@data.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@_clear_errors
def verify(out):
    """Check OUT's shards against its manifest: checksums, record counts, record CRCs."""
    from sras_keras.data.inspect import verify as run_verify

    problems = run_verify(out, progress=_progress())
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{out}: all shards intact")


@data.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--layout", type=click.Choice(["auto", "bioimlab", "class_folders"]), default="auto")
@click.option("--label-coding", type=click.Choice(["standard", "sras"]), default="standard")
@click.option("--cell-regex", default=None)
@_clear_errors
def inspect(path, as_json, layout, label_coding, cell_regex):
    """Class x part table of a source tree or a converted dataset."""
    from sras_keras.data.inspect import format_table, inspect_path

    summary = inspect_path(path, layout, label_coding, cell_regex)
    click.echo(json.dumps(summary, indent=2) if as_json else format_table(summary))


@data.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--cells", type=click.IntRange(1), default=12)
@click.option("--male-fraction", type=click.FloatRange(0, 1), default=0.4)
@click.option("--seed", type=int, default=0)
@_clear_errors
def synth(out, cells, male_fraction, seed):
    """Write a synthetic Q-band karyotype set (BioImLab layout) to OUT: the embedded default data."""
    from sras_keras.data.synthetic import write_synthetic_dataset

    summary = write_synthetic_dataset(out, n_cells=cells, seed=seed, male_fraction=male_fraction, progress=_progress())
    click.echo(f"{out}: {summary['n_images']} images from {summary['n_cells']} synthetic cells")


@main.group()
def sr():
    """SRAFBN super-resolution: train, evaluate, apply."""


def _check_scale(model, expected):
    if expected is not None and expected != model.scale:
        raise SrasError(f"scale mismatch: the model upscales x{model.scale}, --scale asks for x{expected}")


@sr.command("train")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--config", "base", type=click.Choice(["cpu", "paper"]), default="cpu",
              help="cpu: the light model on a 2-core budget; paper: SRFBN's full recipe (a GPU job).")
@click.option("--preset", type=click.Choice(["full", "light", "tiny"]), default=None, help="Overrides --config.")
@click.option("--scale", type=click.Choice(["2", "3", "4"]), default=None)
@click.option("--step-weighting", type=click.Choice(["self_attention", "softmax", "equal"]), default=None)
@click.option("--patch-size", type=click.IntRange(4), default=None, help="HR patch side.")
@click.option("--batch-size", type=click.IntRange(1), default=None)
@click.option("--epochs", type=click.IntRange(1), default=None)
@click.option("--steps-per-epoch", type=click.IntRange(1), default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--halve-at", default=None, help="Comma-separated epochs at which the learning rate halves.")
@click.option("--max-minutes", type=float, default=None, help="Stop after the epoch that crosses this budget.")
@click.option("--mixed-precision/--no-mixed-precision", default=None,
              help="float16 on GPUs, bfloat16 on CPUs (fast only on CPUs with bf16 instructions).")
@click.option("--seed", type=int, default=None)
@click.option("--resume", is_flag=True, help="Continue the run in OUT from its last checkpoint.")
@_clear_errors
def sr_train(data, out, base, resume, **options):
    """Train SRAFBN on the training cells of converted dataset DATA; the run goes to OUT."""
    import dataclasses

    from sras_keras.config import SR_PAPER, SRTrainConfig
    from sras_keras.training.sr import train_sr

    config = SR_PAPER if base == "paper" else SRTrainConfig()
    overrides = {key: value for key, value in options.items() if value is not None}
    if "scale" in overrides:
        overrides["scale"] = int(overrides["scale"])
    if "halve_at" in overrides:
        overrides["halve_at"] = tuple(int(epoch) for epoch in overrides["halve_at"].split(",") if epoch.strip())
    config = dataclasses.replace(config, **overrides)
    logs = train_sr(data, out, config, resume=resume, log=lambda line: click.echo(line, err=True))
    click.echo(" ".join(f"{key}={value:.4g}" for key, value in logs.items()))


@sr.command("eval")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("--parts", default="test", help="Comma-separated parts of DATA to score (held-out cells).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default: MODEL's folder / eval-PARTS.")
@click.option("--max-images", type=click.IntRange(1), default=None)
@click.option("--scale", type=int, default=None, help="Refuse a model of another scale.")
@_clear_errors
def sr_eval(model_path, data, parts, out, max_images, scale):
    """PSNR/SSIM of every step and of bicubic on whole held-out images, whole and foreground only."""
    from pathlib import Path

    from sras_keras.evaluation.sr import evaluate_sr
    from sras_keras.training.sr import load_sr_model

    model = load_sr_model(model_path)
    _check_scale(model, scale)
    part_list = [part.strip() for part in parts.split(",") if part.strip()]
    out = out or Path(model_path).parent / f"eval-{'-'.join(part_list)}"
    metrics = evaluate_sr(model, data, part_list, out, max_images, progress=_progress())
    for region in ("whole", "foreground"):
        row = "  ".join(f"{name} {v['psnr']:.2f}/{v['ssim']:.4f}" for name, v in metrics[region].items())
        click.echo(f"{region:<11} PSNR/SSIM  {row}")
    click.echo(f"gain over bicubic: {metrics['gain_db']['whole']:+.2f} dB whole, "
               f"{metrics['gain_db']['foreground']:+.2f} dB foreground   ({out}/metrics.json)")


@sr.command("apply")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--batch-size", type=click.IntRange(1), default=16)
@click.option("--layout", type=click.Choice(["auto", "bioimlab", "class_folders"]), default="auto")
@click.option("--label-coding", type=click.Choice(["standard", "sras"]), default="standard")
@click.option("--cell-regex", default=None)
@click.option("--scale", type=int, default=None, help="Refuse a model of another scale.")
@_clear_errors
def sr_apply(model_path, source, out, batch_size, layout, label_coding, cell_regex, scale):
    """Upscale every image of SOURCE into OUT with the same layout (then: sras data convert OUT ... --splits)."""
    from pathlib import Path

    from sras_keras.sr_apply import apply_sr
    from sras_keras.training.sr import load_sr_model

    if (Path(source) / "sr_apply.json").exists():
        raise SrasError(f"{source}: already upscaled by sras sr apply (sr_apply.json); applying again would upscale twice")
    model = load_sr_model(model_path)
    _check_scale(model, scale)
    summary = apply_sr(model, model_path, source, out, layout, label_coding, cell_regex, batch_size, _progress())
    click.echo(f"{out}: {summary['images']} images upscaled x{summary['scale']} "
               f"({summary['images_per_s']} images/s)")


@main.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--backbone", default="inception_resnet_v2", help="A registered backbone (sras models).")
@click.option("--weights", default="imagenet", help="imagenet, none, or a local weights file.")
@click.option("--batch-size", type=click.IntRange(1), default=40)
@click.option("--epochs", type=click.IntRange(1), default=100)
@click.option("--learning-rate", type=float, default=5e-4)
@click.option("--patience", type=click.IntRange(1), default=21, help="Early stopping on validation accuracy.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.5)
@click.option("--rotations/--no-rotations", default=True, help="Train on the dataset's rotated copies.")
@click.option("--synthetic/--no-synthetic", default=True, help="Train on the dataset's SMOTE images.")
@click.option("--flip", type=click.Choice(FLIPS), default="none",
              help="Random mirroring of training images, left-right or also up-down (not in the paper).")
@click.option("--max-rotation", type=click.FloatRange(0, 180), default=None,
              help="Train only on the stored rotated copies within this many degrees of upright (default: all).")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="constant",
              help="cosine: one warm-up epoch, then decay to zero at --epochs.")
@click.option("--weight-decay", type=click.FloatRange(0), default=0.0,
              help="Decoupled (AdamW-style) weight decay, times the learning rate (not in the paper).")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              help="Share of each training target spread over all classes (not in the paper).")
@click.option("--cell-batches", is_flag=True,
              help="Fill each training batch from one cell, so BatchNorm learns per-cell statistics, and choose the "
                   "checkpoint on val_cell_accuracy (each validation cell with its own): for `sras predict --cell-bn`.")
@click.option("--fold", type=int, default=None, help="K-fold datasets: the held-out fold.")
@click.option("--max-minutes", type=float, default=None, help="Stop after the epoch that crosses this budget.")
@click.option("--mixed-precision/--no-mixed-precision", default=False,
              help="float16 on GPUs, bfloat16 on CPUs (fast only on CPUs with bf16 instructions).")
@click.option("--seed", type=int, default=0)
@click.option("--strategy", type=click.Choice(["auto", "mirrored", "multiworker"]), default="auto",
              help="tf.distribute: auto (mirrored over >1 local GPU), mirrored, or multiworker over the machines of "
                   "TF_CONFIG (run the same command on each). --batch-size is the global batch.")
@click.option("--resume", is_flag=True, help="Continue the run in OUT from its last checkpoint.")
@_clear_errors
def train(data, out, resume, **options):
    """Fine-tune a backbone on converted dataset DATA (SRAS-net's defaults); the run goes to OUT."""
    from sras_keras.config import TrainConfig
    from sras_keras.training.classifier import train_classifier

    if options["cell_batches"]:
        options["monitor"] = "val_cell_accuracy"
    metrics = train_classifier(data, out, TrainConfig(**options), resume=resume,
                               log=lambda line: click.echo(line, err=True))
    if metrics:  # a non-chief worker of a multi-worker run returns none: the chief evaluates
        _print_metrics(metrics, out)


def _print_metrics(metrics, run):
    click.echo(f"test ({metrics['protocol']} protocol, {metrics['images']} images): accuracy {100 * metrics['accuracy']:.2f}%"
               f"  macro-F1 {metrics['macro_f1']:.4f}  AUC-OvR {metrics['auc_ovr']:.4f}   ({run}/metrics.json, "
               f"{run}/figures/confusion_matrix.png)")


@main.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@_clear_errors
def evaluate(run):
    """Evaluate a training RUN on its test part: predictions.csv, metrics.json, figures."""
    from sras_keras.evaluation.classifier import evaluate_run

    _print_metrics(evaluate_run(run), run)


@main.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the outputs.")
@click.option("--karyotype", is_flag=True,
              help="Assign each cell's chromosomes jointly (two per autosome, XX or XY) and draw karyograms.")
@click.option("--size-evidence", is_flag=True,
              help="Multiply in each chromosome's size relative to its cell (fitted by `sras size-evidence RUN`).")
@click.option("--tta", is_flag=True, help="Test-time augmentation: average each chromosome's probabilities with its "
              "mirror image's (with --size-evidence: as fitted by `sras size-evidence RUN --tta`).")
@click.option("--cell-bn", is_flag=True, help="Normalise each cell of 10 or more images with its own BatchNorm "
              "statistics (with --size-evidence: as fitted by `sras size-evidence RUN --cell-bn`).")
@click.option("--cell-regex", default=None, help="Regex on the file stem whose first group is the cell id "
              "(default: the enclosing folder).")
@click.option("--part", "parts", multiple=True, help="Converted-dataset INPUT: predict only these parts.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@_clear_errors
def predict(run, inputs, out, karyotype, size_evidence, tta, cell_bn, cell_regex, parts, batch_size):
    """Classify INPUTS (images, folders, cell folders, or one converted dataset) with training RUN's model and
    preprocessing; writes predictions.csv and summary.json (and karyotypes.json, karyograms/ with --karyotype)."""
    from sras_keras.predict import predict as run_predict

    summary = run_predict(run, list(inputs), out, karyotype=karyotype, size_evidence=size_evidence, tta=tta,
                          cell_bn=cell_bn, cell_regex=cell_regex, parts=list(parts) or None, batch_size=batch_size,
                          progress=True)
    line = f"{summary['images']} images in {summary['cells']} cells, {summary['cells_per_minute']:.1f} cells/min"
    if summary["skipped"]:
        line += f"; {summary['skipped']} unreadable, listed in {out}/skipped.csv"
    click.echo(line)
    if "accuracy_argmax_image_only" in summary:
        click.echo(f"size evidence (weight {summary['size_evidence_weight']}): argmax "
                   f"{100 * summary['accuracy_argmax_image_only']:.2f}% without it")
    if "accuracy_argmax" in summary:
        click.echo(f"accuracy per image: argmax {100 * summary['accuracy_argmax']:.2f}%"
                   + (f", karyotype assignment {100 * summary['accuracy_assigned']:.2f}%; sex right in "
                      f"{summary['sex_correct_cells']}/{summary['sex_cells']} cells; every chromosome right in "
                      f"{summary['cells_all_assigned_right']}/{summary['sex_cells']} cells" if karyotype else ""))
    click.echo(f"{out}/predictions.csv" + (f", {out}/karyotypes.json, {out}/karyograms/" if karyotype else ""))


@main.command("size-evidence")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--min-cell-images", type=click.IntRange(2), default=10, show_default=True,
              help="Cells with fewer chromosomes get no size evidence (their median is unreliable).")
@click.option("--tta", is_flag=True, help="For `sras predict --tta`: the model's probabilities averaged with the "
              "mirror image's (RUN/size_evidence_tta.json).")
@click.option("--cell-bn", is_flag=True, help="For `sras predict --cell-bn`: each cell normalised with its own "
              "BatchNorm statistics (RUN/size_evidence_cellbn.json).")
@_clear_errors
def size_evidence_command(run, min_cell_images, tta, cell_bn):
    """Fit cell-relative size evidence for training RUN: one Gaussian per class on its training cells, the weight
    chosen on its validation cells; scores the test cells with and without it (RUN/size_evidence.json)."""
    from sras_keras.evaluation.size_fit import fit_size_evidence, size_evidence_file

    record = fit_size_evidence(run, min_cell_images, progress=True, tta=tta, cell_bn=cell_bn)
    weight, tried = record["evidence"]["weight"], record["validation_by_weight"]
    scores = ", ".join(f"weight {w:g}: log loss {tried[w]['log_loss']:.4f}, accuracy {100 * tried[w]['accuracy']:.2f}%"
                       for w in sorted({0.0, weight}))
    click.echo(f"weight {weight:g}, the least log loss on {record['weight_chosen_on']}: {scores}")
    for name in ("without", "with"):
        test = record["test"][name]
        click.echo(f"test {name} size evidence: argmax {100 * test['accuracy_argmax']:.2f}% "
                   f"(macro-F1 {test['macro_f1_argmax']:.4f}), assigned {100 * test['accuracy_assigned']:.2f}%, "
                   f"sex right in {test['sex_correct_cells']}/{test['sex_cells']} cells, every chromosome right in "
                   f"{test['cells_all_assigned_right']}/{test['sex_cells']}")
    if not record["test_cells_whole"]:
        click.echo("the test part holds pieces of cells (image-level split): the assigned accuracy means little")
    click.echo(f"{run}/{size_evidence_file(tta, cell_bn)}")


@main.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "export_format", type=click.Choice(["savedmodel", "tflite"]), default="savedmodel")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Default: RUN/export.")
@click.option("--parity-images", type=click.IntRange(1), default=200,
              help="Test images on which the export is checked against the Keras model.")
@_clear_errors
def export(run, export_format, out, parity_images):
    """Export training RUN's classifier with its preprocessing inside the graph (raw grayscale image in,
    24 probabilities out), and check it against the Keras model."""
    from sras_keras.export import export_run

    record = export_run(run, out, export_format, parity_images)
    parity = record["parity"]
    click.echo(f"{record['path']}: parity on {parity['images']} test images: max |dp| {parity['max_abs_diff']:.2e}, "
               f"top-1 agreement {100 * parity['top1_agreement']:.1f}%")


@main.group()
def cv():
    """Named experiments (paper tables): list them, run one."""


@cv.command("list")
def cv_list():
    """The registered recipes, with the first line of each docstring."""
    from recipes import recipe_doc, recipe_names

    for name in recipe_names():
        click.echo(f"{name:<20} {recipe_doc(name).splitlines()[0]}")


@cv.command("run")
@click.option("--recipe", "name", required=True, help="A registered recipe (sras cv list).")
@click.option("--config", "config_name", type=click.Choice(["cpu", "paper"]), default="cpu")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.FIELD=VALUE",
              help="Change a field of every row, e.g. --set train.epochs=5 --set convert.image_size=96.")
@click.option("--rows", default=None, help="Comma-separated row names: run only these (one job per row).")
@click.option("--folds", default=None, help="Comma-separated folds of K-fold rows: run only these (one job per fold).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Folder holding the data sets. Default: $SRAS_DATA_DIR or ../shared/data.")
@click.option("--runs", type=click.Path(file_okay=False), default="runs", show_default=True)
@click.option("--tfrecords", type=click.Path(file_okay=False), default="tfrecords", show_default=True)
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True,
              help="Where analysis recipes (tl_table1, tl_fig2, tl_fig3) write their tables.")
@click.option("--dry-run", is_flag=True, help="Print the rows and their configs, run nothing.")
@_clear_errors
def cv_run(name, config_name, overrides, rows, folds, data_root, runs, tfrecords, results, dry_run):
    """Run recipe NAME: convert the data its rows need, train and evaluate every row (or run an analysis)."""
    from pathlib import Path

    from recipes import get_recipe
    from sras_keras.experiment import Analysis, apply_overrides, run_experiment

    pairs = {}
    for item in overrides:
        key, equals, value = item.partition("=")
        if not equals:
            raise SrasError(f"--set {item!r}: expected SECTION.FIELD=VALUE")
        pairs[key.strip()] = value.strip()
    experiment = apply_overrides(get_recipe(name, config_name), pairs)
    data_root = Path(data_root or os.environ.get("SRAS_DATA_DIR", "../shared/data"))
    if isinstance(experiment, Analysis):
        if dry_run:
            click.echo(f"{experiment.name} (analysis): {experiment.params}")
            return
        run_dir = experiment.run(experiment.params, data_root, Path(runs), Path(results),
                                 log=lambda line: click.echo(line, err=True))
        click.echo((Path(results) / f"{name}.md").read_text())
        click.echo(f"{run_dir}: done")
        return
    if dry_run:
        for row in experiment.rows:
            click.echo(f"{row.name}: {row.label} | {row.protocol} | sr={row.sr} | {row.convert} | {row.train}")
        return
    row_list = [r.strip() for r in rows.split(",")] if rows else None
    fold_list = _int_list(folds, "--folds") if folds else None
    run_dir = run_experiment(experiment, data_root, Path(runs), Path(tfrecords), row_list,
                             log=lambda line: click.echo(line, err=True), progress=_progress(), folds=fold_list)
    click.echo(f"{run_dir}: done; `sras report table {name}` aggregates it")


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(item) for item in text.split(",")]
    except ValueError:
        raise SrasError(f"{option} {text!r}: expected comma-separated integers, e.g. 0,1") from None


@main.group()
def report():
    """Tables from finished runs."""


@report.command("table")
@click.argument("name")
@click.option("--runs", type=click.Path(file_okay=False), default="runs")
@click.option("--results", type=click.Path(file_okay=False), default="results")
@_clear_errors
def report_table_command(name, runs, results):
    """Write results/NAME.md and .csv from the newest finished run of every row of recipe NAME (an analysis
    recipe writes its table when it runs: this shows it)."""
    from pathlib import Path

    from recipes import get_recipe, recipe_names
    from sras_keras.experiment import Analysis, report_table

    if name in recipe_names() and isinstance(get_recipe(name), Analysis):
        path = Path(results) / f"{name}.md"
        if not path.exists():
            raise SrasError(f"{path}: not written yet; analysis recipes write it when run (sras cv run --recipe {name})")
    else:
        path = report_table(Path(runs), name, Path(results), get_recipe(name) if name in recipe_names() else None)
    click.echo(path.read_text())


@main.group()
def weights():
    """ImageNet starts for the architectures Keras has no weights for."""


@weights.command("convert")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--backbone", required=True, help="resnet34, resnext50_32x4d, resnext101_32x8d, resnext101_32x16d, "
              "vgg16_bn, vgg19_bn, swin_t or vit_s16.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="The .weights.h5 to write.")
@click.option("--image-size", type=click.IntRange(1), default=224,
              help="Input side the file is for: only ViT's position embedding depends on it (resampled).")
@_clear_errors
def weights_convert(source, backbone, out, image_size):
    """Convert a torchvision / timm ImageNet checkpoint (SOURCE, .safetensors) into a Keras weights file for
    `--weights PATH`. Every tensor must fit a layer and every layer a tensor, else nothing is written.

    A .pth file is a pickle, which sras never loads: where PyTorch is installed, turn it into safetensors with

    \b
      python -c "import sys, torch; from safetensors.torch import save_file;
        save_file(torch.load(sys.argv[1], weights_only=True), sys.argv[2])" IN.pth OUT.safetensors
    """
    from sras_keras.weights import convert_torch_checkpoint

    path = convert_torch_checkpoint(source, backbone, out, image_size)
    click.echo(f"{path}: {backbone} at {image_size} px from {source}")


if __name__ == "__main__":
    main()
