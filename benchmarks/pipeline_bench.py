"""Images/s of three ways to feed the same BioImLab images to a model, measured in one run.

1. ``tfrecord``: our shards through ``sras_keras.data.pipeline.make_dataset`` (IAM done once, at conversion);
   ``tfrecord_unordered`` the same with ``deterministic=False`` (batches in completion order).
2. ``per_file``: what a script without the suite does: PIL decode + IAM per image in Python, batched by hand.
3. ``image_dataset_from_directory``: Keras' own folder loader (class folders; resizes with aspect-preserving
   padding instead of IAM, and decodes BMP only as RGB: TF's BMP decoder refuses 1 channel).

Each loader runs one warm-up pass, then ``--passes`` rounds of one timed pass per loader (reported: the median
images/s of its passes); time is taken per batch and summed, so a stall at the end of a pipeline shows up as one
slow batch rather than hiding in the total. Usage:

    python benchmarks/pipeline_bench.py --data ../shared/data/bioimlab [--images 0] [--size 224] [--passes 5]

Writes ``runs/bench/pipeline/<stamp>-s0/{config,env,results}.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.records import Environment, write_record
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.data.convert import convert
from sras_keras.data.iam import iam
from sras_keras.data.pipeline import make_dataset
from sras_keras.data.readers import read_image, scan_source


def timed_pass(batches) -> tuple[int, float, float]:
    """(images, seconds, slowest batch seconds) over one pass."""
    images, total, slowest = 0, 0.0, 0.0
    iterator = iter(batches)
    while True:
        start = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            break
        elapsed = time.perf_counter() - start
        total += elapsed
        slowest = max(slowest, elapsed)
        images += int(batch[0].shape[0])
    return images, total, slowest


def per_file_batches(root: Path, paths: list[str], size: int, batch_size: int):
    fit = tf.function(lambda image: iam(image, size), input_signature=[tf.TensorSpec([None, None], tf.uint8)])
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        images = np.stack([fit(read_image(root / path)[0]).numpy() for path in chunk]).astype(np.float32)
        yield images, np.zeros(len(chunk))


def class_folder_view(root: Path, images, folder: Path) -> None:
    """Symlinks in a ``<class>/<file>`` layout, which image_dataset_from_directory needs."""
    for image in images:
        target = folder / image.class_name
        target.mkdir(exist_ok=True)
        (target / image.path.replace("/", "_").replace(" ", "_")).symlink_to((root / image.path).resolve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--images", type=int, default=0, help="how many images (the first N by path; 0 = all)")
    parser.add_argument("--passes", type=int, default=5, help="timed rounds (one pass per loader each)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()

    _, images = scan_source(args.data)
    images = images[: args.images or None]
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "classes").mkdir()
        class_folder_view(args.data, images, scratch / "classes")
        config = ConvertConfig(split=SplitConfig("kfold", folds=2), image_size=args.size, records_per_shard=256)
        convert(scratch / "classes", scratch / "tfrecords", config, log=lambda line: None)

        loaders = {
            "tfrecord": lambda: make_dataset(scratch / "tfrecords", ["fold0", "fold1"], batch_size=args.batch_size),
            "tfrecord_unordered": lambda: make_dataset(
                scratch / "tfrecords", ["fold0", "fold1"], batch_size=args.batch_size, deterministic=False
            ),
            "per_file": lambda: per_file_batches(
                scratch / "classes",
                [f"{i.class_name}/{i.path.replace('/', '_').replace(' ', '_')}" for i in images],
                args.size,
                args.batch_size,
            ),
            "image_dataset_from_directory": lambda: tf.keras.utils.image_dataset_from_directory(
                scratch / "classes",
                color_mode="rgb",
                image_size=(args.size, args.size),
                pad_to_aspect_ratio=True,
                batch_size=args.batch_size,
                shuffle=False,
            ),
        }
        for make in loaders.values():
            timed_pass(make())  # warm-up: file cache, tracing
        # Rounds of one pass per loader, so a slow spell of a shared machine hits every loader alike; each loader's
        # images/s is the median of its passes.
        passes = {name: [] for name in loaders}
        for _ in range(args.passes):
            for name, make in loaders.items():
                passes[name].append(timed_pass(make()))
        for name, timed in passes.items():
            rates = [count / seconds for count, seconds, _ in timed]
            results[name] = {
                "images": sum(p[0] for p in timed),
                "seconds": round(sum(p[1] for p in timed), 3),
                "images_per_s": round(float(np.median(rates)), 1),
                "per_pass_images_per_s": [round(rate, 1) for rate in rates],
                "slowest_batch_s": round(max(p[2] for p in timed), 3),
            }

    fastest_baseline = max(results["per_file"]["images_per_s"], results["image_dataset_from_directory"]["images_per_s"])
    results["speedup_vs_faster_baseline"] = round(results["tfrecord"]["images_per_s"] / fastest_baseline, 2)
    results["unordered_speedup_vs_faster_baseline"] = round(
        results["tfrecord_unordered"]["images_per_s"] / fastest_baseline, 2
    )
    run = new_run_dir(args.out, "bench/pipeline", 0)
    (run / "config.json").write_text(json.dumps(vars(args), default=str, indent=2))
    write_record(run, Environment.from_dict(environment(seed=0)))
    (run / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{'loader':<30}{'images/s':>10}{'slowest batch s':>17}")
    for name in loaders:
        print(f"{name:<30}{results[name]['images_per_s']:>10}{results[name]['slowest_batch_s']:>17}")
    print(
        f"tfrecord / faster baseline: {results['speedup_vs_faster_baseline']}x (deterministic), "
        f"{results['unordered_speedup_vs_faster_baseline']}x (unordered)   ({run})"
    )


if __name__ == "__main__":
    main()
