import json

import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import NUM_CLASSES, X_INDEX, Y_INDEX
from sras_keras.inference.karyotype import assign_cells, assign_karyotype

CHR4, CHR5, CHR7, CHR21 = 3, 4, 6, 20


def cell_labels(sex: str) -> np.ndarray:
    autosomes = [c for c in range(X_INDEX) for _ in range(2)]
    return np.array(autosomes + ([X_INDEX, X_INDEX] if sex == "XX" else [X_INDEX, Y_INDEX]))


def noisy_probabilities(labels, seed: int, signal: float = 4.0) -> np.ndarray:
    """Softmax of Gaussian logits with the true class raised by ``signal``: mostly right, some confusions."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (len(labels), NUM_CLASSES))
    logits[np.arange(len(labels)), labels] += signal
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


@pytest.mark.parametrize("seed", range(3))
def test_normal_cell_fills_every_slot_once(seed):
    result = assign_karyotype(noisy_probabilities(cell_labels("XX"), seed, signal=2.5))
    counts = np.bincount(result.assigned, minlength=NUM_CLASSES)
    assert (counts[:X_INDEX] == 2).all() and counts[X_INDEX] == 2 and counts[Y_INDEX] == 0
    assert result.sex == "XX" and result.missing == () and result.flags == ()


def test_planted_confusion_is_resolved_by_slot_counts():
    labels = cell_labels("XY")
    probabilities = np.full((len(labels), NUM_CLASSES), 0.1 / (NUM_CLASSES - 1))
    probabilities[np.arange(len(labels)), labels] = 0.9
    confused = np.flatnonzero(labels == CHR4)[0]
    probabilities[confused] = 0.1 / (NUM_CLASSES - 2)
    probabilities[confused, [CHR5, CHR4]] = 0.6, 0.3  # argmax: three 5s and one 4
    result = assign_karyotype(probabilities)
    assert np.bincount(result.argmax, minlength=NUM_CLASSES)[CHR5] == 3
    assert (result.assigned == labels).all() and (result.argmax != labels).sum() == 1
    assert result.low_confidence[confused] and result.low_confidence.sum() == 1


@pytest.mark.parametrize("seed", range(5))
def test_assignment_at_least_as_accurate_as_argmax(seed):
    labels = cell_labels("XY" if seed % 2 else "XX")
    probabilities = noisy_probabilities(labels, seed, signal=2.0)
    result = assign_karyotype(probabilities)
    assert (result.assigned == labels).mean() >= (result.argmax == labels).mean()


@pytest.mark.parametrize("sex", ["XX", "XY"])
@pytest.mark.parametrize("seed", range(3))
def test_sex_inference(sex, seed):
    result = assign_karyotype(noisy_probabilities(cell_labels(sex), seed))
    assert result.sex == sex
    other = "XY" if sex == "XX" else "XX"
    assert result.sex_log_likelihood[sex] > result.sex_log_likelihood[other]


def test_missing_chromosome_is_reported():
    labels = cell_labels("XY")
    labels = np.delete(labels, np.flatnonzero(labels == CHR7)[0])
    result = assign_karyotype(noisy_probabilities(labels, 0))
    assert result.missing == (CHR7,) and result.sex == "XY"
    assert (result.assigned == labels).all()
    assert "45 chromosomes (expected 46)" in result.flags and "missing: 7" in result.flags


@pytest.mark.parametrize("seed", range(3))
def test_trisomy_21_is_flagged_with_its_evidence(seed):
    labels = np.append(cell_labels("XX"), CHR21)
    probabilities = noisy_probabilities(labels, seed, signal=6.0)
    result = assign_karyotype(probabilities)
    assert (result.assigned >= 0).all() and (result.assigned == labels).all()
    assert result.missing == () and result.sex == "XX"
    (extra,) = result.extra_copies
    assert extra.class_index == CHR21 and extra.images == tuple(np.flatnonzero(labels == CHR21))
    assert extra.probabilities == pytest.approx(probabilities[list(extra.images), CHR21])
    assert result.flags[0] == "47 chromosomes (expected 46)"
    assert result.flags[1].startswith(f"possible trisomy 21 (images {', '.join(map(str, extra.images))}: p=")


def test_extra_x_in_a_male_cell_reads_xxy():
    labels = np.append(cell_labels("XY"), X_INDEX)
    result = assign_karyotype(noisy_probabilities(labels, 2, signal=6.0))
    assert result.sex == "XY" and (result.assigned == labels).all()
    assert any(flag.startswith("possible extra X (XXY)") for flag in result.flags)


def test_images_beyond_all_slots_stay_unassigned():
    labels = np.concatenate([np.repeat(np.arange(NUM_CLASSES), 3), [0, 1]])  # 74 images, at most 70 slots
    result = assign_karyotype(noisy_probabilities(labels, 0))
    assert (result.assigned == -1).sum() == len(labels) - 70
    assert result.low_confidence[result.assigned == -1].all()
    assert f"{len(labels) - 70} images unassigned (more than all slots)" in result.flags


def test_to_dict_is_json():
    labels = np.append(cell_labels("XY"), CHR21)
    document = json.loads(json.dumps(assign_karyotype(noisy_probabilities(labels, 0, signal=6.0)).to_dict()))
    assert document["chromosomes"] == 47 and document["sex"] == "XY" and document["missing"] == []
    assert document["extra_copies"][0]["class"] == "21" and document["assigned"][-2:] == ["Y", "21"]


def test_assign_cells_groups_by_cell():
    male, female = cell_labels("XY"), cell_labels("XX")
    probabilities = np.concatenate([noisy_probabilities(male, 0), noisy_probabilities(female, 1)])
    cell_ids = np.array(["m"] * len(male) + ["f"] * len(female))
    order = np.random.default_rng(0).permutation(len(cell_ids))
    results = assign_cells(probabilities[order], cell_ids[order])
    assert set(results) == {"m", "f"}
    assert results["m"].sex == "XY" and results["f"].sex == "XX"
    in_male_order = np.concatenate([male, female])[order][cell_ids[order] == "m"]
    assert (results["m"].assigned == in_male_order).all()


@pytest.mark.parametrize(
    "probabilities", [np.zeros((0, NUM_CLASSES)), np.full((46, 23), 0.04), np.full((46, NUM_CLASSES), 2.0)]
)
def test_bad_probabilities_are_refused(probabilities):
    with pytest.raises(SrasError):
        assign_karyotype(probabilities)


def test_result_arrays_are_read_only():
    result = assign_karyotype(noisy_probabilities(cell_labels("XX"), 0))
    with pytest.raises(ValueError):
        result.assigned[0] = 5


def test_single_x_cell_leaves_sex_open():
    labels = cell_labels("XX")[:-1]
    result = assign_karyotype(noisy_probabilities(labels, 0, signal=6.0))
    assert result.sex == "XX" and result.missing == (X_INDEX,)
    assert result.sex_log_likelihood["XX"] == pytest.approx(result.sex_log_likelihood["XY"])
    assert "sex undetermined: XX and XY explain the images equally well" in result.flags
