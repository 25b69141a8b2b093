"""``make bench`` (benchmarks/bench_all.py): the report from canned results, and ``--quick`` end to end."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = (
    "## Goals",
    "## Input pipeline",
    "## Conversion",
    "## SR inference speed",
    "## Training-loop overhead",
    "## Prediction throughput",
    "## Processes",
)


def load_bench_all():
    spec = importlib.util.spec_from_file_location("bench_all", ROOT / "benchmarks" / "bench_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def canned_report() -> dict:
    loader = {"images": 100, "seconds": 1.0, "images_per_s": 100.0, "slowest_batch_s": 0.1}
    ok = {"status": "ok", "wall_s": 1.0, "process_peak_rss_mb": 500.0, "run_dir": "runs/bench/x"}
    benchmarks = {
        "pipeline": {
            **ok,
            "config": {"passes": 1, "size": 64, "batch_size": 32},
            "results": {
                "tfrecord": {**loader, "images_per_s": 400.0},
                "tfrecord_unordered": loader,
                "per_file": loader,
                "image_dataset_from_directory": {**loader, "images_per_s": 120.0},
                "speedup_vs_faster_baseline": 3.33,
                "unordered_speedup_vs_faster_baseline": 0.83,
            },
        },
        "convert": {
            **ok,
            "config": {"size": 64},
            "results": [
                {
                    "rotations": 24,
                    "records": 9,
                    "seconds": 1,
                    "records_per_s": 9,
                    "output_mb": 1,
                    "shards": 1,
                    "peak_rss_mb": 700.0,
                },
                {
                    "rotations": 6,
                    "records": 3,
                    "seconds": 1,
                    "records_per_s": 3,
                    "output_mb": 1,
                    "shards": 1,
                    "peak_rss_mb": 600.0,
                },
            ],
        },
        "sr": {
            **ok,
            "config": {},
            "results": {
                "preset": "light",
                "scale": 2,
                "parameters": 283794,
                "batch_size": 16,
                "images": 46,
                "seconds": 2.0,
                "images_per_s": 23.0,
                "wall_images_per_s_with_reading": 20.0,
                "reference_images_per_s": 22.3,
                "goal_images_per_s": 20.0,
            },
        },
        "train_overhead": {
            **ok,
            "config": {"backbone": "resnet_small", "batch_size": 32, "epochs": 2},
            "results": {
                "train_images_per_epoch": 64,
                "epoch_seconds": {"bare": [2, 1], "sras": [2, 1]},
                "images_per_s": {"bare": 64.0, "sras": 60.0},
                "overhead_percent": 6.67,
            },
        },
        "predict": {
            "status": "failed",
            "exit_code": 1,
            "wall_s": 1.0,
            "process_peak_rss_mb": 1.0,
            "output_tail": "boom",
        },
    }
    return {
        "created": "now",
        "commit": "abc",
        "quick": True,
        "data": "d",
        "subset_images": 0,
        "machine": {
            "cpu": "cpu",
            "cores_usable": 2,
            "cores_total": 2,
            "memory_gb": 8,
            "os": "os",
            "python": "3.11",
            "load_average_start": [0.1, 0.1, 0.1],
            "load_average_end": None,
        },
        "total_s": 60,
        "benchmarks": benchmarks,
    }


def test_goals_and_markdown_from_canned_results():
    bench_all = load_bench_all()
    report = canned_report()
    goals = {g["benchmark"]: g for g in bench_all.goals(report["benchmarks"])}
    assert set(goals) == {"pipeline", "convert", "sr", "train_overhead"}  # predict failed: no row
    assert goals["pipeline"]["met"] and goals["sr"]["met"] and not goals["train_overhead"]["met"]
    assert goals["convert"]["measured"] == pytest.approx(700 / 600, abs=1e-3) and not goals["convert"]["met"]
    report["goals"] = list(goals.values())
    text = bench_all.markdown(report)
    assert all(section in text for section in SECTIONS)
    assert "| conversion peak RSS, 24 / 6 rotations | 1.167 x | <= 1.1 | no |" in text
    assert "FAILED (exit 1)" in text and "boom" in text


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path):
    """All five benchmarks with --quick on 8 synthetic cells (4 male: SMOTE needs 2 Y in training). Slow: about
    2.5 minutes on 2 cores (9 TensorFlow processes, each ~6 s just to start)."""
    from sras_keras.data.synthetic import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "source", n_cells=8, seed=1, male_fraction=0.5)
    results = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_all.py"),
            "--data",
            str(tmp_path / "source"),
            "--quick",
            "--images",
            "0",
            "--size",
            "32",
            "--train-size",
            "32",
            "--cells",
            "2",
            "--out",
            str(tmp_path / "runs"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    text = (results / "bench.md").read_text()
    assert all(section in text for section in SECTIONS)
    assert "FAILED" not in text and "?" not in text.split("## Goals")[0]  # versions filled in from env.json
    goals = text.split("## Goals")[1].split("##")[0].splitlines()
    goal_rows = [line for line in goals if line.startswith("| ")][1:]  # minus the header
    assert len(goal_rows) == 5
    for row in goal_rows:
        assert re.search(r"\| \d+(\.\d+)? (x|img/s|%|cells/min) \|", row), row
        assert row.rstrip().endswith(("| yes |", "| no |", "| n/a |"))
    report = json.loads((results / "bench.json").read_text())
    b = {name: record["results"] for name, record in report["benchmarks"].items()}
    assert set(b) == {"pipeline", "convert", "sr", "train_overhead", "predict"}
    assert all(b["pipeline"][k]["images_per_s"] > 0 for k in ("tfrecord", "per_file", "image_dataset_from_directory"))
    assert [c["rotations"] for c in b["convert"]] == [2, 4] and all(c["peak_rss_mb"] > 0 for c in b["convert"])
    assert b["sr"]["images_per_s"] > 0 and b["sr"]["images"] == 46
    assert all(rate > 0 for rate in b["train_overhead"]["images_per_s"].values())
    assert b["predict"]["cells_per_minute"] > 0 and b["predict"]["cells"] == 2
    assert report["commit"] and report["machine"]["cores_usable"] >= 1
    assert sorted(p.name for p in results.iterdir()) == ["bench.json", "bench.md"]  # no temporary file left
