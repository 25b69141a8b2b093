"""Every benchmark in one run (``make bench``): ``results/bench.md`` and ``results/bench.json``.

Runs, one after another and each as its own process (so each has the CPU to itself and its own peak RSS):

1. ``pipeline``: TFRecord pipeline vs per-file PIL+IAM vs ``image_dataset_from_directory`` (goal: >= 3x the
   faster baseline), ``pipeline_bench.py``;
2. ``convert``: ``sras data convert`` time, output size and peak RSS at 6 and 24 rotations (goal: peak RSS at 24
   within 1.1x of 6), ``convert_bench.py``;
3. ``sr``: SRAFBN (light) upscaling images/s, as ``sras sr apply`` (goal: >= 20 img/s), ``sr_bench.py``;
4. ``train_overhead``: ``sras train``'s loop vs a bare ``model.fit`` (goal: <= 5% slower),
   ``train_overhead_bench.py``;
5. ``predict``: ``sras predict --karyotype`` cells/min (reported, no goal), ``predict_bench.py``.

``train_overhead`` and ``predict`` share one small conversion made here in a temporary folder (holdout split
grouped by cell, 64 px, 2 rotations, SMOTE). Each script writes its ``runs/bench/<name>/<stamp>-s0/`` folder
(``config.json``, ``env.json``, ``results.json``); this collects them and writes, atomically, ``bench.md`` (the
machine, the commit, the date, a table per benchmark and a summary of the goals) and ``bench.json`` (all numbers).
Usage:

    python benchmarks/bench_all.py --data ../shared/data/bioimlab [--only pipeline,sr] [--quick]
                                   [--out runs] [--results results]

Expected time on 2 CPU cores (full BioImLab, nothing else running): about 20 minutes (pipeline ~2, convert ~6,
sr ~4.5, training conversion ~0.5, train_overhead ~3, predict ~1). ``--quick`` (about 300 images of whole cells,
64 px, one pass, 2 and 4 rotations, one cell for SR, 4 cells for predict) takes about 2 minutes and is for
tests: its numbers are not comparable with the goals. The exit status is 1 if any benchmark failed (the others
still run and are reported); goals that are missed are reported, not an error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _common import subset_tree  # noqa: E402

from sras_keras.configs.records import Environment, read_record  # noqa: E402
from sras_keras.core.io import atomic_path  # noqa: E402
from sras_keras.core.provenance import git_commit, usable_cpus  # noqa: E402
from sras_keras.core.tables import markdown_table  # noqa: E402
from sras_keras.data.pipeline import load_manifest  # noqa: E402
from sras_keras.experiments.report import portable  # noqa: E402

BENCHMARKS = ("pipeline", "convert", "sr", "train_overhead", "predict")
TITLES = {
    "pipeline": "Input pipeline: images/s",
    "convert": "Conversion: time, output size, peak RSS",
    "sr": "SR inference speed (SRAFBN)",
    "train_overhead": "Training-loop overhead: sras train vs bare model.fit",
    "predict": "Prediction throughput: sras predict --karyotype",
}
FULL = {
    "images": 0,
    "size": 224,
    "passes": 5,
    "rotations": [6, 24],
    "sr_images": 0,
    "train_size": 64,
    "train_rotations": 1,
    "epochs": 3,
    "batch_size": 64,
    "cells": 24,
}
QUICK = {
    "images": 300,
    "size": 64,
    "passes": 1,
    "rotations": [2, 4],
    "sr_images": 1,
    "train_size": 64,
    "train_rotations": 1,
    "epochs": 2,
    "batch_size": 32,
    "cells": 4,
}


# ---------------------------------------------------------------------------------------------------- running

# TensorFlow's C++ start-up lines (CUDA probing, oneDNN): neither echoed nor kept.
_NOISE = ("WARNING: All log messages before absl", "I0000 ", "W0000 ", "E0000 ")


def run_process(command: list[str], log) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, peak RSS MB, tail of its output) of one child process; its output is echoed."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    lines = []
    for line in process.stdout:
        if not line.startswith(_NOISE):
            lines.append(line)
            log("    " + line.rstrip())
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    return process.returncode, seconds, usage.ru_maxrss / 1024, "".join(lines[-40:])


def run_dirs(out: Path, name: str) -> set[Path]:
    folder = out / "bench" / name
    return {p for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()


def run_benchmark(name: str, command: list[str], out: Path, log) -> dict:
    """Run one benchmark script; its results.json, config.json, env.json and run folder, or its failure."""
    before = run_dirs(out, name)
    log(f"[{name}] {' '.join(command)}")
    code, seconds, rss, tail = run_process(command, log)
    record = {"command": command, "wall_s": round(seconds, 1), "process_peak_rss_mb": round(rss, 1)}
    new = sorted(run_dirs(out, name) - before)
    if code != 0 or not new or not (new[-1] / "results.json").is_file():
        log(f"[{name}] FAILED (exit {code})")
        return {**record, "status": "failed", "exit_code": code, "output_tail": tail}
    folder = new[-1]
    log(f"[{name}] done in {seconds:.0f} s ({folder})")
    return {
        **record,
        "status": "ok",
        "run_dir": str(folder),
        **{key: json.loads((folder / f"{key}.json").read_text()) for key in ("results", "config")},
        "env": read_record(Environment, folder).to_dict(),
    }


def convert_training_data(data: Path, out: Path, settings: dict, log) -> dict:
    command = [
        str(Path(sys.executable).with_name("sras")),
        "data",
        "convert",
        str(data),
        str(out),
        "--split",
        "holdout",
        "--image-size",
        str(settings["train_size"]),
        "--rotations",
        str(settings["train_rotations"]),
        "--smote",
    ]
    log(f"[training data] {' '.join(command)}")
    code, seconds, rss, tail = run_process(command, lambda line: None)
    record = {"command": command, "wall_s": round(seconds, 1), "process_peak_rss_mb": round(rss, 1)}
    if code != 0:
        log(f"[training data] FAILED (exit {code})\n{tail}")
        return {**record, "status": "failed", "exit_code": code, "output_tail": tail}
    records = load_manifest(out).counts["records"]
    log(f"[training data] {sum(records.values())} records in {seconds:.0f} s")
    return {**record, "status": "ok", "records": records}


# ---------------------------------------------------------------------------------------------------- machine


def machine() -> dict:
    """CPU model, cores, memory, OS and load: what the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    system = platform.platform()
    try:
        release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        system = f"{release.get('PRETTY_NAME', '').strip(chr(34))} ({system})"
    except OSError:
        pass
    usable = usable_cpus()
    return {
        "cpu": cpu,
        "cores_usable": usable,
        "cores_total": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": system,
        "python": platform.python_version(),
        "load_average_start": load_average(),
    }


