"""Two-step transfer learning, Table 2: 11 architectures x {from scratch, ImageNet, two-step} x {G band, Q band},
stratified 5-fold CV, Macro-F1 / accuracy / AUC-OvR as mean ± SD over the folds.

    sras cv run --recipe tl_table2 --config paper    # GPU: 132 rows (both protocols) x 5 folds x 80 epochs
    sras cv run --recipe tl_table2 --config cpu      # here: see below
    sras cv run --recipe tl_table2 --config cpu --rows mobilenet_v3_large-scratch-Q-paper --only-folds 0,1  # one job
    sras report table --recipe tl_table2                      # results/tl_table2.md|csv, with the Table 2 pivot

Settings: `recipes/_two_step.py`. Each row trains one model per fold (`--only-folds` runs a subset, so a row can be
sharded over machines; the report merges the newest result of every fold). ``protocol=paper`` keeps the epoch
with the best held-out-fold accuracy, as the study does; ``protocol=honest`` selects on the next fold and tests on
the held-out fold once.

The paper's Table 2 is an image in the article; our text copy gives only: Macro-F1 93-98% for pre-trained models;
from scratch, ConvNeXt-Tiny, Swin-T and ViT-S/16 fail to converge (G band 31-76%), ResNet/ResNeXt reach 90-95%,
VGG 80-89%; two-step vs ImageNet on the Q band: +0.8 to +3.3 points for the modern architectures.

The cpu config: MobileNetV3-L and ResNet-34 at 64 px, 6 epochs (3 Adam + 3 SGD), at most 4 minutes a fold,
approaches ``scratch`` and ``two_step`` only, honest and paper protocols. ImageNet weights cannot be fetched
here, so its two-step rows start the intermediate stage from scratch (scratch -> other band -> target): they test
whether the other band helps, not ImageNet's part. A fold takes 3-4 minutes here (2 cores), a pretraining stage
3-4 more: about 75 minutes per architecture and protocol (4 rows), about 5 h for all 16 rows.

Measured here (2 cores, seed 0, the four MobileNetV3-L paper-protocol rows, 76 min in all; results/tl_table2.md):
Macro-F1 G band 77.99 ± 3.47 from scratch vs 75.09 ± 5.26 two-step; Q band 59.29 ± 7.68 vs 73.98 ± 2.17. The
other band as an intermediate stage helps the Q band (+14.1 points, paired-bootstrap 95% CI [+12.7, +15.5]) and
costs the G band 2.8 points ([-4.8, -0.9]) at this scale (tl_fig2).
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
