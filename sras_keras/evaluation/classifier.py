"""``sras evaluate RUN``: a trained classifier on its test part, once: ``predictions.csv``, ``metrics.json`` and the
figures (confusion matrix in karyotype order as Fig 7, t-SNE of penultimate features as Fig 8)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np

from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, write_json_atomic
from sras_keras.core.run_files import FINAL, STATE
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.pipeline import make_dataset
from sras_keras.evaluation.figures import confusion_matrix_figure, tsne_figure
from sras_keras.evaluation.metrics import classification_metrics
from sras_keras.models.heads import FEATURES_LAYER
from sras_keras.models.saving import load_classifier

TSNE_MAX_POINTS = 3000


def predict_part(model: keras.Model, data_dir, part: str, batch_size: int = 64):
    """(probabilities, features, metadata rows) over every original image of ``part``, in a fixed order."""
    combined = keras.Model(model.inputs, [model.output, model.get_layer(FEATURES_LAYER).output])
    dataset = make_dataset(
        data_dir, part, batch_size=batch_size, rotations=False, synthetic=False, with_metadata=True, autotune=False
    )
    probabilities, features, rows = [], [], []
    for images, labels, meta in dataset:
        probs, feats = combined(images, training=False)
        probabilities.append(np.asarray(probs))
        features.append(np.asarray(feats))
        for i, label in enumerate(labels.numpy()):
            rows.append(
                {
                    "source_path": meta["source_path"][i].numpy().decode(),
                    "cell_id": meta["cell_id"][i].numpy().decode(),
                    "synthetic": int(meta["synthetic"][i]),
                    "label": int(label),
                }
            )
    return np.concatenate(probabilities), np.concatenate(features), rows


def _write_predictions(path: Path, probabilities: np.ndarray, rows: list[dict]) -> None:
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "source_path",
                "cell_id",
                "synthetic",
                "true",
                "predicted",
                "p_predicted",
                "top2",
                "p_top2",
                "top3",
                "p_top3",
            ]
        )
        for row, probs in zip(rows, probabilities):
            top = np.argsort(-probs)[:3]
            writer.writerow(
                [
                    row["source_path"],
                    row["cell_id"],
                    row["synthetic"],
                    CLASS_NAMES[row["label"]],
                    CLASS_NAMES[top[0]],
                    f"{probs[top[0]]:.6f}",
                    CLASS_NAMES[top[1]],
                    f"{probs[top[1]]:.6f}",
                    CLASS_NAMES[top[2]],
                    f"{probs[top[2]]:.6f}",
                ]
            )


def evaluate_run(run_dir, model: keras.Model | None = None) -> dict:
    run_dir = Path(run_dir)
    if not (run_dir / "data.json").exists():
        raise SrasError(f"{run_dir}: not a training run (no data.json)")
    data = json.loads((run_dir / "data.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    model = model or load_classifier(run_dir / FINAL)
    probabilities, features, rows = predict_part(model, data["data_dir"], data["test"])
    labels = np.array([row["label"] for row in rows])
    metrics = classification_metrics(labels, probabilities)
    state = json.loads((run_dir / STATE).read_text()) if (run_dir / STATE).exists() else {}
    metrics.update(
        {
            "protocol": data["protocol"],
            "test_part": data["test"],
            "selected_on": data["val"],
            "checkpoint_selected_on_test_set": data["val"] == data["test"],
            "synthetic_test_images": int(sum(row["synthetic"] for row in rows)),
            "best_epoch": state.get("best_epoch"),
            "epochs_trained": state.get("epoch"),
            "backbone": config["backbone"],
            "weights": config["weights"],
            "seed": config["seed"],
        }
    )
    _write_predictions(run_dir / "predictions.csv", probabilities, rows)
    write_json_atomic(run_dir / "metrics.json", metrics)
    title = f"{config['backbone']} ({data['protocol']} protocol)"
    confusion_matrix_figure(metrics["confusion_matrix"], run_dir / "figures" / "confusion_matrix.png", title)
    keep = np.random.default_rng(config["seed"]).permutation(len(labels))[:TSNE_MAX_POINTS]
    tsne_figure(features[keep], labels[keep], run_dir / "figures" / "tsne.png", seed=config["seed"], title=title)
    return metrics
