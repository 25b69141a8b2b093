import json

import pytest
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
        SrasError, match=r"no epoch finished. Start again in a new folder \(or this one.*lower --learning-rate"
    ):
        guard.raise_if_tripped(tmp_path)


def test_make_help_writes_no_colour_codes_into_a_pipe():
    import subprocess
    from pathlib import Path

    listed = subprocess.run(["make", "help"], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    assert listed.returncode == 0 and "test " in listed.stdout and "\x1b" not in listed.stdout


def test_tensorflow_start_up_log_stays_off_stderr_unless_verbose(tmp_path):
    """TensorFlow's C++ side writes oneDNN and CUDA lines to stderr before absl starts, past TF_CPP_MIN_LOG_LEVEL;
    `sras data verify` imports TensorFlow before it fails, so its stderr must be our one error line alone."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "sras_keras.cli"]
    quiet = subprocess.run([*command, "data", "verify", str(tmp_path)], env=env, capture_output=True, text=True)
    assert quiet.returncode == 1
    assert quiet.stderr.splitlines() == [
        f"error: {tmp_path}: no manifest.json (not a converted dataset, or its conversion did not finish)"
    ]
    verbose = subprocess.run(
        [*command, "--verbose", "data", "verify", str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert verbose.returncode == 1 and verbose.stderr.rstrip().endswith("its conversion did not finish)")
    assert any(mark in verbose.stderr for mark in ("absl::InitializeLog", "oneDNN", "cuda", "CPU instructions"))


def test_progress_bars_only_on_a_terminal(monkeypatch, tmp_path, capsys):
    """A bar in a redirected log is a frame per update; SRAS_PROGRESS asks for one anyway."""
    import io
    import sys
    from pathlib import Path

    from sras_keras.core.progress import progress
    from sras_keras.data.synthetic import write_synthetic_dataset

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("SRAS_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress(range(3)).disable
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert not progress(range(3)).disable and progress(range(3), disable=True).disable
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setenv("SRAS_PROGRESS", "1")
    assert not progress(range(3)).disable
    monkeypatch.delenv("SRAS_PROGRESS")
    monkeypatch.undo()
    write_synthetic_dataset(tmp_path / "synthetic", n_cells=1, progress=True)  # asks for a bar; stderr is no terminal
    assert capsys.readouterr().err == ""
    package = Path(__file__).resolve().parents[1] / "sras_keras"
    direct = [p.name for p in package.rglob("*.py") if "from tqdm" in p.read_text() and p.name != "progress.py"]
    assert direct == [], "bars go through sras_keras.core.progress"


def test_cv_run_selects_folds_with_only_folds():
    """--folds is a count in `sras data convert`; cv run's list of folds to run is --only-folds."""
    result = CliRunner().invoke(main, ["cv", "run", "--recipe", "demo", "--only-folds", "x"])
    assert result.exit_code == 1 and "error: --only-folds 'x': expected comma-separated integers" in result.output
    assert CliRunner().invoke(main, ["cv", "run", "--recipe", "demo", "--folds", "0"]).exit_code == 2


def test_paper_config_without_a_gpu_says_what_it_would_start_and_wants_yes(monkeypatch, tmp_path):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    paths = ["--runs", str(tmp_path / "runs"), "--tfrecords", str(tmp_path / "tfrecords")]
    paths += ["--data-root", str(tmp_path / "data")]
    command = ["cv", "run", "--recipe", "demo", "--config", "paper", *paths]
    dry = CliRunner().invoke(main, [*command, "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("sras-honest: ")
    refused = CliRunner().invoke(main, command)
    lines = refused.output.splitlines()
    assert refused.exit_code == 1 and "GPU jobs of demo, here without a GPU" in lines[0]
    assert any(line.startswith("  sras-honest: resnet_small_bn at 48 px") for line in lines)
    assert any(line.startswith("CPU time: about ") for line in lines)
    assert lines[-1] == "error: no GPU found: add --yes to start it on the CPU anyway, or use --config cpu"
    assert not (tmp_path / "runs").exists() and not (tmp_path / "tfrecords").exists()
    started = CliRunner().invoke(main, [*command, "--yes"])  # past the question: on to the missing data set
    assert started.exit_code == 1 and "data set 'synthetic' not found" in started.output


def test_one_name_one_meaning_across_commands():
    """An option name means one thing everywhere: --folds is convert's count (cv run picks folds with --only-folds),
    --parts a comma list (predict, sr evaluate), a recipe is --recipe, --scale sets an SR model's factor, SMOTE
    images are not `data synth`'s synthetic karyotypes, and the folder a command writes is its OUT argument where it
    is required (but predict's --out, which follows any number of INPUTS)."""
    runner = CliRunner()

    def options(*command):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, result.output
        return result.output

    assert "--folds" in options("data", "convert") and "--only-folds" in options("cv", "run")
    assert "--folds" not in options("cv", "run").replace("--only-folds", "")
    assert "--parts" in options("predict") and "--part " not in options("predict")
    assert "--parts" in options("sr", "evaluate")
    train = options("train")
    assert "--smote-images" in train and "--synthetic" not in train
    assert "SOURCE OUT" in options("weights", "convert") and "--out" not in options("weights", "convert")
    assert "--weights" in train and "imagenet where the backbone has it" in train
    assert "--recipe" in options("cv", "run") and "--recipe" in options("report", "table")
    assert "--scale" in options("sr", "train")  # sets the factor; the commands that read a model only check it
    assert "--scale" not in options("sr", "apply") and "--expect-scale" in options("sr", "evaluate")


@pytest.mark.parametrize(
    "setting, message",
    [
        ("convert.image_size=abc", "image_size must be int, got 'abc'"),
        ("convert.rotations=0", "rotations must be between 1 and 360, got 0"),
        ("convert.magnify=inf", "magnify must be float, got 'inf'"),
        ("convert.magnify=0.5", "--magnify 0.5 must be a finite number of at least 1"),
        ("convert.preprocess=squash", "unknown preprocess 'squash'"),
        ('convert.split={"seed": "x"}', "seed must be int, got 'x'"),
    ],
)
def test_a_conversion_setting_is_checked_where_it_is_given(setting, message):
    """``--set convert.*`` fails at once, naming the field (not a TensorFlow traceback mid-conversion)."""
    result = CliRunner().invoke(main, ["cv", "run", "--recipe", "demo", "--set", setting, "--dry-run"])
    (line,) = result.output.strip().splitlines()
    assert result.exit_code == 1 and line.startswith(f"error: {message}"), result.output
