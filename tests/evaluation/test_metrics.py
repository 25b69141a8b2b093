import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from sras_keras.evaluation.metrics import classification_metrics


@pytest.fixture
def known():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(24), 5)
    logits = rng.normal(0, 1, (len(labels), 24))
    logits[np.arange(len(labels)), labels] += 2.5  # mostly right, some confusions
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probabilities


def test_matches_scikit_learn(known):
    labels, probabilities = known
    metrics = classification_metrics(labels, probabilities)
    predictions = probabilities.argmax(1)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, predictions, average="macro"))
    assert metrics["auc_ovr"] == pytest.approx(roc_auc_score(labels, probabilities, multi_class="ovr"))
    assert 0.3 < metrics["accuracy"] < 1.0


def test_per_class_table(known):
    labels, probabilities = known
    metrics = classification_metrics(labels, probabilities)
    recalls = [row["recall"] for row in metrics["per_class"].values()]
    assert np.mean(recalls) == pytest.approx(metrics["accuracy"])  # balanced classes: mean recall = accuracy
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == len(labels) and np.trace(matrix) == round(metrics["accuracy"] * len(labels))
    x = metrics["per_class"]["X"]
    tp = matrix[22, 22]
    assert x["precision"] == pytest.approx(tp / matrix[:, 22].sum())
    assert x["binary_accuracy"] == pytest.approx(
        (len(labels) - matrix[:, 22].sum() - matrix[22].sum() + 2 * tp) / len(labels)
    )


def test_perfect_predictions():
    labels = np.arange(24)
    metrics = classification_metrics(labels, np.eye(24))
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0 and metrics["auc_ovr"] == 1.0
