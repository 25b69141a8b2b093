"""Classification metrics in the papers' terms: accuracy, macro-F1, one-vs-rest AUC and SRAS-net's Table 4. Every
report, the size-evidence fit and the bootstrap compute macro-F1 with ``macro_f1`` here.

Table 4's per-class "Acc." column averages to the overall 97.55%, so it is a per-class hit rate, TP / class
size, i.e. recall; the paper's eq. 18, (TP + TN) / all, would put every class near 99%. (The table's own Recall
column disagrees with its Acc. column for some classes: the paper is inconsistent there.) Both are given:
``recall`` (Table 4's Acc.) and ``binary_accuracy`` (eq. 18).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

from sras_keras.core.errors import SrasError
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
        "macro_f1": macro_f1(labels, predictions, labels=present),
        "auc_ovr": auc,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def macro_f1(y_true, y_pred, labels=None) -> float:
    """Macro-F1, equal to ``sklearn.metrics.f1_score(average='macro', zero_division=0)`` without sklearn's cost.

    Classes default to those in ``y_true`` or ``y_pred``; a listed class that never occurs scores 0, and a
    prediction outside ``labels`` still counts as a miss of its true class.
    """
    y_true, y_pred = check_paired(y_true, y_pred)
    listed = np.asarray([] if labels is None else labels, dtype=np.result_type(y_true, y_pred))
    classes, codes = np.unique(np.concatenate([listed, y_true, y_pred]), return_inverse=True)
    true_codes, pred_codes = codes[len(listed) : len(listed) + len(y_true)], codes[len(listed) + len(y_true) :]
    hits = np.bincount(true_codes[true_codes == pred_codes], minlength=len(classes))
    # 2 TP + FP + FN = (TP + FN) + (TP + FP)
    denominators = np.bincount(true_codes, minlength=len(classes)) + np.bincount(pred_codes, minlength=len(classes))
    f1 = np.divide(2 * hits, denominators, out=np.zeros(len(classes)), where=denominators > 0)
    scored = f1 if labels is None else f1[np.searchsorted(classes, listed)]
    return float(scored.mean())


def check_paired(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as equal-length, non-empty 1-D arrays; anything else is one clear error."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or len(y_true) == 0:
        raise SrasError(
            f"labels and predictions must be equal-length, non-empty 1-D, got {y_true.shape} and {y_pred.shape}"
        )
    return y_true, y_pred
