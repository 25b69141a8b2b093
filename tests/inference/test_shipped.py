"""Model folders and the shipped models: packaging a run, predicting with it, and the shipped cards' numbers."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sras_keras.cli import main
from sras_keras.configs.inference import ModelCard
from sras_keras.configs.records import read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import FINAL, PREDICTIONS
from sras_keras.evaluation import model_card
from sras_keras.evaluation.model_card import VIEWS, held_out_images, measure, package_model
from sras_keras.inference import shipped
from sras_keras.inference.outputs import read_predictions
from sras_keras.inference.shipped import card_texts, model_folder, shipped_models

DATA_ROOT = Path(os.environ.get("SRAS_DATA_DIR", Path(__file__).parents[3] / "shared" / "data"))


@pytest.fixture(scope="module")
def packaged(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("packaged") / "mine"
    texts = card_texts("mine", "Q", "a tiny test model")
    card = package_model(
        tiny_run / "run",
        out,
        name="mine",
        title=texts.title,
        band=texts.band,
        intended_input=texts.intended_input,
        limits=texts.limits,
        data_root=tiny_run,
    )
    return out, card


def _predictions(folder: Path) -> dict[str, tuple[str, float]]:
    return {row["file"]: (row["top1"], float(row["p_top1"])) for row in read_predictions(folder / PREDICTIONS)}


def test_a_packaged_model_is_compact_and_predicts_as_its_card_says(tiny_run, packaged, tmp_path):
    out, card = packaged
    assert (out / FINAL).stat().st_size < 0.6 * (tiny_run / "run" / FINAL).stat().st_size  # float16, compressed
    assert read_record(ModelCard, out) == card and "mine" in (out / model_card.CARD_MARKDOWN).read_text()
    assert card.split["scheme"] == "holdout" and card.test_cells
    cells = [str(tiny_run / "source" / cell) for cell in card.test_cells]
    runs = {}
    for name, model in (("packaged", out), ("run", tiny_run / "run")):
        result = CliRunner().invoke(
            main, ["predict", "--model", str(model), *cells, "--karyotype", "--out", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        runs[name] = json.loads((tmp_path / name / "summary.json").read_text())
    single = card.held_out["single view"]
    assert runs["packaged"]["accuracy_argmax"] == pytest.approx(single["accuracy"], abs=1e-6)
    assert runs["packaged"]["accuracy_assigned"] == pytest.approx(single["accuracy_assigned"], abs=1e-6)
    packaged_p, run_p = _predictions(tmp_path / "packaged"), _predictions(tmp_path / "run")
    assert packaged_p.keys() == run_p.keys()
    # the float16 weights' rounding only (this 1-epoch model's probabilities are near-ties: a top class may swap)
    assert max(abs(packaged_p[k][1] - run_p[k][1]) for k in run_p) < 5e-3
    assert np.mean([packaged_p[k][0] == run_p[k][0] for k in run_p]) >= 0.9


def test_packaging_refuses_a_folder_in_use_and_leaves_nothing_half_written(tiny_run, packaged, tmp_path):
    out, _ = packaged
    with pytest.raises(SrasError, match="not empty"):
        package_model(
            tiny_run / "run", out, name="x", title="x", band="Q", intended_input="", limits=(), data_root=tiny_run
        )
    with pytest.raises(SrasError, match="is not there"):
        package_model(
            tiny_run / "run",
            tmp_path / "m",
            name="x",
            title="x",
            band="Q",
            intended_input="",
            limits=(),
            data_root=tmp_path,
        )
    assert not (tmp_path / "m").exists()


def test_model_names_and_folders_are_never_confused(packaged, tmp_path, monkeypatch):
    out, _ = packaged
    monkeypatch.setattr(shipped, "SHIPPED_ROOT", out.parent)
    assert shipped_models() == {"mine": out}
    assert model_folder("mine") == out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    with pytest.raises(SrasError, match="both a shipped model and a folder"):
        model_folder("mine")
    with pytest.raises(SrasError, match="no model.keras"):
        model_folder("./mine")
    with pytest.raises(SrasError, match="neither a shipped model"):
        model_folder("nothing-here")
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0 and "mine" in result.output and "resnet_small_bn" in result.output


@pytest.mark.parametrize("name", ["bioimlab-q", "gband65-g"])
def test_the_shipped_model_scores_its_cards_figure_on_its_held_out_cells(name, tmp_path):
    """The shipped files, the user's path (source images, preprocessing as trained, one cell assigned at a time):
    per image and assigned as its card says. One image may flip between CPUs (oneDNN's kernels differ). Then the
    README's one command on one held-out cell, as a user holds it: a folder of that cell's images."""
    assert name in shipped_models(), f"{name} is not packaged in sras_keras/inference/pretrained/"
    card = read_record(ModelCard, shipped_models()[name])
    if not (DATA_ROOT / card.dataset).is_dir():
        pytest.skip(f"{DATA_ROOT / card.dataset} not found (set SRAS_DATA_DIR)")
    images = held_out_images(DATA_ROOT / card.dataset, card)
    measured = measure(shipped_models()[name], images, views=VIEWS[:1])["single view"]
    expected = card.held_out["single view"]
    assert measured["images"] == expected["images"] and measured["cells"] == expected["cells"]
    assert abs(measured["accuracy"] - expected["accuracy"]) * measured["images"] <= 1.01
    assert abs(measured["accuracy_assigned"] - expected["accuracy_assigned"]) * measured["images"] <= 2.01
    one_cell = DATA_ROOT / card.dataset / card.test_cells[0]
    if not one_cell.is_dir():  # gband65 keeps cells across class folders: gather one cell's images in a folder
        one_cell = tmp_path / card.test_cells[0]
        one_cell.mkdir()
        for image in images:
            if image.cell_id == card.test_cells[0]:
                shutil.copy(DATA_ROOT / card.dataset / image.name, one_cell / Path(image.name).name)
    out = tmp_path / "predicted"
    result = CliRunner().invoke(main, ["predict", "--model", name, str(one_cell), "--karyotype", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list((out / "karyograms").glob("*.png"))) == 1, result.output


def test_shipped_models_fit_in_the_package():
    sizes = [
        path.stat().st_size for folder in shipped_models().values() for path in folder.rglob("*") if path.is_file()
    ]
    assert sum(sizes) <= 10 * 2**20


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_a_shipped_cards_text_is_its_card_json_rendered(name):
    """MODEL_CARD.md says only what card.json measured: rendered again, it is the same text."""
    folder = model_folder(name)
    card = read_record(ModelCard, folder)
    assert (folder / model_card.CARD_MARKDOWN).read_text() == model_card.card_markdown(card)
