"""Two-step transfer learning, Table 2: 11 architectures x {from scratch, ImageNet, two-step} x {G band, Q band},
stratified 5-fold CV, Macro-F1 / accuracy / AUC-OvR as mean ± SD over the folds.

    sras cv run --recipe tl_table2 --config paper    # GPU: 132 rows (both protocols) x 5 folds x 80 epochs
    sras cv run --recipe tl_table2 --config cpu      # here: see below
    sras cv run --recipe tl_table2 --config cpu --rows mobilenet_v3_large-scratch-Q-paper --only-folds 0,1  # one job
    sras report table --recipe tl_table2                      # results/tl_table2.md|csv, with the Table 2 pivot

Settings: sras_keras/experiments/two_step.py. ``--only-folds`` shards a row over machines (the report merges the
newest result of every fold); ``paper`` keeps the epoch with the best held-out-fold accuracy, as the study does,
``honest`` selects on the next fold. cpu: MobileNetV3-L and ResNet-34 at 64 px, 6 epochs, ``scratch`` and
``two_step`` only, the intermediate stage from scratch (no ImageNet weights here); about 5 h for all 16 rows on 2
cores. Paper (Table 2 is an image; our text copy gives only): Macro-F1 93-98% pre-trained; from scratch
ConvNeXt-Tiny, Swin-T and ViT-S/16 fail to converge (G band 31-76%), ResNet/ResNeXt 90-95%, VGG 80-89%; two-step
vs ImageNet on the Q band +0.8 to +3.3 points for the modern architectures. Results: results/tl_table2.md.
"""

from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment
from sras_keras.experiments.two_step import (
    APPROACHES,
    BANDS,
    CPU_CONVERT,
    CPU_TRAIN,
    PAPER_CONVERT,
    PAPER_TRAIN,
    make_row,
)
from sras_keras.models.tl_architectures import TL_ARCHITECTURES

CPU_ARCHITECTURES = ("MobileNetV3-L", "ResNet-34")


@register("tl_table2")
def tl_table2(config: str = "cpu") -> Experiment:
    """Table 2 of the two-step study (see the module docstring for the command, runtime and the paper's numbers)."""
    paper = config == "paper"
    architectures = tuple(TL_ARCHITECTURES) if paper else CPU_ARCHITECTURES
    approaches = APPROACHES if paper else ("scratch", "two_step")
    convert, train = (PAPER_CONVERT, PAPER_TRAIN) if paper else (CPU_CONVERT, CPU_TRAIN)
    rows = tuple(
        make_row(study_name, approach, band, protocol, convert=convert, train=train, imagenet=paper)
        for protocol in ("paper", "honest")
        for study_name in architectures
        for band in BANDS
        for approach in approaches
    )
    return Experiment("tl_table2", config, "bioimlab", rows, None, __doc__)