def load_average() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------- report


def goals(benchmarks: dict) -> list[dict]:
    """One row per benchmark that ran: metric, measured value, goal, met."""
    rows = []

    def ok(name):
        return benchmarks.get(name, {}).get("status") == "ok"

    if ok("pipeline"):
        r = benchmarks["pipeline"]["results"]
        rows.append(
            {
                "benchmark": "pipeline",
                "metric": "TFRecord pipeline / faster baseline (deterministic)",
                "measured": r["speedup_vs_faster_baseline"],
                "unit": "x",
                "goal": ">= 3",
                "met": r["speedup_vs_faster_baseline"] >= 3,
            }
        )
    if ok("convert"):
        r = sorted(benchmarks["convert"]["results"], key=lambda c: c["rotations"])
        ratio = round(r[-1]["peak_rss_mb"] / r[0]["peak_rss_mb"], 3)
        rows.append(
            {
                "benchmark": "convert",
                "metric": f"conversion peak RSS, {r[-1]['rotations']} / {r[0]['rotations']} rotations",
                "measured": ratio,
                "unit": "x",
                "goal": "<= 1.1",
                "met": ratio <= 1.1,
            }
        )
    if ok("sr"):
        r = benchmarks["sr"]["results"]
        rows.append(
            {
                "benchmark": "sr",
                "metric": f"SR inference, SRAFBN {r['preset']} x{r['scale']}",
                "measured": r["images_per_s"],
                "unit": "img/s",
                "goal": f">= {r['goal_images_per_s']:g}",
                "met": r["images_per_s"] >= r["goal_images_per_s"],
            }
        )
    if ok("train_overhead"):
        r = benchmarks["train_overhead"]["results"]
        rows.append(
            {
                "benchmark": "train_overhead",
                "metric": "training-loop overhead vs bare model.fit",
                "measured": r["overhead_percent"],
                "unit": "%",
                "goal": "<= 5",
                "met": r["overhead_percent"] <= 5,
            }
        )
    if ok("predict"):
        r = benchmarks["predict"]["results"]
        rows.append(
            {
                "benchmark": "predict",
                "metric": "prediction throughput (sras predict --karyotype)",
                "measured": r["cells_per_minute"],
                "unit": "cells/min",
                "goal": f"report (reference {r['reference_cells_per_minute']:g})",
                "met": None,
            }
        )
    return rows


def table(header: list[str], rows: list[list]) -> list[str]:
    return [*markdown_table(header, rows), ""]


def benchmark_section(name: str, record: dict) -> list[str]:
    lines = [f"## {TITLES[name]}", ""]
    if record["status"] != "ok":
        return lines + [
            f"FAILED (exit {record.get('exit_code')}); last output:",
            "",
            "```",
            record.get("output_tail", "").rstrip(),
            "```",
            "",
        ]
    r, c = record["results"], record["config"]
    if name == "pipeline":
        baseline = max(r["per_file"]["images_per_s"], r["image_dataset_from_directory"]["images_per_s"])
        loaders = ("tfrecord", "tfrecord_unordered", "per_file", "image_dataset_from_directory")
        images = r["tfrecord"]["images"] // max(c["passes"], 1)
        lines += [
            f"{images} images at {c['size']} px, batch {c['batch_size']}, {c['passes']} rounds of one timed pass "
            "per loader after a warm-up; images/s is the median pass.",
            "",
        ]
        lines += table(
            [
                "loader",
                "images",
                "seconds",
                "images/s (median)",
                "passes images/s",
                "slowest batch s",
                "vs faster baseline",
            ],
            [
                [
                    k,
                    r[k]["images"],
                    r[k]["seconds"],
                    r[k]["images_per_s"],
                    ", ".join(f"{rate:.0f}" for rate in r[k].get("per_pass_images_per_s", [])),
                    r[k]["slowest_batch_s"],
                    f"{r[k]['images_per_s'] / baseline:.2f}x",
                ]
                for k in loaders
            ],
        )
    elif name == "convert":
        lines += [f"`sras data convert --split paper --image-size {c['size']}`, each conversion its own process.", ""]
        lines += table(
            ["rotations", "records", "seconds", "records/s", "output MB", "shards", "peak RSS MB"],
            [
                [
                    x["rotations"],
                    x["records"],
                    x["seconds"],
                    x["records_per_s"],
                    x["output_mb"],
                    x["shards"],
                    x["peak_rss_mb"],
                ]
                for x in r
            ],
        )
    elif name == "sr":
        lines += [
            "Untrained SRAFBN (speed does not depend on the weights), loaded as `sras sr apply` loads it; "
            "img/s from `apply_sr`'s clock (forward passes and PNG writes; model load, reading and cropping "
            "excluded), and with reading and cropping included.",
            "",
        ]
        lines += table(
            [
                "preset",
                "scale",
                "parameters",
                "batch",
                "images",
                "seconds",
                "img/s",
                "img/s with reading",
                "reference img/s",
                "goal img/s",
            ],
            [
                [
                    r["preset"],
                    r["scale"],
                    f"{r['parameters']:,}",
                    r["batch_size"],
                    r["images"],
                    r["seconds"],
                    r["images_per_s"],
                    r["wall_images_per_s_with_reading"],
                    r["reference_images_per_s"],
                    r["goal_images_per_s"],
                ]
            ],
        )
    elif name == "train_overhead":
        lines += [
            f"{c['backbone']}, batch {c['batch_size']}, {c['epochs']} epochs of "
            f"{r['train_images_per_epoch']} images (the first, tracing, excluded); same model, seed and "
            "input (`training_inputs`).",
            "",
        ]
        lines += table(
            ["loop", "images/s", "epoch seconds"],
            [
                [loop, r["images_per_s"][key], ", ".join(f"{s:.1f}" for s in r["epoch_seconds"][key])]
                for loop, key in (("bare model.fit", "bare"), ("sras train callbacks", "sras"))
            ],
        )
        lines += [f"Overhead: {r['overhead_percent']}%", ""]
    elif name == "predict":
        lines += [
            f"Run trained for {c['epochs']} epoch(s) ({r['backbone']}, {r['image_size']} px, weights none); "
            "throughput counts reading, preprocessing, prediction and karyotype assignment "
            "(model load and output writing excluded).",
            "",
        ]
        lines += table(
            ["cells", "images", "seconds", "cells/min", "images/s", "reference cells/min"],
            [
                [
                    r["cells"],
                    r["images"],
                    r["seconds"],
                    r["cells_per_minute"],
                    r["images_per_s"],
                    r["reference_cells_per_minute"],
                ]
            ],
        )
    return lines


