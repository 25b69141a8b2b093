"""Whole-cell karyotype assignment from per-chromosome class probabilities.

Per-image argmax can call three 5s and one 4 in a cell; a cell has two of each autosome, so the chromosomes are
assigned jointly to a karyotype's slots (a minimum-cost matching on -log p), which pushes the least likely 5 to its
next-best class. Cells that are not 46 images (lost, overlapping or extra chromosomes) are reported, not forced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import CLASS_NAMES, NUM_CLASSES, X_INDEX, Y_INDEX

AUTOSOMES = tuple(range(X_INDEX))
EXPECTED_CHROMOSOMES = 2 * len(AUTOSOMES) + 2
SEX_SLOTS = {"XX": (X_INDEX, X_INDEX), "XY": (X_INDEX, Y_INDEX)}
# The sex copy each hypothesis may add in a cell of more than 46: XX -> XXX; XY -> XXY or XYY. XXY is not offered
# to XX as well, so that it has one explanation and is reported as XY.
EXTRA_SEX_SLOTS = {"XX": (X_INDEX,), "XY": (X_INDEX, Y_INDEX)}
# A cell of 46 + k must use k extra slots anyway; the penalty only decides whether to use more than that (a third
# copy and an empty slot elsewhere), which must then explain the images 1000 times better than a misclassification.
DEFAULT_EXTRA_COPY_PENALTY = math.log(1e3)


@dataclass(frozen=True)
class ExtraCopy:
    """A class given more copies than a normal karyotype has, with the evidence: its images and their p of it."""

    class_index: int
    images: tuple[int, ...]
    probabilities: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class KaryotypeResult:
    """One cell's assignment. Per-image arrays follow the input order; ``assigned`` is -1 only for images left over
    when a cell has more images than all slots. ``sex_log_likelihood`` is the penalised log-likelihood of the best
    assignment under each sex hypothesis (higher is better)."""

    sex: str
    sex_log_likelihood: dict[str, float]
    assigned: np.ndarray
    assigned_probability: np.ndarray
    argmax: np.ndarray
    low_confidence: np.ndarray
    missing: tuple[int, ...]
    extra_copies: tuple[ExtraCopy, ...]
    flags: tuple[str, ...]

    def to_dict(self) -> dict:
        """Class names instead of indices (None for an unassigned image), so the JSON reads like a karyotype."""

        def name(index):
            return CLASS_NAMES[index] if index >= 0 else None

        return {
            "chromosomes": len(self.assigned),
            "sex": self.sex,
            "sex_log_likelihood": dict(self.sex_log_likelihood),
            "assigned": [name(int(index)) for index in self.assigned],
            "assigned_probability": [float(p) for p in self.assigned_probability],
            "argmax": [name(int(index)) for index in self.argmax],
            "low_confidence": [bool(flag) for flag in self.low_confidence],
            "missing": [name(index) for index in self.missing],
            "extra_copies": [
                {
                    "class": name(copy.class_index),
                    "images": list(copy.images),
                    "probabilities": list(copy.probabilities),
                }
                for copy in self.extra_copies
            ],
            "flags": list(self.flags),
        }


def assign_karyotype(
    probabilities: np.ndarray,
    *,
    min_probability: float = 1e-6,
    low_confidence: float = 0.5,
    extra_copy_penalty: float = DEFAULT_EXTRA_COPY_PENALTY,
) -> KaryotypeResult:
    """Assign one cell's chromosomes (rows of ``probabilities``, N x 24) to a karyotype: two slots per autosome plus
    XX or XY, whichever explains the images better; a third slot per class (penalised) when the cell has more than
    46 images. ``min_probability`` bounds the cost of any one image, so a single overconfident zero cannot veto."""
    probabilities = _checked(probabilities)
    if not 0 < min_probability <= 1:
        raise SrasError(f"min_probability must be in (0, 1], got {min_probability}")
    if not 0 <= low_confidence <= 1:
        raise SrasError(f"low_confidence must be in [0, 1], got {low_confidence}")
    if extra_copy_penalty < 0:
        raise SrasError(f"extra_copy_penalty must be >= 0, got {extra_copy_penalty}")
    costs = -np.log(np.clip(probabilities, min_probability, 1.0))
    unassigned_cost = -math.log(min_probability) + extra_copy_penalty
    solutions = {
        sex: _solve(costs, *_slots(sex, len(probabilities), extra_copy_penalty), unassigned_cost) for sex in SEX_SLOTS
    }
    sex = min(solutions, key=lambda hypothesis: solutions[hypothesis][1])  # XX on an exact tie: no evidence of Y
    assigned = solutions[sex][0]
    rows = np.arange(len(probabilities))
    assigned_probability = np.where(assigned >= 0, probabilities[rows, np.maximum(assigned, 0)], 0.0)
    argmax = probabilities.argmax(axis=1)
    doubtful = (assigned_probability < low_confidence) | (assigned != argmax)

    normal_counts = np.bincount(_normal_slots(sex), minlength=NUM_CLASSES)
    counts = np.bincount(assigned[assigned >= 0], minlength=NUM_CLASSES)
    missing = tuple(int(c) for c in range(NUM_CLASSES) for _ in range(normal_counts[c] - counts[c]))
    extra_copies = tuple(
        ExtraCopy(
            int(c),
            tuple(int(i) for i in np.flatnonzero(assigned == c)),
            tuple(float(p) for p in probabilities[assigned == c, c]),
        )
        for c in range(NUM_CLASSES)
        if counts[c] > normal_counts[c]
    )
    flags = _flags(len(assigned), counts, missing, extra_copies, int((assigned < 0).sum()), solutions)
    return KaryotypeResult(
        sex=sex,
        sex_log_likelihood={hypothesis: -float(cost) for hypothesis, (_, cost) in solutions.items()},
        assigned=_frozen(assigned),
        assigned_probability=_frozen(assigned_probability),
        argmax=_frozen(argmax),
        low_confidence=_frozen(doubtful),
        missing=missing,
        extra_copies=extra_copies,
        flags=flags,
    )


def assign_cells(
    probabilities: np.ndarray,
    cell_ids,
    *,
    min_probability: float = 1e-6,
    low_confidence: float = 0.5,
    extra_copy_penalty: float = DEFAULT_EXTRA_COPY_PENALTY,
) -> dict:
    """One karyotype per cell, in order of first appearance; a cell's result indexes its own images in their input
    order (the rows where ``cell_ids`` equals that cell)."""
    probabilities = np.asarray(probabilities)
    cell_ids = [cell.item() if isinstance(cell, np.generic) else cell for cell in cell_ids]
    if len(cell_ids) != len(probabilities):
        raise SrasError(f"{len(cell_ids)} cell ids for {len(probabilities)} rows of probabilities")
    members: dict = {}
    for row, cell in enumerate(cell_ids):
        members.setdefault(cell, []).append(row)
    return {
        cell: assign_karyotype(
            probabilities[rows],
            min_probability=min_probability,
            low_confidence=low_confidence,
            extra_copy_penalty=extra_copy_penalty,
        )
        for cell, rows in members.items()
    }


def _checked(probabilities) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES or len(probabilities) == 0:
        raise SrasError(f"expected probabilities of shape (N >= 1, {NUM_CLASSES}), got {probabilities.shape}")
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0 or probabilities.max() > 1 + 1e-6:
        raise SrasError("probabilities must be finite and within [0, 1] (softmax outputs, not logits)")
    return probabilities


def _normal_slots(sex: str) -> list[int]:
    return [c for c in AUTOSOMES for _ in range(2)] + list(SEX_SLOTS[sex])


def _slots(sex: str, images: int, extra_copy_penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """Class of each slot and its penalty; the extra slots exist only for cells of more than 46 images."""
    normal = _normal_slots(sex)
    extra = list(AUTOSOMES) + list(EXTRA_SEX_SLOTS[sex]) if images > EXPECTED_CHROMOSOMES else []
    penalties = [0.0] * len(normal) + [extra_copy_penalty] * len(extra)
    return np.array(normal + extra), np.array(penalties)


def _solve(costs, slot_classes, slot_penalties, unassigned_cost) -> tuple[np.ndarray, float]:
    """Minimum-cost matching of images to slots. Images beyond all slots go to 'unassigned' columns at the worst
    cost a slot can have, so hypotheses with different slot counts stay comparable."""
    matrix = costs[:, slot_classes] + slot_penalties
    overflow = max(0, len(costs) - len(slot_classes))
    matrix = np.hstack([matrix, np.full((len(costs), overflow), unassigned_cost)])
    rows, columns = linear_sum_assignment(matrix)
    assigned = np.full(len(costs), -1)
    real = columns < len(slot_classes)
    assigned[rows[real]] = slot_classes[columns[real]]
    return assigned, float(matrix[rows, columns].sum())


def _flags(images, counts, missing, extra_copies, unassigned, solutions) -> tuple[str, ...]:
    flags = []
    if images != EXPECTED_CHROMOSOMES:
        flags.append(f"{images} chromosomes (expected {EXPECTED_CHROMOSOMES})")
    sex_chromosomes = "X" * counts[X_INDEX] + "Y" * counts[Y_INDEX]
    for copy in extra_copies:
        name = CLASS_NAMES[copy.class_index]
        call = f"possible trisomy {name}" if len(copy.images) == 3 else f"possible extra {name} ({sex_chromosomes})"
        evidence = ", ".join(f"{p:.2f}" for p in copy.probabilities)
        flags.append(f"{call} (images {', '.join(map(str, copy.images))}: p={evidence})")
    if missing:
        flags.append("missing: " + ", ".join(CLASS_NAMES[c] for c in missing))
    if unassigned:
        flags.append(f"{unassigned} images unassigned (more than all slots)")
    if math.isclose(solutions["XX"][1], solutions["XY"][1], rel_tol=0, abs_tol=1e-9):
        flags.append("sex undetermined: XX and XY explain the images equally well")
    return tuple(flags)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.setflags(write=False)
    return array
