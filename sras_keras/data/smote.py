"""SMOTE for chromosome images (SRAS-net section 3.4): synthesise X and Y until they match the largest class.

imbalanced-learn's SMOTE on flattened, same-shape images (after SR and IAM, so blends of two aligned
chromosomes stay chromosome-like), raising each chosen class to the largest class count of the set it is given
(the paper's eq. 16: eta = (|S_max| - |S_min|) / |S_min| synthetic samples per minority sample). Give it the
training split only. Every synthetic image comes with its two parents and its blend step, so it can be traced.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
from imblearn.over_sampling import SMOTE

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import CLASS_NAMES, X_INDEX, Y_INDEX


@dataclasses.dataclass(frozen=True)
class SmoteResult:
    images: np.ndarray  # (m, H, W) uint8, synthetic only
    labels: np.ndarray  # (m,)
    parents: np.ndarray  # (m, 2) indices into the input: image = parent0 + step * (parent1 - parent0)
    steps: np.ndarray  # (m,)


def _traced_smote(**kwargs):
    """imbalanced-learn's SMOTE, recording the parents and step of each sample it generates."""

    class TracedSMOTE(SMOTE):
        def fit_resample(self, X, y):
            self.fit_labels_ = np.asarray(y)
            self.trace_ = []
            return super().fit_resample(X, y)

        def _generate_samples(self, X, nn_data, nn_num, rows, cols, steps, y_type=None, y=None):
            members = np.flatnonzero(self.fit_labels_ == y_type)  # SMOTE fits each class on X[y == class]
            self.trace_.append((members[rows], members[nn_num[rows, cols]], steps[:, 0]))
            return super()._generate_samples(X, nn_data, nn_num, rows, cols, steps, y_type, y)

    return TracedSMOTE(**kwargs)


def smote_images(
    images: np.ndarray, labels: np.ndarray, classes=(X_INDEX, Y_INDEX), seed: int = 0, k_neighbors: int = 5
) -> SmoteResult:
    """Synthetic images raising ``classes`` to the largest class count of ``labels``; deterministic by seed."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or len(images) != len(labels):
        raise SrasError(f"SMOTE needs same-shape images (n, H, W) and n labels, got {images.shape} and {labels.shape}")
    counts = collections.Counter(labels.tolist())
    target = max(counts.values())
    for label in classes:
        if counts.get(label, 0) < 2:
            raise SrasError(
                f"SMOTE cannot synthesise class {CLASS_NAMES[label]}: the training split holds "
                f"{counts.get(label, 0)} image(s) of it, and SMOTE needs at least 2"
            )
    strategy = {label: target for label in classes if counts[label] < target}
    empty = SmoteResult(images[:0], labels[:0], np.zeros((0, 2), int), np.zeros(0, np.float32))
    if not strategy:
        return empty
    k = min(k_neighbors, min(counts[label] for label in strategy) - 1)
    smote = _traced_smote(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    flat = images.reshape(len(images), -1).astype(np.float32)
    resampled, new_labels = smote.fit_resample(flat, labels)
    synthetic = resampled[len(images) :]
    first, second, steps = (np.concatenate(parts) for parts in zip(*smote.trace_))
    return SmoteResult(
        images=np.clip(np.round(synthetic), 0, 255).astype(np.uint8).reshape(-1, *images.shape[1:]),
        labels=new_labels[len(images) :],
        parents=np.stack([first, second], axis=1),
        steps=steps.astype(np.float32),
    )
