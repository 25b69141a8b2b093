"""Classification metrics in the papers' terms: accuracy, macro-F1, one-vs-rest AUC and SRAS-net's Table 4.

Table 4's per-class "Acc." column averages to the overall 97.55%, so it is a per-class hit rate, TP / class
size, i.e. recall; the paper's eq. 18, (TP + TN) / all, would put every class near 99%. (The table's own Recall
column disagrees with its Acc. column for some classes: the paper is inconsistent there.) Both are given:
``recall`` (Table 4's Acc.) and ``binary_accuracy`` (eq. 18).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

from sras_keras.data.labels import CLASS_NAMES, NUM_CLASSES


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Overall and per-class metrics for integer ``labels`` (n,) and class ``probabilities`` (n, 24)."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predictions = probabilities.argmax(axis=1)
    classes = np.arange(NUM_CLASSES)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    matrix = confusion_matrix(labels, predictions, labels=classes)
    total = matrix.sum()
    present = np.unique(labels)
    auc = (
        float(
            roc_auc_score(
                labels,
                probabilities[:, present] / probabilities[:, present].sum(1, keepdims=True),
                multi_class="ovr",
                average="macro",
                labels=present,
            )
        )
        if len(present) > 2
        else float("nan")
    )
    per_class = {}
    for index, name in enumerate(CLASS_NAMES):
        tp = matrix[index, index]
        fp = matrix[:, index].sum() - tp
        fn = matrix[index].sum() - tp
        per_class[name] = {
            "support": int(support[index]),
            "recall": float(recall[index]),
            "precision": float(precision[index]),
            "f1": float(f1[index]),
            "binary_accuracy": float((total - fp - fn) / total) if total else float("nan"),
        }
    return {
        "images": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, labels=present, average="macro", zero_division=0)),
        "auc_ovr": auc,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }
