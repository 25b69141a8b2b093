"""Prediction throughput of ``sras predict --model RUN CELLS... --karyotype``, in cells per minute.

Throughput does not depend on accuracy, so the run is trained quickly here: ``sras train`` for ``--epochs 1``
with ``--backbone resnet_small --weights none`` on the converted dataset ``--dataset`` (without its rotated
copies and SMOTE images, to keep it short). Then ``sras predict`` reads ``--cells K`` cell folders of the
dataset's source tree (its test cells first, from ``splits.json``), preprocesses them as the run was trained,
classifies and assigns each cell's karyotype; its ``summary.json`` gives ``cells_per_minute`` (model load and the
writing of outputs and karyograms are excluded). Previous reference: 329.6 cells/min (resnet_small, 64 px).
Both commands run as their own ``sras`` process. Usage:

    python benchmarks/predict_bench.py --dataset tfrecords/DATASET [--cells 24] [--epochs 1]

Writes ``runs/bench/predict/<stamp>-s0/{config,env,results}.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sras_keras.configs.records import Environment, write_record
from sras_keras.data.pipeline import load_manifest, load_splits

REFERENCE_CELLS_PER_MINUTE = 329.6


def sras(*arguments: str) -> float:
    """Run one ``sras`` command; its wall seconds. Its output is kept for the error message only."""
    command = [str(Path(sys.executable).with_name("sras")), *arguments]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - start


def pick_cells(dataset: Path, count: int) -> tuple[Path, list[str]]:
    """The source tree and ``count`` of its cells: the test cells first, then the others, each in name order."""
    splits = load_splits(dataset)
    source = Path(splits.source.root)
    cells = {e.cell_id for e in splits.images if e.cell_id and (source / e.cell_id).is_dir()}  # SMOTE: no cell
    test = sorted({e.cell_id for e in splits.images if e.part == "test"} & cells)
    return source, (test + sorted(cells - set(test)))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a converted dataset (sras data convert)")
    parser.add_argument("--cells", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--backbone", default="resnet_small")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()

    source, cells = pick_cells(args.dataset, args.cells)
    with tempfile.TemporaryDirectory(prefix="sras-predict-bench-") as scratch:
        run, out = Path(scratch) / "run", Path(scratch) / "predict"
        train_seconds = sras(
            "train",
            str(args.dataset),
            str(run),
            "--backbone",
            args.backbone,
            "--weights",
            "none",
            "--epochs",
            str(args.epochs),
            "--no-rotated-copies",
            "--no-smote-images",
        )
        predict_seconds = sras(
            "predict",
            "--model",
            str(run),
            *(str(source / cell) for cell in cells),
            "--karyotype",
            "--out",
            str(out),
            "--batch-size",
            str(args.batch_size),
        )
        summary = json.loads((out / "summary.json").read_text())
    results = {
        "backbone": args.backbone,
        "image_size": load_manifest(args.dataset).image_size,
        "cells": summary["cells"],
        "images": summary["images"],
        "seconds": summary["seconds"],
        "cells_per_minute": summary["cells_per_minute"],
        "images_per_s": round(summary["images"] / summary["seconds"], 1),
        "predict_command_seconds": round(predict_seconds, 1),
        "train_command_seconds": round(train_seconds, 1),
        "reference_cells_per_minute": REFERENCE_CELLS_PER_MINUTE,
    }
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from sras_keras.core.provenance import environment, new_run_dir

    record = new_run_dir(args.out, "bench/predict", 0)
    (record / "config.json").write_text(json.dumps({**vars(args), "cell_ids": cells}, default=str, indent=2))
    write_record(record, Environment.from_dict(environment(seed=0)))
    (record / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"sras predict --karyotype: {results['cells']} cells ({results['images']} images) in {results['seconds']} s: "
        f"{results['cells_per_minute']} cells/min; reference {REFERENCE_CELLS_PER_MINUTE}   ({record})"
    )


if __name__ == "__main__":
    main()
