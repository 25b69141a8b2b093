"""`sras data`: convert, verify, inspect and synthesise chromosome image sets."""

from __future__ import annotations

import json
import sys

import click

from sras_keras.cli.common import clear_errors, progress
from sras_keras.configs.convert import ConvertConfig, SplitConfig

CONVERT, SPLIT = ConvertConfig(), SplitConfig()  # every option's default is the config's: declared once


@click.group()
def data():
    """Convert, inspect, verify and synthesise chromosome image sets."""


@data.command()
@click.argument("source", type=click.Path(file_okay=False, path_type=str))
@click.argument("out", type=click.Path(file_okay=False, path_type=str))
@click.option("--layout", type=click.Choice(["auto", "bioimlab", "class_folders"]), default=CONVERT.layout)
@click.option(
    "--label-coding",
    type=click.Choice(["standard", "sras"]),
    default=CONVERT.label_coding,
    help="class_folders labels: standard = 1..22, 23/X, 24/Y; sras = SRAS-net's 23 = X, 0 = Y.",
)
@click.option(
    "--cell-regex",
    default=CONVERT.cell_regex,
    help="Regex on the file stem whose first group is the cell id, e.g. '_([^_]+)$' for the G-band set.",
)
@click.option(
    "--split",
    "scheme",
    type=click.Choice(["paper", "holdout", "kfold"]),
    default=SPLIT.scheme,
    help="holdout: train/val/test, grouped by cell (honest); paper: SRAS-net's image-level 4:1 split, whose test "
    "part is also its validation part (leaky); kfold: K folds.",
)
@click.option("--folds", type=int, default=SPLIT.folds, help="Number of folds for --split kfold.")
@click.option(
    "--group-by",
    type=click.Choice(["image", "cell"]),
    default=SPLIT.group_by,
    help="Keep each cell in one part. Default: cell for holdout, image for paper and kfold.",
)
@click.option("--val-fraction", type=float, default=SPLIT.val_fraction, help="holdout only.")
@click.option("--test-fraction", type=float, default=SPLIT.test_fraction, help="holdout only.")
@click.option(
    "--splits",
    "splits_file",
    type=click.Path(dir_okay=False, exists=True),
    default=CONVERT.splits_file,
    help="Reuse the parts of a saved splits.json (matched by relative path).",
)
@click.option(
    "--rotations",
    type=click.IntRange(1, 360),
    default=CONVERT.rotations,
    help="Copies of each training image at 360/N degree steps (the paper: 24).",
)
@click.option("--image-size", type=click.IntRange(8, 4096), default=CONVERT.image_size)
@click.option(
    "--preprocess",
    type=click.Choice(["iam", "square_resize", "stretch"]),
    default=CONVERT.preprocess,
    help="iam = SRAS-net's canvas fit; square_resize = the two-step study's pad + resize; "
    "stretch = the plain resize IAM replaces (Table 3).",
)
@click.option("--placement", type=click.Choice(["top_left", "center"]), default=CONVERT.placement, help="IAM only.")
@click.option(
    "--magnify",
    type=click.FloatRange(1.0),
    default=CONVERT.magnify,
    help="IAM only: enlarge every crop by this factor before fitting (the paper: 1, never enlarge).",
)
@click.option("--background", type=click.Choice(["auto", "black", "white"]), default=CONVERT.background)
@click.option(
    "--invert/--no-invert",
    default=CONVERT.invert,
    help="Invert grey levels on reading: G-band images (dark bands on white) then look Q-banded.",
)
@click.option(
    "--threshold", type=click.IntRange(0, 254), default=CONVERT.threshold, help="Foreground = |pixel - background| > T."
)
@click.option("--records-per-shard", type=click.IntRange(1), default=CONVERT.records_per_shard)
@click.option(
    "--smote/--no-smote", default=CONVERT.smote, help="Synthesise X and Y up to the largest class (SRAS-net 3.4)."
)
@click.option(
    "--smote-scope",
    type=click.Choice(["train", "all"]),
    default=CONVERT.smote_scope,
    help="train: inside each training part (honest); all: before the split, as the paper did (leaky).",
)
@click.option("--seed", type=int, default=SPLIT.seed)
@clear_errors
def convert(source, out, scheme, folds, group_by, val_fraction, test_fraction, seed, **options):
    """Convert SOURCE images into sharded TFRecords in OUT (resumable: run the same command again)."""
    from sras_keras.data.convert import convert as run_convert
    from sras_keras.data.inspect import format_table, inspect_path

    split = SplitConfig(scheme, seed, group_by, folds, val_fraction, test_fraction)
    config = ConvertConfig(split=split, **options)
    run_convert(source, out, config, progress=progress(), log=lambda line: click.echo(line, err=True))
    click.echo(format_table(inspect_path(out)))


@data.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@clear_errors
def verify(data):
    """Check converted dataset DATA against its manifest: the shards' checksums, record counts and record CRCs, and
    splits.json's checksum."""
    from sras_keras.data.inspect import verify as run_verify

    problems = run_verify(data, progress=progress())
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{data}: all shards and splits.json intact")


@data.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--layout", type=click.Choice(["auto", "bioimlab", "class_folders"]), default="auto")
@click.option("--label-coding", type=click.Choice(["standard", "sras"]), default="standard")
@click.option("--cell-regex", default=None)
@clear_errors
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
@clear_errors
def synth(out, cells, male_fraction, seed):
    """Write a synthetic Q-band karyotype set (BioImLab layout) to OUT: the embedded default data."""
    from sras_keras.data.synthetic import write_synthetic_dataset

    summary = write_synthetic_dataset(out, n_cells=cells, seed=seed, male_fraction=male_fraction, progress=progress())
    click.echo(f"{out}: {summary['n_images']} images from {summary['n_cells']} synthetic cells")
