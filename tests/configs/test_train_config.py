"""A training config checks itself when it is made (recipe, ``--set``, CLI), so a bad value fails before any work."""

import json

import pytest
from click.testing import CliRunner

from sras_keras.cli import main
from sras_keras.configs.records import read_config, write_config
from sras_keras.configs.train import SECTIONS, OptimizationConfig, RuntimeConfig, TrainConfig, section_of
from sras_keras.core.errors import SrasError
from sras_keras.experiments.registry import get_recipe
from sras_keras.experiments.spec import apply_overrides


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"monitor": "val_loss"}, "unknown monitor 'val_loss'"),
        ({"flip": "diagonal"}, "unknown flip"),
        ({"schedule": "step"}, "unknown schedule"),
        ({"kfold_validation": "any"}, "unknown kfold_validation"),
        ({"optimizer": "rmsprop"}, "unknown optimizer"),
        ({"head": "mlp"}, "unknown head"),
        ({"strategy": "tpu"}, "unknown strategy"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"patience": 0}, "patience must be at least 1"),
        ({"learning_rate": 0.0}, "learning rates must be > 0"),
        ({"learning_rate": -1.0}, "learning rates must be > 0"),
        ({"sgd_learning_rate": -1e-3}, "learning rates must be > 0"),
        ({"zoom": -0.1}, "zoom must be >= 0"),
        ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"batchnorm_momentum": 1.5}, "batchnorm_momentum must be in"),
        ({"max_rotation": 200.0}, "max_rotation must be in"),
        ({"max_minutes": 0.0}, "max_minutes must be > 0"),
        ({"fold": -1}, "fold must be >= 0"),
        ({"schedule": "cosine", "epochs": 1}, "cosine schedule needs at least 2 epochs"),
        ({"optimizer": "adam_then_sgd", "sgd_epoch": 5, "epochs": 5}, "adam_then_sgd needs 0 < sgd_epoch < epochs"),
        ({"epochs": "abc"}, "epochs must be int, got 'abc'"),
        ({"epochs": True}, "epochs must be int, got True"),
        ({"cell_batches": "yes"}, "cell_batches must be bool"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"max_minutes": float("inf")}, "max_minutes must be a finite number"),
        ({"dropout": "high"}, "dropout must be float or None"),
    ],
)
def test_a_bad_value_fails_where_the_config_is_made(change, message):
    with pytest.raises(SrasError, match=message):
        TrainConfig().replace(**change)
    section = SECTIONS[section_of(next(iter(change)))]
    with pytest.raises(SrasError, match=message):
        section(**change)


def test_the_published_and_cpu_configs_are_valid_and_dropout_none_means_the_architectures_own():
    assert TrainConfig().to_dict()["optimization"]["patience"] == 21
    assert TrainConfig().replace(dropout=None, head="native").model.dropout is None


def test_fields_are_named_alone_or_with_their_section_and_a_section_is_replaced_whole():
    config = TrainConfig().replace(epochs=3, max_minutes=2.0, zoom=0.1)
    assert (config.optimization.epochs, config.runtime.max_minutes, config.augmentation.zoom) == (3, 2.0, 0.1)
    assert config.replace(optimization=OptimizationConfig(epochs=5)).optimization == OptimizationConfig(epochs=5)
    with pytest.raises(SrasError, match="no training field 'epoch'"):
        TrainConfig().replace(epoch=3)
    recipe = get_recipe("demo", "cpu")
    for key in ("train.epochs", "train.optimization.epochs"):
        assert apply_overrides(recipe, {key: "2"}).rows[0].train.optimization.epochs == 2
    with pytest.raises(SrasError, match="epochs is in section optimization, not model"):
        apply_overrides(recipe, {"train.model.epochs": "2"})
    changed = apply_overrides(recipe, {"train.runtime": '{"seed": 3}'}).rows[0].train  # the section's other fields stay
    assert changed.runtime == RuntimeConfig(seed=3, max_minutes=recipe.rows[0].train.runtime.max_minutes)


