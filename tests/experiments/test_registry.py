"""Recipes are files: loaded by name from the recipe folder, or by path, each failure one clear error."""

import pytest

from sras_keras.core.errors import SrasError
from sras_keras.experiments import registry
from sras_keras.experiments.registry import get_recipe, recipe_doc, recipe_name, recipe_names

RECIPE = '''"""My lab's table: the demo's row on our own data.

    sras cv run --recipe my_table.py
"""

from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.train import TrainConfig
from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment, Row


@register("{name}")
def build(config: str = "cpu") -> Experiment:
    train = TrainConfig().replace(backbone="resnet_small", epochs=1)
    row = Row("small", "ResNet-small", ConvertConfig(image_size=32), train)
    return Experiment("{name}", config, "ourdata", (row,))
'''


def test_a_recipe_file_runs_by_path_under_the_name_it_registers(tmp_path):
    path = tmp_path / "my_table.py"
    path.write_text(RECIPE.format(name="lab_table"))
    experiment = get_recipe(str(path), "cpu")
    assert experiment.name == "lab_table" and experiment.rows[0].train.optimization.epochs == 1
    assert recipe_name(str(path)) == "lab_table"
    assert recipe_doc("lab_table").startswith("My lab's table")


def test_the_recipe_folder_holds_every_paper_table_and_a_missing_one_is_named(monkeypatch, tmp_path):
    assert {"demo", "sras_net_table2", "tl_table2", "tl_fig3"} <= set(recipe_names())
    monkeypatch.setenv("SRAS_RECIPES", str(tmp_path / "nowhere"))
    with pytest.raises(SrasError, match="nowhere: no recipe folder"):
        recipe_names()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("def broken(:", "failed to load .SyntaxError"),
        ("raise ValueError('bad row')", "failed to load .ValueError: bad row"),
    ],
)
def test_a_broken_recipe_file_is_one_error_naming_it(tmp_path, text, problem):
    path = tmp_path / "broken.py"
    path.write_text(text)
    with pytest.raises(SrasError, match=f"broken.py: the recipe file {problem}"):
        get_recipe(str(path))


def test_two_files_cannot_register_one_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "first.py").write_text(RECIPE.format(name="clash"))
    (tmp_path / "b" / "second.py").write_text(RECIPE.format(name="clash"))
    registry.load_recipe_file(tmp_path / "a" / "first.py")
    with pytest.raises(SrasError, match="recipe 'clash' is registered twice"):
        registry.load_recipe_file(tmp_path / "b" / "second.py")


def test_a_file_must_register_exactly_one_recipe(tmp_path):
    path = tmp_path / "empty_recipe.py"
    path.write_text('"""Registers nothing."""\n')
    with pytest.raises(SrasError, match="registers 0"):
        get_recipe(str(path))
