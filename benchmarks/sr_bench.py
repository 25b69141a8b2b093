"""SR inference speed: images/s of SRAFBN upscaling (``sras sr apply``'s ``apply_sr``) on BioImLab images.

The speed does not depend on the trained weights, so an untrained SRAFBN of ``--preset`` (default ``light``) is
built, saved as ``.keras`` and loaded back the way ``sras sr apply`` loads a model (``load_sr_model``). Reported:
``apply_sr``'s own throughput (its clock covers the batched forward passes and the PNG writes; model load, image
reading and cropping are excluded), and the wall time of the whole call beside it. Reference: 22.3 img/s for the
light preset on all 5,474 BioImLab images (goal: 20 img/s). Usage:

    python benchmarks/sr_bench.py --data ../shared/data/bioimlab [--images 0] [--preset light] [--batch-size 16]

``--images N`` upscales whole cells (male and female alternating) holding at least N images; 0 = all.
Writes ``runs/bench/sr/<stamp>-s0/{config,env,results}.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import subset_tree

from sras_keras.configs.records import Environment, write_record
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.inference.upscale import apply_sr
from sras_keras.models import SRAFBN
from sras_keras.models.saving import load_sr_model

REFERENCE_IMAGES_PER_S = 22.3  # light preset, all 5,474 BioImLab images, this machine class (2 CPU cores)
GOAL_IMAGES_PER_S = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--images", type=int, default=0, help="whole cells holding at least N images; 0 = all")
    parser.add_argument("--preset", default="light")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()

    import keras

    keras.utils.set_random_seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="sras-sr-bench-") as scratch:
        scratch = Path(scratch)
        source = subset_tree(args.data, args.images, scratch / "source", min_cells=1) if args.images else args.data
        model = SRAFBN.from_preset(args.preset, scale=args.scale)
        model(np.zeros((1, 16, 16, 1), np.float32))  # build the weights
        parameters = int(model.count_params())
        model.save(scratch / "srafbn.keras")
        model = load_sr_model(scratch / "srafbn.keras")  # as `sras sr apply` does; not timed
        start = time.perf_counter()
        summary = apply_sr(model, scratch / "srafbn.keras", source, scratch / "upscaled", batch_size=args.batch_size)
        wall = time.perf_counter() - start
    results = {
        "preset": args.preset,
        "scale": args.scale,
        "parameters": parameters,
        "batch_size": args.batch_size,
        "images": summary.images,
        "seconds": summary.seconds,
        "images_per_s": summary.images_per_s,
        "wall_seconds_with_reading": round(wall, 2),
        "wall_images_per_s_with_reading": round(summary.images / wall, 2),
        "reference_images_per_s": REFERENCE_IMAGES_PER_S,
        "goal_images_per_s": GOAL_IMAGES_PER_S,
    }
    run = new_run_dir(args.out, "bench/sr", args.seed)
    (run / "config.json").write_text(json.dumps(vars(args), default=str, indent=2))
    write_record(run, Environment.from_dict(environment(seed=args.seed)))
    (run / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"SRAFBN {args.preset} x{args.scale} ({parameters:,} parameters): {results['images']} images, "
        f"{results['images_per_s']} img/s upscaling ({results['wall_images_per_s_with_reading']} img/s with "
        f"reading and cropping); reference {REFERENCE_IMAGES_PER_S}, goal {GOAL_IMAGES_PER_S}   ({run})"
    )


if __name__ == "__main__":
    main()
