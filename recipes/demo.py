"""The demo: the whole SRAS-net chain (SRAFBN -> IAM -> SMOTE -> classifier, honest protocol) on the embedded
synthetic karyotypes, in a few minutes on a CPU. No download.

    make demo     # = sras data synth demo/data/synthetic --cells 24, then:
    sras cv run --recipe demo --data-root demo/data --runs demo/runs --tfrecords demo/tfrecords
    sras report table --recipe demo --runs demo/runs --results demo/results
    sras predict --model RUN HELD_OUT_CELLS... --karyotype --out demo/predict

    python recipes/demo.py summary RUN demo/predict --results demo/results/demo.md   # the closing summary

Measured on 2 CPU cores beside a low-priority job: `make demo` took 3.1 min wall after the install, held out 5 of
its 24 cells and scored 97.4% per image (230 images), 100.0% with whole-cell assignment (`sras predict
--karyotype`), all 46 chromosomes right in 5 of 5 cells: results/demo.md.

There is no paper number for synthetic data; the demo shows the machinery, not the science. Results:
demo/results/demo.md; karyograms of the held-out cells: demo/predict/karyograms/.
"""

import argparse
import json
import time
from pathlib import Path

from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.inference import Preprocessing
from sras_keras.configs.records import ClassifierMetrics, RunData, Splits, read_config, read_record
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.configs.train import (
    AugmentationConfig,
    DataConfig,
    ModelConfig,
    OptimizationConfig,
    RuntimeConfig,
    TrainConfig,
)
from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment, Row, protocol_split

# 48 px canvases; 12 stored rotations of which training reads those within 30 degrees of upright (0, +-30): the
# synthetic crops, like a karyogram's, stand near upright, so upside-down copies would only spend the budget.
CONVERT = ConvertConfig(image_size=48, rotations=12, smote=True)
# The headline recipe's small BatchNorm ResNet and its cosine decay (BatchNorm needs the decay), shortened: the
# run ends by its schedule; the budget is a safety net.
TRAIN = TrainConfig(
    model=ModelConfig(backbone="resnet_small_bn", weights="none", dropout=0.2),
    data=DataConfig(max_rotation=30),
    augmentation=AugmentationConfig(flip="horizontal"),
    optimization=OptimizationConfig(batch_size=64, epochs=6, learning_rate=3e-3, schedule="cosine", patience=6),
    runtime=RuntimeConfig(max_minutes=3),
)
# SRAFBN's smallest preset, briefly trained: it upscales every crop x2 as in the paper, in seconds.
SR = SRTrainConfig(preset="tiny", epochs=2, steps_per_epoch=20, val_batches=2, halve_at=(), max_minutes=1)


@register("demo")
def demo(config: str = "cpu") -> Experiment:
    """The demo (see the module docstring); both configs are the same small CPU run."""
    convert = protocol_split("honest", 0, CONVERT)
    row = Row("sras-honest", "SRAS-net (ResNet-small BN, synthetic demo)", convert, TRAIN, sr=True, size_evidence=True)
    return Experiment("demo", config, "synthetic", (row,), SR, __doc__)


NEXT = ".venv/bin/sras predict --model bioimlab-q YOUR_CELL_FOLDER --karyotype --out predictions"


def held_out_cells(run: Path) -> list[str]:
    """The run's held-out cells (its test part; SMOTE's images belong to no cell)."""
    data = read_record(RunData, run)
    images = read_record(Splits, Path(data.data_dir)).images
    test = {image.cell_id for image in images if image.part == data.test and not image.synthetic}
    return sorted(test, key=lambda cell: (len(cell), cell))


def summary(run: Path, predicted: Path, results: Path, started: float | None = None) -> str:
    """What ran and what it scored on the held-out cells, every number read from what the run and ``sras predict``
    wrote (or the clock since ``started``)."""
    metrics = read_record(ClassifierMetrics, run)
    scores = json.loads((predicted / "summary.json").read_text())
    splits = read_record(Splits, Path(read_record(RunData, run).data_dir))
    cells = {
        part: {image.cell_id for image in splits.images if image.part == part and not image.synthetic}
        for part in splits.counts
    }
    preprocessing, train = read_record(Preprocessing, run), read_config(TrainConfig, run)
    chain = [f"SRAFBN x{SR.scale} ({SR.preset})"] if preprocessing.sr_model else []
    chain += [f"{preprocessing.preprocess.upper()} {preprocessing.image_size} px", "SMOTE"]
    chain.append(f"{train.model.backbone} ({train.optimization.epochs} epochs, {train.optimization.schedule})")
    per_image = f"{100 * scores['accuracy_argmax']:.1f}% per image"
    if abs(scores["accuracy_argmax"] - metrics.accuracy) > 5e-4:  # the same cells, read as files and as records
        per_image += f" (the run's own evaluation: {100 * metrics.accuracy:.1f}% of {metrics.images})"
    took = f" in {(time.time() - started) / 60:.1f} min" if started else ""
    return "\n".join(
        [
            "",
            f"Demo finished{took}: {' -> '.join(chain)}, trained on {len(cells.get('train', ()))} synthetic cells "
            f"(validated on {len(cells.get('val', ()))}), tested on {len(cells.get('test', ()))} held-out cells.",
            f"Held-out ({scores['cells']} cells, {scores['labelled_images']} images): {per_image}, "
            f"{100 * scores['accuracy_assigned']:.1f}% with whole-cell assignment; every chromosome right in "
            f"{scores['cells_all_assigned_right']}/{scores['cells']} cells, sex in "
            f"{scores['sex_correct_cells']}/{scores['sex_cells']}.",
            f"Results: {results}   Karyograms: {predicted / 'karyograms'}/   "
            f"Predictions: {predicted / 'predictions.csv'}",
            f"Next: classify your own images with the shipped model:  {NEXT}",
        ]
    )


if __name__ == "__main__":  # make demo's last steps: which cells to predict, then the closing summary
    parser = argparse.ArgumentParser(prog="python recipes/demo.py")
    commands = parser.add_subparsers(dest="command", required=True)
    cells_command = commands.add_parser("cells", help="print SOURCE/<cell> for every held-out cell of RUN")
    cells_command.add_argument("run", type=Path)
    cells_command.add_argument("source", type=Path)
    summary_command = commands.add_parser("summary", help="print the closing summary")
    summary_command.add_argument("run", type=Path)
    summary_command.add_argument("predicted", type=Path)
    summary_command.add_argument("--results", type=Path, required=True)
    summary_command.add_argument("--started", type=float, default=None, help="the start, in seconds since the epoch")
    args = parser.parse_args()
    if args.command == "cells":
        print("\n".join(str(args.source / cell) for cell in held_out_cells(args.run)))
    else:
        print(summary(args.run, args.predicted, args.results, args.started))
