"""`sras predict` on a tiny trained run: every input kind, karyotypes and karyograms, bad input."""

import csv
import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sras_keras.cli import main
from sras_keras.configs.convert import SplitConfig
from sras_keras.configs.records import RunData, write_record
from sras_keras.core.errors import SrasError
from sras_keras.data.labels import NUM_CLASSES, X_INDEX, Y_INDEX
from sras_keras.inference.inputs import InputImage, gather_inputs
from sras_keras.inference.karyotype import assign_cells
from sras_keras.inference.outputs import csv_text, from_csv_text, read_predictions, summarise
from sras_keras.inference.predict import predict
from sras_keras.inference.views import with_mirror_view
from tests.conftest import top1_predictions


def test_cell_folders_with_karyotypes(tiny_run, tmp_path):
    cells = [tiny_run / "source" / name for name in ("1", "2")]
    summary = predict(tiny_run / "run", cells, tmp_path, karyotype=True)
    assert summary["images"] == 92 and summary["cells"] == 2 and summary["skipped"] == 0
    assert 0 <= summary["accuracy_argmax"] <= 1 and 0 <= summary["accuracy_assigned"] <= 1
    assert summary["sex_cells"] == 2
    with open(tmp_path / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 92 and {row["cell_id"] for row in rows} == {"1", "2"}
    probabilities = [float(row["p_top1"]) for row in rows]
    assert all(float(row["p_top1"]) >= float(row["p_top2"]) >= float(row["p_top3"]) for row in rows)
    assert 0 < min(probabilities) and max(probabilities) <= 1
    karyotypes = json.loads((tmp_path / "karyotypes.json").read_text())
    for cell in ("1", "2"):
        assigned = karyotypes[cell]["assigned"]
        assert len(assigned) == 46 and max(assigned.count(str(c)) for c in range(1, 23)) == 2
        assert karyotypes[cell]["sex"] in ("XX", "XY")
        assert (tmp_path / "karyograms" / f"{cell}.png").stat().st_size > 0


def test_converted_dataset_input_matches_evaluation(tiny_run, tmp_path):
    summary = predict(tiny_run / "run", [tiny_run / "data"], tmp_path, parts=["test"])
    metrics = json.loads((tiny_run / "run" / "metrics.json").read_text())
    assert summary["images"] == metrics["images"]
    assert summary["accuracy_argmax"] == pytest.approx(metrics["accuracy"])


def test_a_run_trained_on_inverted_images_inverts_what_it_predicts(tiny_run, tmp_path, monkeypatch):
    """A run converted with --invert (G band read as Q band) sees a user's negatives as its training saw them."""
    import sras_keras.inference.predictor as predictor_module

    negatives = tmp_path / "negatives" / "1"
    negatives.mkdir(parents=True)
    for file in sorted((tiny_run / "source" / "1").iterdir()):
        Image.fromarray(255 - np.asarray(Image.open(file).convert("L"))).save(negatives / file.name)
    plain = predict(tiny_run / "run", [tiny_run / "source" / "1"], tmp_path / "plain")
    read = predictor_module.run_preprocessing
    monkeypatch.setattr(predictor_module, "run_preprocessing", lambda run: dataclasses.replace(read(run), invert=True))
    inverted = predict(tiny_run / "run", [negatives], tmp_path / "inverted")
    assert inverted["images"] == plain["images"] == 46
    rows = [list(csv.DictReader(open(tmp_path / out / "predictions.csv"))) for out in ("plain", "inverted")]
    assert rows[0] and [(r["true"], r["top1"], r["p_top1"]) for r in rows[0]] == [
        (r["true"], r["top1"], r["p_top1"]) for r in rows[1]
    ]


def test_cell_bn_needs_a_model_with_batchnorm(tiny_run, tmp_path):
    with pytest.raises(SrasError, match="no BatchNorm layer, so --cell-bn does not apply"):  # GroupNorm's resnet_small
        predict(tiny_run / "run", [tiny_run / "source" / "1"], tmp_path, cell_bn=True)
    assert not tmp_path.joinpath("predictions.csv").exists()


def test_summary_counts_cells_whose_every_chromosome_is_assigned_right():
    """Two XY cells, each certain of its classes; in cell b two chromosomes (one 6, one 7) are swapped with confidence,
    which the slot counts cannot undo: one cell of two is right throughout, both sexes are."""
    labels = [c for c in range(X_INDEX) for _ in range(2)] + [X_INDEX, Y_INDEX]
    probabilities = np.full((92, NUM_CLASSES), 1e-3)
    probabilities[np.arange(92), labels * 2] = 0.9
    six, seven = 46 + labels.index(5), 46 + labels.index(6)
    probabilities[[six, seven]] = probabilities[[seven, six]]
    images = [InputImage(f"{cell}/{k}", cell, label) for cell in "ab" for k, label in enumerate(labels)]
    summary = summarise(images, probabilities, assign_cells(probabilities, [image.cell_id for image in images]))
    assert summary["accuracy_assigned"] == pytest.approx(90 / 92)
    assert (summary["sex_correct_cells"], summary["sex_cells"], summary["cells_all_assigned_right"]) == (2, 2, 1)


def test_mirror_view_is_a_normalised_geometric_mean():
    original = np.array([[0.8, 0.2, 0.0], [0.6, 0.3, 0.1]])
    mirrored = np.array([[0.2, 0.8, 0.0], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(with_mirror_view(original, mirrored), [[0.5, 0.5, 0.0], [0.6, 0.3, 0.1]], atol=1e-12)


def test_mirror_view_is_the_same_for_records_and_files(tiny_run, tmp_path):
    """--tta mirrors each chromosome before placement, whether it comes from a converted dataset or from files."""
    splits = json.loads((tiny_run / "data" / "splits.json").read_text())
    cells = sorted({entry["cell_id"] for entry in splits["images"] if entry["part"] == "test"})
    records = predict(tiny_run / "run", [tiny_run / "data"], tmp_path / "records", parts=["test"], tta=True)
    predict(tiny_run / "run", [tiny_run / "source" / cell for cell in cells], tmp_path / "files", tta=True)
    predict(tiny_run / "run", [tiny_run / "data"], tmp_path / "plain", parts=["test"])
    assert records["tta"] and records["images"] == len(top1_predictions(tmp_path / "files"))
    mirrored, from_files, plain = (top1_predictions(tmp_path / name) for name in ("records", "files", "plain"))
    for name, (top1, p) in mirrored.items():
        assert from_files[name][0] == top1 and from_files[name][1] == pytest.approx(p, abs=1e-4)
    changed = [name for name, (_, p) in mirrored.items() if abs(p - plain[name][1]) > 1e-3]
    assert len(changed) > 20 and {name.split(" ")[0] for name in changed} == set(cells)  # the views differ


def test_unreadable_images_are_skipped_and_listed(tiny_run, tmp_path):
    cell = tmp_path / "cell"
    shutil.copytree(tiny_run / "source" / "3", cell)
    (cell / "3 7c.bmp").write_bytes(b"not an image")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", "--model", str(tiny_run / "run"), str(cell), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "46 images in 1 cells" in result.output and "1 not read" in result.output
    skipped = list(csv.reader(open(out / "skipped.csv")))
    assert skipped[1][0].endswith("3 7c.bmp") and "not a readable image" in skipped[1][1]


@pytest.mark.parametrize(
    ("regex", "problem"), [("img", "needs a capture group"), ("(cell", "is not a valid regular expression")]
)
def test_a_bad_cell_regex_is_one_error_line_before_anything_is_written(tiny_run, tmp_path, regex, problem):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--model",
            str(tiny_run / "run"),
            str(tiny_run / "source" / "1"),
            "--out",
            str(out),
            "--cell-regex",
            regex,
        ],
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert len(lines) == 1 and lines[0].startswith(f"error: --cell-regex {regex!r} {problem}"), lines
    assert not out.exists()


def test_bad_inputs(tiny_run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SrasError, match="no images"):
        gather_inputs([empty])
    bare = tmp_path / "bare-run"
    shutil.copytree(tiny_run / "run", bare)
    (bare / "preprocessing.json").unlink()  # a run from before it: config.json and data.json, then the dataset
    (bare / "config.json").unlink()
    with pytest.raises(SrasError, match="no preprocessing.json or config.json"):
        predict(bare, [tiny_run / "source" / "1"], tmp_path / "out")
    loose = tmp_path / "loose"
    loose.mkdir()
    for file in sorted((tiny_run / "source" / "1").iterdir())[:3]:
        shutil.copy(file, loose / file.name.replace(" ", "_"))
    images, skipped = gather_inputs([loose], cell_regex=r"^(\d+)_")
    assert len(images) == 3 and not skipped and {image.cell_id for image in images} == {"1"}


def test_a_magnified_dataset_is_magnified_the_same_way_for_files(tmp_path):
    """`--magnify` lives in the dataset manifest: files given to `sras predict` must get the canvases the run's
    records hold, pixel for pixel."""
    import numpy as np

    from sras_keras.configs.convert import ConvertConfig
    from sras_keras.data.convert import convert
    from sras_keras.data.pipeline import make_dataset
    from sras_keras.data.readers import read_image
    from sras_keras.data.synthetic import write_synthetic_dataset
    from sras_keras.inference.predictor import Predictor
    from sras_keras.models import build_classifier

    write_synthetic_dataset(tmp_path / "source", n_cells=4, seed=1, male_fraction=0.5)
    config = ConvertConfig(split=SplitConfig("paper", seed=0), image_size=96, magnify=1.5)
    convert(tmp_path / "source", tmp_path / "data", config, log=lambda line: None)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    split = SplitConfig("paper", seed=0).resolved()
    write_record(run, RunData(str(tmp_path / "data"), ["train"], "test", "test", "paper", split))
    build_classifier("resnet_small", 96).save(run / "model.keras")
    predictor = Predictor(run)
    assert predictor.preprocessing.magnify == 1.5

    batch, _, meta = next(iter(make_dataset(tmp_path / "data", "test", batch_size=8, with_metadata=True)))
    sources = [read_image(tmp_path / "source" / path.decode())[0] for path in meta["source_path"].numpy()]
    np.testing.assert_array_equal(predictor.prepare(sources), batch.numpy())
    magnified = [
        (canvas[..., 0] > 20).any(axis=1).sum() > (source > 20).any(axis=1).sum()
        for canvas, source in zip(batch.numpy(), sources)
    ]
    assert any(magnified)  # the check above compared enlarged crops, not identities


def test_size_evidence_is_fitted_on_training_cells_and_used_by_predict(tiny_run, tmp_path):
    """Synthetic chromosomes' lengths follow their class (as real ones): a 1-epoch classifier gains from size."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run / "run", run)
    with pytest.raises(SrasError, match="sras size-evidence"):
        predict(run, [tiny_run / "source" / "1"], tmp_path / "early", size_evidence=True)
    result = CliRunner().invoke(main, ["size-evidence", str(run)])
    assert result.exit_code == 0, result.output
    assert "the least log loss on val" in result.output and "test with size evidence: argmax" in result.output
    record = json.loads((run / "size_evidence.json").read_text())
    assert record["weight_chosen_on"] == "val" and not record["weight_chosen_on_test_set"]
    assert record["test_images"] == json.loads((run / "metrics.json").read_text())["images"]
    without, with_size = record["test"]["without"], record["test"]["with"]
    assert without["accuracy_argmax"] == pytest.approx(json.loads((run / "metrics.json").read_text())["accuracy"])
    assert record["evidence"]["weight"] > 0 and with_size["accuracy_argmax"] > without["accuracy_argmax"] + 0.1
    summary = predict(run, [tiny_run / "data"], tmp_path / "records", parts=["test"], size_evidence=True)
    assert summary["accuracy_argmax"] == pytest.approx(with_size["accuracy_argmax"])
    assert summary["accuracy_argmax_image_only"] == pytest.approx(without["accuracy_argmax"])
    out = tmp_path / "files"
    result = CliRunner().invoke(
        main,
        [
            "predict",
            "--model",
            str(run),
            str(tiny_run / "source" / "1"),
            "--out",
            str(out),
            "--karyotype",
            "--size-evidence",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"size evidence (weight {record['evidence']['weight']})" in result.output
    assert "every chromosome right in" in result.output
    with pytest.raises(SrasError, match="sras size-evidence .* --tta"):  # its weight was chosen for one view
        predict(run, [tiny_run / "data"], tmp_path / "tta", parts=["test"], size_evidence=True, tta=True)
    result = CliRunner().invoke(main, ["size-evidence", str(run), "--tta"])
    assert result.exit_code == 0 and "size_evidence_tta.json" in result.output, result.output
    mirrored = json.loads((run / "size_evidence_tta.json").read_text())
    assert mirrored["tta"] and not record["tta"]
    summary = predict(run, [tiny_run / "data"], tmp_path / "tta", parts=["test"], size_evidence=True, tta=True)
    assert summary["accuracy_argmax"] == pytest.approx(mirrored["test"]["with"]["accuracy_argmax"])


def test_every_summary_says_how_the_inputs_were_read(tiny_run, tmp_path):
    run = str(tiny_run / "run")
    out = tmp_path / "bioimlab"
    result = CliRunner().invoke(main, ["predict", "--model", run, str(tiny_run / "source"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "read as cell_folders: 6 cells; labels from BioImLab file names" in result.output
    assert "accuracy per image" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["layout"], summary["labels"]) == ("cell_folders", "BioImLab file names")
    classes = tmp_path / "classes"
    for file in sorted((tiny_run / "source" / "1").iterdir())[:6]:
        label = file.stem.split(" ")[1].rstrip("ab")
        (classes / label).mkdir(parents=True, exist_ok=True)
        shutil.copy(file, classes / label / f"c1_{file.stem.replace(' ', '_')}.bmp")
    out = tmp_path / "classes-out"
    result = CliRunner().invoke(
        main, ["predict", "--model", run, str(classes), "--out", str(out), "--layout", "class_folders"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "read as class_folders: 6 images, cells unknown (no --cell-regex); labels from class folder names "
        "(standard coding)" in result.output
    )
    assert json.loads((out / "summary.json").read_text())["labels"] == "class folder names (standard coding)"
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for k, file in enumerate(sorted((tiny_run / "source" / "1").iterdir())[:4]):
        shutil.copy(file, unlabelled / f"img{k}.bmp")
    out = tmp_path / "unlabelled-out"
    result = CliRunner().invoke(main, ["predict", "--model", run, str(unlabelled), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "read as cells: 1 cells; no labels" in result.output and "accuracy" not in result.output
    assert json.loads((out / "summary.json").read_text())["labels"] == "none"


def test_auto_refuses_an_ambiguous_tree_before_the_model_loads(tiny_run, tmp_path):
    numbered = tmp_path / "numbered"
    for cell in ("1", "2"):
        (numbered / cell).mkdir(parents=True)
        for k, file in enumerate(sorted((tiny_run / "source" / cell).iterdir())[:3]):
            shutil.copy(file, numbered / cell / f"img{k}.bmp")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["predict", "--model", str(tiny_run / "run"), str(numbered), "--out", str(out)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "--layout class_folders" in lines[0] and "--layout cell_folders" in lines[0] and not out.exists()
    summary = predict(tiny_run / "run", [numbered], out, layout="cell_folders")
    assert (summary["images"], summary["cells"], summary["labels"]) == (6, 2, "none")
    with pytest.raises(SrasError, match="--parts test: applies only to a converted dataset"):
        predict(tiny_run / "run", [numbered], tmp_path / "parts", layout="cell_folders", parts=["test"])


def test_files_not_predicted_are_listed_with_why(tiny_run, tmp_path):
    """Files beside the images, and images with nothing on them, are listed in skipped.csv, not dropped."""
    preprocessing = json.loads((tiny_run / "run" / "preprocessing.json").read_text())
    background, threshold = preprocessing["background"], preprocessing["threshold"]
    near = background + threshold if background + threshold <= 255 else background - threshold
    cell = tmp_path / "cell"
    shutil.copytree(tiny_run / "source" / "2", cell)
    Image.fromarray(np.full((20, 12), background, np.uint8)).save(cell / "blank.png")
    Image.fromarray(np.full((20, 12), near, np.uint8)).save(cell / "nearly-blank.png")
    (cell / "notes.txt").write_text("the technician's notes")
    os.mkfifo(cell / "pipe.bmp")
    os.symlink("nowhere.bmp", cell / "broken.bmp")
    os.symlink("loop.bmp", cell / "loop.bmp")
    (cell / "Thumbs.db").write_text("")
    summary = predict(tiny_run / "run", [cell], tmp_path / "out")
    assert summary["images"] == 46 and summary["skipped"] == 6
    rows = list(csv.DictReader(open(tmp_path / "out" / "skipped.csv")))
    reasons = {os.path.basename(row["file"]): row["reason"] for row in rows}
    assert sorted(reasons) == ["blank.png", "broken.bmp", "loop.bmp", "nearly-blank.png", "notes.txt", "pipe.bmp"]
    assert reasons["blank.png"].startswith(
        f"no foreground: no pixel differs from the model's background ({background})"
    )
    assert reasons["nearly-blank.png"] == reasons["blank.png"]
    assert reasons["pipe.bmp"] == "not a regular file (a FIFO)" and reasons["loop.bmp"] == "symbolic link loop"
    assert reasons["broken.bmp"].startswith("broken symbolic link") and reasons["notes.txt"].startswith("not an image")


@pytest.mark.parametrize("where", ["run", "input", "inside-input"])
def test_out_may_not_be_the_run_or_an_input(tiny_run, tmp_path, where):
    cell = tmp_path / "cell"
    shutil.copytree(tiny_run / "source" / "4", cell)
    out = {"run": tiny_run / "run", "input": cell, "inside-input": cell / "predictions"}[where]
    before = (tiny_run / "run" / "predictions.csv").read_bytes()
    result = CliRunner().invoke(main, ["predict", "--model", str(tiny_run / "run"), str(cell), "--out", str(out)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"error: --out {out}"), result.output
    assert (tiny_run / "run" / "predictions.csv").read_bytes() == before
    assert sorted(path.name for path in cell.iterdir()) == sorted(
        path.name for path in (tiny_run / "source" / "4").iterdir()
    )


def test_names_are_never_spreadsheet_formulas(tiny_run, tmp_path, monkeypatch):
    """OWASP's CSV injection: a file or cell name a spreadsheet would run is written as text, read back as it was."""
    monkeypatch.chdir(tmp_path)
    cell = Path("=HYPERLINK(1)")
    cell.mkdir()
    for file in sorted((tiny_run / "source" / "5").iterdir())[:3]:
        shutil.copy(file, cell / file.name)
    predict(tiny_run / "run", [cell], tmp_path / "out")
    with open(tmp_path / "out" / "predictions.csv", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 3 and {row["cell_id"] for row in written} == {"'=HYPERLINK(1)"}
    assert all(row["file"].startswith("'=HYPERLINK(1)/5 ") for row in written)
    read = read_predictions(tmp_path / "out" / "predictions.csv")
    assert {row["cell_id"] for row in read} == {"=HYPERLINK(1)"}
    assert [row["file"] for row in read] == [row["file"][1:] for row in written]
    for value in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'=x", "''@x", "plain", "'quoted", ""):
        escaped = csv_text(value)
        assert escaped[:1] not in ("=", "+", "-", "@", "\t", "\r") and from_csv_text(escaped) == value