def test_older_config_files_are_read_in_this_layout(tmp_path):
    """Format 1 had `rotations` and `scale` (names with a second meaning elsewhere), format 2 no sections."""
    config = TrainConfig().replace(backbone="resnet_small_bn", rotated_copies=False, zoom=0.2, epochs=3)
    write_config(tmp_path, config)
    assert json.loads((tmp_path / "config.json").read_text())["format_version"] == 3
    assert read_config(TrainConfig, tmp_path) == config
    flat = {field: value for section in config.to_dict().values() for field, value in section.items()}
    (tmp_path / "config.json").write_text(json.dumps({**flat, "format_version": 2}))
    assert read_config(TrainConfig, tmp_path) == config
    flat["rotations"], flat["scale"] = flat.pop("rotated_copies"), flat.pop("zoom")
    (tmp_path / "config.json").write_text(json.dumps(flat))  # no format_version: version 1
    assert read_config(TrainConfig, tmp_path) == config
    broken = config.to_dict()
    broken["augmentation"]["zoom"] = -1
    (tmp_path / "config.json").write_text(json.dumps({**broken, "format_version": 3}))
    with pytest.raises(SrasError, match="config.json: zoom must be >= 0"):
        read_config(TrainConfig, tmp_path)
    for document in ({**config.to_dict(), "colour": {}}, {**flat, "colour": 1, "format_version": 2}):
        (tmp_path / "config.json").write_text(json.dumps(document))
        with pytest.raises(SrasError, match="config.json: "):
            read_config(TrainConfig, tmp_path)


def test_set_changes_a_section_at_once_so_only_the_combination_is_checked():
    """The two-step CPU rows switch to SGD at epoch 3: 2 epochs alone is refused before anything runs, 2 epochs
    with the switch at 1 is accepted, whatever order the keys come in."""
    recipe = get_recipe("tl_table2", "cpu")
    with pytest.raises(SrasError, match="adam_then_sgd needs 0 < sgd_epoch < epochs"):
        apply_overrides(recipe, {"train.epochs": "2"})
    for overrides in ({"train.epochs": "2", "train.sgd_epoch": "1"}, {"train.sgd_epoch": "1", "train.epochs": "2"}):
        changed = apply_overrides(recipe, overrides)
        assert {(row.train.optimization.epochs, row.train.optimization.sgd_epoch) for row in changed.rows} == {(2, 1)}


def test_the_cli_shows_the_configs_defaults_and_refuses_a_bad_combination(tmp_path):
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    assert "[default: 40; x>=1]" in help_text and "[default: inception_resnet_v2]" in help_text
    data = tmp_path / "data"
    data.mkdir()
    result = CliRunner().invoke(
        main, ["train", str(data), str(tmp_path / "run"), "--schedule", "cosine", "--epochs", "1"]
    )
    assert result.exit_code == 1 and result.output.startswith("error: the cosine schedule needs at least 2 epochs")
    assert not (tmp_path / "run").exists()
    result = CliRunner().invoke(main, ["train", str(data), str(tmp_path / "run"), "--learning-rate", "nan"])
    assert result.exit_code == 1 and result.output.startswith("error: learning_rate must be a finite number")
    for rate in ("-1", "0"):
        result = CliRunner().invoke(main, ["train", str(data), str(tmp_path / "run"), "--learning-rate", rate])
        assert result.exit_code == 1 and result.output.startswith("error: learning rates must be > 0, got")
    assert not (tmp_path / "run").exists()


def test_a_dry_run_refuses_a_value_of_the_wrong_type():
    result = CliRunner().invoke(main, ["cv", "run", "--recipe", "demo", "--set", "train.epochs=abc", "--dry-run"])
    assert result.exit_code == 1 and result.output == "error: epochs must be int, got 'abc'\n"
