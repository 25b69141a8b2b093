"""Safety (issue #7): models load in Keras safe mode, nothing unpickles or evaluates user input, and outputs named
after data never leave OUT or overwrite each other."""

import ast
import shutil
from pathlib import Path

import numpy as np
import pytest

from sras_keras.core.errors import SrasError

PACKAGE = Path(__file__).resolve().parents[1] / "sras_keras"
RECIPES = Path(__file__).resolve().parents[1] / "recipes"
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib", "yaml"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def _name(node) -> str:
    """'a.b.c' for a Name/Attribute chain, '' otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def unsafe_uses(source: str, where: str = "<source>") -> tuple[list[str], int]:
    """(problems, number of load_model calls) in one module's source."""
    problems, loads = [], 0
    for node in ast.walk(ast.parse(source)):
        line = f"{where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            problems += [f"{line}: imports {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            problems.append(f"{line}: imports from {node.module}")
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            last = name.rsplit(".", 1)[-1]
            if isinstance(node.func, ast.Name) and name in UNSAFE_BUILTINS:
                problems.append(f"{line}: calls {name}()")
            if last == "load_model":
                loads += 1
                safe = _keyword(node, "safe_mode")
                if not (isinstance(safe, ast.Constant) and safe.value is True):
                    problems.append(f"{line}: {name}() without safe_mode=True")
            if last == "load" and name.split(".")[0] in ("np", "numpy"):
                allow = _keyword(node, "allow_pickle")
                if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                    problems.append(f"{line}: {name}(allow_pickle=...)")
            if last in ("enable_unsafe_deserialization", "read_pickle", "unsafe_load", "full_load"):
                problems.append(f"{line}: calls {name}()")
            safe = _keyword(node, "safe_mode")
            if safe is not None and not (isinstance(safe, ast.Constant) and safe.value is True):
                problems.append(f"{line}: {name}(safe_mode=...) not True")
    return problems, loads


def test_the_checker_finds_what_it_looks_for():
    bad = """
import pickle
from yaml import load
import numpy as np
import keras
x = eval("1")
exec("y = 2")
np.load("a.npy", allow_pickle=True)
keras.saving.load_model("m.keras")
keras.models.load_model("m.keras", safe_mode=False)
keras.config.enable_unsafe_deserialization()
"""
    problems, loads = unsafe_uses(bad)
    assert loads == 2
    for expected in (
        "imports pickle",
        "imports from yaml",
        "calls eval()",
        "calls exec()",
        "allow_pickle",
        "load_model() without safe_mode=True",
        "safe_mode=...) not True",
        "enable_unsafe",
    ):
        assert any(expected in problem for problem in problems), (expected, problems)
    good = "import numpy as np\nimport keras\nnp.load('a.npy')\nkeras.saving.load_model('m', safe_mode=True)\n"
    assert unsafe_uses(good) == ([], 1)


def test_package_loads_models_safely_and_never_unpickles_or_evaluates():
    problems, loads = [], 0
    files = sorted(PACKAGE.rglob("*.py")) + sorted(RECIPES.rglob("*.py"))
    assert len(files) > 30
    for path in files:
        found, count = unsafe_uses(path.read_text(), str(path.relative_to(PACKAGE.parent)))
        problems += found
        loads += count
    assert not problems, "\n".join(problems)
    assert loads == 1  # models/saving.py: every classifier and SR model is loaded there


def test_overrides_are_json_never_evaluated(tmp_path, monkeypatch):
    from sras_keras.configs.convert import ConvertConfig
    from sras_keras.configs.train import TrainConfig
    from sras_keras.experiments.spec import Experiment, Row, apply_overrides

    monkeypatch.chdir(tmp_path)
    experiment = Experiment("x", "cpu", "bioimlab", (Row("r", "r", ConvertConfig(), TrainConfig()),))
    payload = "__import__('os').system('touch pwned')"
    changed = apply_overrides(
        experiment,
        {
            "train.epochs": "3",
            "train.learning_rate": "1e-3",
            "train.backbone": payload,
            "train.flip": '"horizontal"',
        },
    )
    train = changed.rows[0].train
    assert (
        train.optimization.epochs == 3
        and train.optimization.learning_rate == 1e-3
        and train.augmentation.flip == "horizontal"
    )
    assert train.model.backbone == payload  # kept as text, not run
    with pytest.raises(SrasError, match=r"image_size must be int, got '2\*32'"):  # text, not computed
        apply_overrides(experiment, {"convert.image_size": "2*32"})
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(SrasError, match="no field"):
        apply_overrides(experiment, {"train.__class__": "1"})


# ---- Lambda layers are refused -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory):
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)  # saved as Python bytecode: code a file could carry
    path = tmp_path_factory.mktemp("lambda") / "model.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_lambda_layer_is_refused_by_the_classifier_loader(lambda_model):
    from sras_keras.models.saving import load_classifier

    # Keras safe mode: the lambda's bytecode is never loaded; how sras predict, evaluate and --resume load models
    with pytest.raises(SrasError, match=r"model\.keras: not a loadable Keras model in safe mode .*Lambda") as error:
        load_classifier(lambda_model)
    assert "\n" not in str(error.value)