def markdown(report: dict) -> str:
    m, env = report["machine"], report.get("software", {})
    lines = ["# Benchmarks (`make bench`)", ""]
    if report["quick"]:
        lines += [
            "**Quick run** (`--quick`: tiny sizes): the numbers check that everything runs; they are not "
            "comparable with the goals.",
            "",
        ]
    lines += [
        f"- Date: {report['created']}",
        f"- Commit: `{report['commit']}`",
        f"- Data: `{report['data']}`"
        + (f" (subset: {report['subset_images']} images of whole cells)" if report.get("subset_images") else ""),
        f"- CPU: {m['cpu']}, {m['cores_usable']} usable cores ({m['cores_total']} total), {m['memory_gb']} GB memory",
        f"- OS: {m['os']}",
        f"- Python {m['python']}, TensorFlow {env.get('tensorflow', '?')}, Keras {env.get('keras', '?')}, "
        f"NumPy {env.get('numpy', '?')}, sras-keras {env.get('sras_keras', '?')}, GPUs: "
        f"{', '.join(env.get('gpus') or []) or 'none'}",
        f"- Load average (1, 5, 15 min) at start {m['load_average_start']}, at end {m.get('load_average_end')}",
        f"- Total time: {report['total_s'] / 60:.1f} min",
        "",
    ]
    lines += ["## Goals", ""]
    lines += table(
        ["metric", "measured", "goal", "met"],
        [
            [
                g["metric"],
                f"{g['measured']} {g['unit']}",
                g["goal"],
                "n/a" if g["met"] is None else ("yes" if g["met"] else "no"),
            ]
            for g in report["goals"]
        ],
    )
    for name, record in report["benchmarks"].items():
        lines += benchmark_section(name, record)
    lines += ["## Processes", ""]
    rows = [
        [name, r["status"], r["wall_s"], r["process_peak_rss_mb"], f"`{r.get('run_dir', '-')}`"]
        for name, r in report["benchmarks"].items()
    ]
    if report.get("training_data"):
        t = report["training_data"]
        rows.insert(0, ["training data (convert)", t["status"], t["wall_s"], t["process_peak_rss_mb"], "-"])
    lines += table(["step", "status", "wall s", "peak RSS MB", "run folder"], rows)
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text)


