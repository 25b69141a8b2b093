"""The ``sras`` command line: one module per command group, each of which parses, calls the library and prints.

Commands import TensorFlow and the library inside their bodies, so ``sras --help`` answers at once.
"""

from __future__ import annotations

import os

import click

from sras_keras import __version__
from sras_keras.cli import data, predict, recipes, sr, train, weights

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="sras")
def main():
    """sras-keras: SRAS-net and two-step transfer learning for chromosome classification."""


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
    weights.models,
):
    main.add_command(command)
