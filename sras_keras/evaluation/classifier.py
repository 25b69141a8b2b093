"""``sras evaluate RUN``: a trained classifier on its test part, once: ``predictions.csv``, ``metrics.json`` and the
figures (confusion matrix in karyotype order as Fig 7, t-SNE of penultimate features as Fig 8)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

from sras_keras.configs.records import (
    ClassifierMetrics,
    RunData,
    Splits,
    SRApply,
    TrainingState,
    read_config,
    read_record,
    write_record,
)
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import DATA, PREDICTIONS, SR_APPLY, STATE
from sras_keras.evaluation.figures import confusion_matrix_figure, tsne_figure
from sras_keras.evaluation.metrics import classification_metrics
from sras_keras.inference.outputs import write_predictions
from sras_keras.inference.predict import predict
from sras_keras.inference.predictor import Predictor, predict_records

TSNE_MAX_POINTS = 3000


def evaluate_run(run_dir, model: keras.Model | None = None) -> ClassifierMetrics:
    """Score a training run's model (``model``, else its ``model.keras``) on its test part through the one
    prediction path (``inference.predictor``); writes predictions.csv, metrics.json and the figures."""
    run_dir = Path(run_dir)
    if not (run_dir / DATA).exists():
        raise SrasError(f"{run_dir}: not a training run (no {DATA})")
    config = read_config(TrainConfig, run_dir)
    predictor = Predictor(run_dir, model)
    data = predictor.run_data
    images, probabilities, features = predict_records(predictor, Path(data.data_dir), [data.test], with_features=True)
    labels = np.array([image.label for image in images])
    state = read_record(TrainingState, run_dir) if (run_dir / STATE).exists() else None
    early_stopping = state.early_stopping if state else None
    metrics = ClassifierMetrics(
        **classification_metrics(labels, probabilities),
        protocol=data.protocol,
        test_part=data.test,
        selected_on=data.val,
        checkpoint_selected_on_test_set=data.val == data.test,
        synthetic_test_images=int(sum(image.synthetic for image in images)),
        best_epoch=early_stopping.best_epoch if early_stopping else None,
        epochs_trained=state.epoch if state else None,
        backbone=config.model.backbone,
        weights=config.model.weights,
        seed=config.runtime.seed,
    )
    write_predictions(run_dir / PREDICTIONS, images, probabilities)
    write_record(run_dir, metrics)
    title = f"{config.model.backbone} ({data.protocol} protocol)"
    confusion_matrix_figure(metrics.confusion_matrix, run_dir / "figures" / "confusion_matrix.png", title)
    keep = np.random.default_rng(config.runtime.seed).permutation(len(labels))[:TSNE_MAX_POINTS]
    tsne_figure(features[keep], labels[keep], run_dir / "figures" / "tsne.png", seed=config.runtime.seed, title=title)
    return metrics


def held_out_karyogram(run_dir) -> Path | None:
    """``figures/karyogram.png``: the run's first held-out cell (by id), its images read again from the source tree
    and assigned to the 46 slots as ``sras predict --karyotype`` does, so a results page shows a whole cell and
    not only scores. None where the test part holds no whole cell of real images."""
    run_dir = Path(run_dir)
    data = read_record(RunData, run_dir)
    splits = read_record(Splits, Path(data.data_dir))
    test = [image for image in splits.images if image.part == data.test and not image.synthetic]
    if not test or splits.config.scheme == "paper":  # an image-level split leaves only pieces of cells
        return None
    root = Path(splits.source.root)
    if (root / SR_APPLY).is_file():  # an upscaled tree: the originals, which the run's predictor upscales itself
        root = Path(read_record(SRApply, root).source)
    cell = min(image.cell_id for image in test)
    files = [root / image.path for image in test if image.cell_id == cell]
    with tempfile.TemporaryDirectory() as temporary:
        out = Path(temporary) / "predicted"
        predict(str(run_dir), files, out, karyotype=True, cell_regex=splits.source.cell_regex, layout="files")
        [karyogram] = sorted((out / "karyograms").glob("*.png"))
        (run_dir / "figures").mkdir(exist_ok=True)
        return Path(shutil.copyfile(karyogram, run_dir / "figures" / "karyogram.png"))
