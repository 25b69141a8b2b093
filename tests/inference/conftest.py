"""A run whose training data was made from SRAFBN-upscaled images, for the SR step of the prediction path."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from sras_keras.configs.records import Manifest, RunData, SRApply, read_record, write_record
from sras_keras.core.provenance import environment
from sras_keras.core.run_files import DATA, FINAL, RUN_CONFIG
from sras_keras.models import SRAFBN


def upscaled_copy(tiny_run: Path, root: Path) -> Path:
    """``tiny_run``'s model and records in ``root``, its dataset's source marked as upscaled (``sr_apply.json``) by an
    untrained tiny SRAFBN: ``root/run``, ``root/data``, ``root/srafbn.keras``. The run folder has no
    ``preprocessing.json``, as one trained before it: its chain is read from ``root/data``."""
    root.mkdir(parents=True, exist_ok=True)
    model = SRAFBN.from_preset("tiny", mean=0.5)
    model(np.zeros((1, 8, 8, 1), np.float32))  # build the weights
    model.save(root / "srafbn.keras")
    (root / "upscaled").mkdir()
    marked = SRApply(str(root / "srafbn.keras"), 2, str(tiny_run / "data"), 0, 0.0, 0.0, environment())
    write_record(root / "upscaled", marked)
    shutil.copytree(tiny_run / "data", root / "data")
    manifest = read_record(Manifest, root / "data")
    source = dataclasses.replace(manifest.source, root=str(root / "upscaled"))
    write_record(root / "data", dataclasses.replace(manifest, source=source))
    (root / "run").mkdir()
    for name in (RUN_CONFIG, DATA, FINAL):
        shutil.copy(tiny_run / "run" / name, root / "run" / name)
    data = read_record(RunData, root / "run")
    write_record(root / "run", dataclasses.replace(data, data_dir=str(root / "data")))
    return root


@pytest.fixture(scope="session")
def sr_run(tiny_run, tmp_path_factory):
    """``upscaled_copy`` of ``tiny_run``: the SR step's numbers, not the accuracy, are what the tests look at."""
    return upscaled_copy(tiny_run, tmp_path_factory.mktemp("sr-run"))
