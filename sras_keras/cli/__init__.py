"""The ``sras`` command line: one module per command group, each of which parses, calls the library and prints.

Commands import TensorFlow and the library inside their bodies, so ``sras --help`` answers at once.
"""

from __future__ import annotations

import os

import click

from sras_keras import __version__
from sras_keras.cli import data, models, predict, recipes, sr, train, weights
from sras_keras.cli.common import quiet_tensorflow


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="sras")
@click.option(
    "--verbose",
    is_flag=True,
    help="Also show TensorFlow's own start-up and info log on stderr (oneDNN, CUDA, CPU instructions).",
)
def main(verbose):
    """sras-keras: SRAS-net and two-step transfer learning for chromosome classification."""
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    else:
        quiet_tensorflow()


for command in (
    data.data,
    sr.sr,
    train.train,
    train.evaluate,
    predict.predict,
    predict.size_evidence_command,
    predict.export,
    recipes.cv,
    recipes.report,
    weights.weights,
    models.models,
):
    main.add_command(command)
