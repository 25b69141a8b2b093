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
