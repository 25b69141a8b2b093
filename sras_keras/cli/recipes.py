"""`sras cv` and `sras report`: named experiments (recipes) run, and their tables written."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sras_keras.cli.common import clear_errors, progress
from sras_keras.core.errors import SrasError


@click.group()
def cv():
    """Named experiments (paper tables): list them, run one."""


@cv.command("list")
def cv_list():
    """The registered recipes, with the first line of each docstring."""
    from sras_keras.experiments.registry import recipe_doc, recipe_names

    for name in recipe_names():
        click.echo(f"{name:<20} {recipe_doc(name).splitlines()[0]}")


@cv.command("run")
@click.option("--recipe", "name", required=True, help="A recipe name (sras cv list) or a recipe file (PATH.py).")
@click.option(
    "--config",
    "config_name",
    type=click.Choice(["cpu", "paper"]),
    default="cpu",
    help="cpu: what finishes on 2 cores; paper: the papers' setting (GPU jobs; without a GPU it wants --yes).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.FIELD=VALUE",
    help="Change a field of every row, e.g. --set train.epochs=5 --set convert.image_size=96.",
)
@click.option("--rows", default=None, help="Comma-separated row names: run only these (one job per row).")
@click.option(
    "--only-folds",
    "folds",
    default=None,
    help="Comma-separated folds of K-fold rows: run only these (one job per fold).",
)
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder holding the data sets. Default: $SRAS_DATA_DIR or ../shared/data.",
)
@click.option("--runs", type=click.Path(file_okay=False), default="runs", show_default=True)
@click.option("--tfrecords", type=click.Path(file_okay=False), default="tfrecords", show_default=True)
@click.option(
    "--results",
    type=click.Path(file_okay=False),
    default="results",
    show_default=True,
    help="Where analysis recipes (tl_table1, tl_fig2, tl_fig3) write their tables.",
)
@click.option("--dry-run", is_flag=True, help="Print the rows and their configs, run nothing.")
@click.option("--yes", is_flag=True, help="Run --config paper (GPU jobs) even on a machine without a GPU.")
@clear_errors
def cv_run(name, config_name, overrides, rows, folds, data_root, runs, tfrecords, results, dry_run, yes):
    """Run recipe NAME: convert the data its rows need, train and evaluate every row (or run an analysis)."""

    from sras_keras.experiments.registry import get_recipe
    from sras_keras.experiments.runner import run_experiment
    from sras_keras.experiments.spec import Analysis, apply_overrides

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
        run_dir = experiment.run(
            experiment.params, data_root, Path(runs), Path(results), log=lambda line: click.echo(line, err=True)
        )
        click.echo((Path(results) / f"{experiment.name}.md").read_text())
        click.echo(f"{run_dir}: done")
        return
    if dry_run:
        for row in experiment.rows:
            click.echo(f"{row.name}: {row.label} | {row.protocol} | sr={row.sr} | {row.convert} | {row.train}")
        return
    row_list = [r.strip() for r in rows.split(",")] if rows else None
    fold_list = _int_list(folds, "--only-folds") if folds else None
    if config_name == "paper" and not yes:
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            _refuse_paper_on_cpu(experiment, row_list, fold_list)
    run_dir = run_experiment(
        experiment,
        data_root,
        Path(runs),
        Path(tfrecords),
        row_list,
        log=lambda line: click.echo(line, err=True),
        progress=progress(),
        folds=fold_list,
    )
    click.echo(f"{run_dir}: done; `sras report table --recipe {experiment.name}` aggregates it")


def _refuse_paper_on_cpu(experiment, rows: list[str] | None, folds: list[int] | None) -> None:
    """Say what --config paper would start, and stop: its jobs are sized for GPUs, and started on a CPU by mistake
    they would hold the machine for an unknown, long time."""
    chosen = [row for row in experiment.rows if rows is None or row.name in rows]
    click.echo(
        f"sras cv run --config paper would start these GPU jobs of {experiment.name}, here without a GPU:", err=True
    )
    caps = []
    sr_splits = {(row.source, row.convert.split) for row in chosen if row.sr}  # one SR model each, unless cached
    if sr_splits:
        sr = experiment.sr_train
        click.echo(
            f"  first SRAFBN super-resolution for the SR rows: {len(sr_splits)} model(s), {sr.preset}, "
            f"{sr.epochs} epochs",
            err=True,
        )
        caps += [sr.max_minutes] * len(sr_splits)
    for row in chosen:
        row_folds = [k for k in row.folds if folds is None or k in folds] if row.folds else [None]
        click.echo(
            f"  {row.name}: {row.train.model.backbone} at {row.convert.image_size} px, "
            f"{row.train.optimization.epochs} epochs" + (f", folds {row_folds}" if row.folds else ""),
            err=True,
        )
        caps += [row.train.runtime.max_minutes] * len(row_folds)
    if caps and None not in caps:
        estimate = f"about {sum(caps):g} min of training (each job's max_minutes), data conversion on top"
    else:
        estimate = "none known: the paper config is sized for GPUs and was never timed on a CPU"
    click.echo(f"CPU time: {estimate}.", err=True)
    raise SrasError("no GPU found: add --yes to start it on the CPU anyway, or use --config cpu")


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(item) for item in text.split(",")]
    except ValueError:
        raise SrasError(f"{option} {text!r}: expected comma-separated integers, e.g. 0,1") from None


@click.group()
def report():
    """Tables from finished runs."""


@report.command("table")
@click.option(
    "--recipe", "name", required=True, help="A recipe name (sras cv list) or a recipe file (PATH.py), as cv run's."
)
@click.option("--runs", type=click.Path(file_okay=False), default="runs", show_default=True)
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True)
@clear_errors
def report_table_command(name, runs, results):
    """Write RESULTS/NAME.md and .csv from the newest finished run of every row of recipe NAME (an analysis
    recipe writes its table when it runs: this shows it)."""

    from sras_keras.experiments.registry import get_recipe, recipe_name, recipe_names
    from sras_keras.experiments.report import report_table
    from sras_keras.experiments.spec import Analysis

    if name.endswith(".py"):  # a recipe file: its runs are under the name it registers
        name = recipe_name(name)
    if name in recipe_names() and isinstance(get_recipe(name), Analysis):
        path = Path(results) / f"{name}.md"
        if not path.exists():
            raise SrasError(
                f"{path}: not written yet; analysis recipes write it when run (sras cv run --recipe {name})"
            )
    else:
        path = report_table(Path(runs), name, Path(results), get_recipe(name) if name in recipe_names() else None)
    click.echo(path.read_text())


@report.command("check")
@click.option("--results", type=click.Path(file_okay=False), default="results", show_default=True)
@clear_errors
def report_check_command(results):
    """Recompute every number in RESULTS from the run files committed under RESULTS/runs: each run's metrics from
    its predictions, each results file written again from its runs; fail on any difference, on a results table
    without its runs, and on a machine path."""
    from sras_keras.experiments.audit import check_or_fail

    check_or_fail(Path(results), log=click.echo)
    click.echo(f"{results}: every number agrees with its committed runs")
