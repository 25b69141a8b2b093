"""SRAS-net Table 2: four ImageNet backbones, each alone and inside SRAS-net (SRAFBN + SMOTE + IAM).

    sras cv run --recipe sras_net_table2 --config paper   # GPU: 8 rows x 2 protocols, 224 px, 24 rotations
    sras cv run --recipe sras_net_table2 --config cpu     # here: 8 rows, honest protocol, from scratch, ~1.5 h
    sras report table --recipe sras_net_table2

Paper (accuracy %, BioImLab, 4:1 split, checkpoint chosen on the test fifth): ResNet50 87.64 -> 95.92,
Xception 91.80 -> 96.01, VGG19 91.67 -> 96.56, Inception-ResNet-V2 91.69 -> 97.55. The cpu config keeps the
four architectures but trains them from scratch at their smallest sizes, on the upright copies, for a cosine
schedule of about 9 minutes a row on 2 cores (sras_keras/experiments/sras_net.py, CPU_EPOCHS): it checks the
machinery end to end, not the paper's numbers, which need ImageNet weights and a GPU. Results:
results/sras_net_table2.md.
"""

from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment
from sras_keras.experiments.sras_net import PAPER_LABEL, make_row, sr_config

PAPER = {
    "resnet50": (87.64, 95.92),
    "xception": (91.80, 96.01),
    "vgg19": (91.67, 96.56),
    "inception_resnet_v2": (91.69, 97.55),
}


@register("sras_net_table2")
def sras_net_table2(config: str = "cpu") -> Experiment:
    """SRAS-net Table 2 (see the module docstring for the command, runtime and the paper's numbers)."""
    protocols = ("paper", "honest") if config == "paper" else ("honest",)
    rows = []
    for protocol in protocols:
        for backbone, (plain, sras) in PAPER.items():
            label = PAPER_LABEL[backbone]
            rows.append(
                make_row(
                    config,
                    protocol,
                    backbone,
                    label=label,
                    name=backbone,
                    sr=False,
                    smote=False,
                    iam=False,
                    paper_accuracy=plain,
                )
            )
            rows.append(
                make_row(
                    config,
                    protocol,
                    backbone,
                    label=f"SRAS-net ({label})",
                    name=f"{backbone}-sras",
                    sr=True,
                    smote=True,
                    iam=True,
                    paper_accuracy=sras,
                )
            )
    return Experiment("sras_net_table2", config, "bioimlab", tuple(rows), sr_config(config), __doc__)
