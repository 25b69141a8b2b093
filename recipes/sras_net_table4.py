"""SRAS-net Table 4 and Figs 7-8: per-class accuracy, precision, recall and F1, confusion matrix and t-SNE of the
best model (SRAS-net with Inception-ResNet-V2), under the paper's protocol and the honest one.

    sras cv run --recipe sras_net_table4 --config paper   # GPU
    sras cv run --recipe sras_net_table4 --config cpu     # here: resnet_small_bn, 64 px, ~1 h (two SR models)
    sras report table --recipe sras_net_table4                     # overall rows, then each row's per-class table

Paper: 97.55% overall; per class 93.62 (chr 4) to 100; X 97.87, Y 100. Each run writes
figures/confusion_matrix.png (Fig 7) and figures/tsne.png (Fig 8).

Beyond the paper, each row then fits cell-relative size evidence (`sras size-evidence`). Results:
results/sras_net_table4.md.
"""

import dataclasses

from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment
from sras_keras.experiments.sras_net import CPU_SMALL_BACKBONE, PAPER_LABEL, make_row, sr_config

# Table 4 as printed: class, accuracy, precision, recall, F1 (%). The paper's per-class accuracy is not its recall
# (class 3: 95.83 vs 97.92) and is not defined in the text; it is reported as printed.
PAPER_PER_CLASS = (
    ("1", 100.0, 100.0, 100.0, 100.0),
    ("2", 100.0, 97.96, 100.0, 98.97),
    ("3", 95.83, 100.0, 97.92, 98.95),
    ("4", 93.62, 97.78, 93.62, 95.65),
    ("5", 95.83, 95.83, 95.83, 95.83),
    ("6", 100.0, 100.0, 100.0, 100.0),
    ("7", 97.92, 100.0, 100.0, 100.0),
    ("8", 93.75, 100.0, 95.83, 97.87),
    ("9", 97.87, 93.75, 95.74, 94.74),
    ("10", 95.83, 95.83, 95.83, 95.83),
    ("11", 97.92, 97.92, 97.92, 97.92),
    ("12", 95.74, 100.0, 97.87, 98.92),
    ("13", 97.92, 100.0, 97.92, 98.95),
    ("14", 95.74, 100.0, 89.36, 94.38),
    ("15", 100.0, 94.12, 100.0, 96.97),
    ("16", 100.0, 97.96, 100.0, 98.97),
    ("17", 97.87, 95.83, 97.87, 96.84),
    ("18", 97.92, 100.0, 97.92, 98.95),
    ("19", 97.87, 92.16, 100.0, 95.92),
    ("20", 97.92, 97.92, 97.92, 97.92),
    ("21", 100.0, 100.0, 97.87, 98.92),
    ("22", 93.75, 97.83, 93.75, 95.74),
    ("X", 97.87, 97.87, 95.74, 96.79),
    ("Y", 100.0, 100.0, 100.0, 100.0),
)


@register("sras_net_table4")
def sras_net_table4(config: str = "cpu") -> Experiment:
    """SRAS-net Table 4 (see the module docstring for the command, runtime and the paper's numbers)."""
    backbone = "inception_resnet_v2" if config == "paper" else CPU_SMALL_BACKBONE
    rows = tuple(
        dataclasses.replace(
            make_row(
                config,
                protocol,
                backbone,
                label=f"SRAS-net ({PAPER_LABEL[backbone]})",
                name="sras",
                sr=True,
                smote=True,
                iam=True,
                paper_accuracy=97.55,
            ),
            paper_per_class=PAPER_PER_CLASS,
            size_evidence=True,
            cell_bn=True,
        )
        for protocol in ("paper", "honest")
    )
    return Experiment("sras_net_table4", config, "bioimlab", rows, sr_config(config), __doc__)