def test_a_lambda_layer_is_refused_by_the_sr_loader(lambda_model):
    from sras_keras.models.saving import load_sr_model

    with pytest.raises(SrasError, match=r"model\.keras: not a loadable Keras model .*Lambda"):
        load_sr_model(lambda_model)


def test_predict_refuses_a_run_whose_model_has_a_lambda_layer(tiny_run, lambda_model, tmp_path):
    from click.testing import CliRunner

    from sras_keras.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run / "run", run)
    shutil.copy(lambda_model, run / "model.keras")
    result = CliRunner().invoke(
        main, ["predict", "--model", str(run), str(tiny_run / "source" / "1"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {run / 'model.keras'}: not a loadable Keras model"), lines
    assert not (tmp_path / "out").exists()


# ---- outputs named after data stay inside OUT ----------------------------------------------------------------------

HOSTILE = [
    "../../evil",
    "/abs",
    "a/b",
    "a b",
    "a_b",
    "A_B",
    "..",
    ".",
    "",
    "...",
    "x" * 400,
    "é/ü",
    "\udcff\udcfe",
    "cell-1",
    "cell",
    "a_b-" + "0" * 8,
]


def test_karyogram_names_stay_in_the_folder_and_never_collide(tmp_path):
    from sras_keras.inference.outputs import karyogram_names

    names = karyogram_names(HOSTILE)
    assert list(names) == HOSTILE
    assert len({name.lower() for name in names.values()}) == len(HOSTILE)  # even on case-insensitive disks
    folder = tmp_path / "karyograms"
    for name in names.values():
        assert name.endswith(".png") and "/" not in name and "\\" not in name and not name.startswith(".")
        assert len(name.encode()) < 255 and (folder / name).resolve().parent == folder.resolve()
    assert names["a_b"] == "a_b.png" and names["cell-1"] == "cell-1.png"  # safe ids keep their name
    assert names["a b"] != names["a_b"] and names["a/b"] != names["a_b"]


def test_two_folders_with_the_same_cell_name_are_refused(tmp_path):
    from PIL import Image

    from sras_keras.inference.inputs import gather_inputs
    from tests.conftest import draw_chromosome

    for parent in ("a", "b"):
        folder = tmp_path / parent / "c7"  # not a class name: a cell folder
        folder.mkdir(parents=True)
        Image.fromarray(draw_chromosome(3, np.random.default_rng(0))).save(folder / "img.png")
    with pytest.raises(SrasError, match=r"cell 'c7' names 2 different folders .*a/c7.*b/c7.*rename"):
        gather_inputs([tmp_path / "a" / "c7", tmp_path / "b" / "c7"])
    with pytest.raises(SrasError, match="cell 'c7' names 2 different folders"):
        gather_inputs([tmp_path / "a", tmp_path / "b"])  # folders of cell folders, one cell each
    images, _ = gather_inputs([tmp_path / "a" / "c7", tmp_path / "a" / "c7" / "img.png"])  # one folder twice: fine
    assert {image.cell_id for image in images} == {"c7"}


def test_predict_keeps_cells_with_alike_names_apart(tiny_run, tmp_path):
    from sras_keras.inference.predict import predict

    source = tmp_path / "in"
    for cell, name in (("1", "a b"), ("2", "a_b"), ("3", "(1)")):
        shutil.copytree(tiny_run / "source" / cell, source / name)
    out = tmp_path / "out"
    summary = predict(tiny_run / "run", [source], out, karyotype=True)
    assert summary["cells"] == 3
    written = sorted(path.name for path in (out / "karyograms").iterdir())
    assert len(written) == 3 and "a_b.png" in written, written
    assert all(not name.startswith(".") for name in written)
    outside = {path for path in tmp_path.rglob("*") if out not in path.parents and path != out}
    assert all(source in path.parents or path == source for path in outside)  # nothing written beside OUT
