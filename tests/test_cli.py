import json

from click.testing import CliRunner

from sras_keras.cli import main


def test_convert_inspect_verify(bioimlab_tree, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        main,
        [
            "data",
            "convert",
            str(bioimlab_tree),
            str(out),
            "--split",
            "holdout",
            "--rotations",
            "2",
            "--image-size",
            "24",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "records" in result.output and "split=holdout group_by=cell seed=3" in result.output
    summary = json.loads(runner.invoke(main, ["data", "inspect", str(out), "--json"]).output)
    assert summary["kind"] == "converted"
    assert sum(sum(per_class.values()) for per_class in summary["images"].values()) == 4 * 46
    source = json.loads(runner.invoke(main, ["data", "inspect", str(bioimlab_tree), "--json"]).output)
    assert source["layout"] == "bioimlab" and source["images"]["all"]["Y"] == 1 and source["cells"] == 4
    result = runner.invoke(main, ["data", "verify", str(out)])
    assert result.exit_code == 0 and "intact" in result.output


def test_bad_input_is_one_clear_line(bioimlab_tree, tmp_path):
    (bioimlab_tree / "2" / "2 9a.bmp").write_bytes(b"not an image")
    result = CliRunner().invoke(main, ["data", "convert", str(bioimlab_tree), str(tmp_path / "out")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "2 9a.bmp: not a readable image" in lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_source(tmp_path):
    result = CliRunner().invoke(main, ["data", "convert", str(tmp_path / "nope"), str(tmp_path / "out")])
    assert result.exit_code == 1 and "source folder does not exist" in result.output


def test_ctrl_c_exits_130_and_says_how_to_continue(monkeypatch, tmp_path):
    import sras_keras.data.synthetic as synthetic

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "write_synthetic_dataset", interrupted)
    result = CliRunner().invoke(main, ["data", "synth", str(tmp_path / "synthetic")])
    assert result.exit_code == 130
    assert (
        result.output.startswith("interrupted: sras train and sras sr train continue") and "--resume" in result.output
    )


def test_a_broken_loss_advises_a_new_run_not_a_resume(tmp_path):
    """A resume keeps the run's learning rate, so "lower it and --resume" could not work."""
    import pytest

    from sras_keras.core.errors import SrasError
    from sras_keras.training.callbacks import FiniteLoss

    guard = FiniteLoss()
    guard.bad_batch = (1, 3)
    with pytest.raises(
        SrasError, match="no epoch finished. Train again into a new folder with a lower --learning-rate"
    ):
        guard.raise_if_tripped(tmp_path)


def test_make_help_writes_no_colour_codes_into_a_pipe():
    import subprocess
    from pathlib import Path

    listed = subprocess.run(["make", "help"], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    assert listed.returncode == 0 and "test " in listed.stdout and "\x1b" not in listed.stdout
