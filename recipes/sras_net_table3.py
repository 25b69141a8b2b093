"""SRAS-net Table 3: the ablation, adding SMOTE, SRAFBN and IAM in turn to Inception-ResNet-V2.

    sras cv run --recipe sras_net_table3 --config paper   # GPU: 4 rows x 2 protocols
    sras cv run --recipe sras_net_table3 --config cpu     # here: 4 rows x 2 protocols with resnet_small_bn, ~1.7 h
    sras report table --recipe sras_net_table3

Paper (accuracy %): Inception_Resnet_V2 91.69; SMOTE + 93.30; SRAFBN + SMOTE + 96.83; SRAFBN + SMOTE + IAM
(SRAS-net) 97.55. Rows without IAM use the plain resize (stretch) that IAM replaces. The cpu config swaps the
backbone for the CPU-scale resnet_small_bn (from scratch, 64 px, 8 cosine epochs), so the ablation's direction can
be checked here (2 cores); the SR models are shared with Table 4 (runs/srafbn/). Results: results/sras_net_table3.md.
"""

from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment
from sras_keras.experiments.sras_net import CPU_SMALL_BACKBONE, PAPER_LABEL, make_row, sr_config

STEPS = (  # name, label suffix, sr, smote, iam, paper accuracy
    ("base", "", False, False, False, 91.69),
    ("smote", "SMOTE + ", False, True, False, 93.30),
    ("srafbn-smote", "SRAFBN + SMOTE + ", True, True, False, 96.83),
    ("sras", "SRAFBN + SMOTE + IAM + ", True, True, True, 97.55),
)


@register("sras_net_table3")
def sras_net_table3(config: str = "cpu") -> Experiment:
    """SRAS-net Table 3 (see the module docstring for the command, runtime and the paper's numbers)."""
    backbone = "inception_resnet_v2" if config == "paper" else CPU_SMALL_BACKBONE
    rows = [
        make_row(
            config,
            protocol,
            backbone,
            label=f"{prefix}{PAPER_LABEL[backbone]}",
            name=name,
            sr=sr,
            smote=smote,
            iam=iam,
            paper_accuracy=accuracy,
        )
        for protocol in ("paper", "honest")
        for name, prefix, sr, smote, iam, accuracy in STEPS
    ]
    return Experiment("sras_net_table3", config, "bioimlab", tuple(rows), sr_config(config), __doc__)