# ---------------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a BioImLab-layout source tree")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests (numbers not comparable)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="root of the benchmarks' run folders")
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder for bench.md and bench.json")
    group = parser.add_argument_group("sizes (defaults: the full run, or --quick's)")
    group.add_argument("--images", type=int, help="use whole cells holding at least N images (0 = all)")
    group.add_argument("--size", type=int, help="pipeline and convert image size")
    group.add_argument("--passes", type=int, help="pipeline timed passes")
    group.add_argument("--rotations", type=int, nargs=2, help="convert: the two rotation counts")
    group.add_argument("--sr-images", type=int, help="sr: whole cells holding at least N images (0 = all)")
    group.add_argument("--train-size", type=int, help="image size of the training conversion")
    group.add_argument("--train-rotations", type=int, help="rotations of the training conversion")
    group.add_argument("--epochs", type=int, help="train_overhead epochs (the first is excluded)")
    group.add_argument("--batch-size", type=int, help="pipeline and train_overhead batch size")
    group.add_argument("--cells", type=int, help="predict: cells")
    args = parser.parse_args(argv)

    selected = BENCHMARKS if not args.only else tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = [n for n in selected if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if not args.data.is_dir():
        parser.error(f"{args.data}: no such folder")
    settings = dict(QUICK if args.quick else FULL)
    settings.update({k: v for k, v in vars(args).items() if k in settings and v is not None})
    out, results = args.out.resolve(), args.results.resolve()
    results.mkdir(parents=True, exist_ok=True)

    def log(line):
        print(line, flush=True)

    started = time.perf_counter()
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(HERE.parent),
        "quick": args.quick,
        "data": str(args.data.resolve()),
        "subset_images": settings["images"],
        "settings": settings,
        "machine": machine(),
        "benchmarks": {},
    }
    python, scripts = sys.executable, HERE
    scratch = Path(tempfile.mkdtemp(prefix="sras-bench-all-"))
    try:
        data = subset_tree(args.data, settings["images"], scratch / "source") if settings["images"] else args.data
        data = data.resolve()
        common = ["--out", str(out)]
        training_data = scratch / "train64"
        for name in selected:
            if name == "pipeline":
                command = [
                    python,
                    str(scripts / "pipeline_bench.py"),
                    "--data",
                    str(data),
                    "--size",
                    str(settings["size"]),
                    "--passes",
                    str(settings["passes"]),
                    "--batch-size",
                    str(settings["batch_size"]),
                ]
            elif name == "convert":
                command = [
                    python,
                    str(scripts / "convert_bench.py"),
                    "--data",
                    str(data),
                    "--size",
                    str(settings["size"]),
                    "--rotations",
                    *map(str, settings["rotations"]),
                ]
            elif name == "sr":
                command = [
                    python,
                    str(scripts / "sr_bench.py"),
                    "--data",
                    str(data),
                    "--images",
                    str(settings["sr_images"]),
                ]
            else:
                if "training_data" not in report:
                    report["training_data"] = convert_training_data(data, training_data, settings, log)
                if report["training_data"]["status"] != "ok":
                    report["benchmarks"][name] = {**report["training_data"], "status": "failed"}
                    continue
                if name == "train_overhead":
                    command = [
                        python,
                        str(scripts / "train_overhead_bench.py"),
                        "--data",
                        str(training_data),
                        "--epochs",
                        str(settings["epochs"]),
                        "--batch-size",
                        str(settings["batch_size"]),
                    ]
                else:
                    command = [
                        python,
                        str(scripts / "predict_bench.py"),
                        "--dataset",
                        str(training_data),
                        "--cells",
                        str(settings["cells"]),
                    ]
            report["benchmarks"][name] = run_benchmark(name, command + common, out, log)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    envs = [r["env"] for r in report["benchmarks"].values() if r.get("status") == "ok"]
    if envs:
        report["software"] = {
            k: envs[0].get(k)
            for k in ("python", "tensorflow", "keras", "numpy", "sras_keras", "gpus", "platform", "git_commit")
        }
    report["machine"]["load_average_end"] = load_average()
    report["total_s"] = round(time.perf_counter() - started, 1)
    report["goals"] = goals(report["benchmarks"])
    report = portable(json.loads(json.dumps(report, default=str)))  # no machine path in results/
    write_atomic(results / "bench.json", json.dumps(report, indent=2, default=str) + "\n")
    write_atomic(results / "bench.md", markdown(report) + "\n")
    log("")
    for g in report["goals"]:
        met = "n/a" if g["met"] is None else ("met" if g["met"] else "NOT met")
        log(f"{g['metric']}: {g['measured']} {g['unit']} (goal {g['goal']}: {met})")
    log(f"{results / 'bench.md'}, {results / 'bench.json'}  ({report['total_s'] / 60:.1f} min)")
    failed = [n for n, r in report["benchmarks"].items() if r.get("status") != "ok"]
    if failed:
        log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
