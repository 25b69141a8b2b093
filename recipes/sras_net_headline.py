"""The CPU-scale headline: the best SRAS-net-style classifier that trains in at most 30 minutes on 2 CPU cores,
under the honest protocol (held-out cells) and, same model, under the paper's protocol to show the gap.

    sras cv run --recipe sras_net_headline --config cpu   # here: 2 rows x <= 30 min of training, ~70 min in all
    sras report table sras_net_headline

resnet_small_bn (BatchNorm) from scratch at 64 px, IAM with crops enlarged 2x (``magnify``), SMOTE for X and Y
inside the training cells, the stored rotations within 30 degrees of upright, random left-right flips and zoom
(``scale`` 0.2), Adam with one warm-up epoch then cosine decay over a fixed epoch budget sized to the 30 minutes.
The ``paper`` config is SRAS-net itself (Inception-ResNet-V2, 224 px, ImageNet weights, SRAFBN), the paper's 97.55%
(Table 2), for a GPU.

Measured here (2 cores, seed 0; results/sras_net_headline.md): honest 94.84% accuracy, macro-F1 0.950 on 24
held-out cells (13 epochs, 24.3 min with evaluation); paper protocol 95.54%, macro-F1 0.956 (13 epochs, 26.8 min;
43 of its 1,143 test images are SMOTE's). Whole-cell assignment (`sras predict --karyotype` on the held-out cells'
files) lifts the honest model to 97.83% per image, 24/24 sexes right. With cell-relative size evidence (each row
fits it after training, as `sras size-evidence RUN`: one Gaussian of log area over the cell's median per class from
the training cells, its weight the least log loss on the validation cells over 0-2 in steps of 0.1): 96.11% per
image, 98.28% assigned. Averaged with each chromosome's mirror image (`sras predict --tta`, chosen on the validation
cells): 95.65% per image, 98.73% assigned; with size evidence 97.01% and 98.82% (13 errors in 1,104), 24/24 sexes.
Seeds (``--set train.seed=N --runs runs/seeds``), honest, per image -> mirror + size -> assigned:
seed 0 94.84 -> 97.01 -> 98.82; seed 1 95.02 -> 97.01 -> 98.64; seed 2 95.20 -> 97.28 -> 99.18 (runs/seeds/
sras_net_headline/20261124T105238Z-s1, 20261124T114655Z-s2): mean 95.02 -> 97.10 -> 98.88, 24/24 sexes in each.
Without the zoom (stop 16): seed 0 95.29 -> 97.01 -> 99.09, seed 1 94.11 -> 96.47 -> 98.46. Four of the held-out
errors are every model's: BioImLab's cell 67, whose 6s and 7s look swapped (README, Real data).
Each held-out cell normalised with its own BatchNorm statistics (``cell_bn``: `sras predict --cell-bn`, fitted as
`sras size-evidence RUN --cell-bn [--tta]`), mirror view, per image: seeds 0-3 97.46, 96.38, 97.28, 96.20% (mean
96.83%, macro-F1 0.976, 0.965, 0.974, 0.963); single view 96.29, 95.65, 96.56, 95.92%. Assigned: 98.82, 98.73, 99.00,
98.73% (no gain). Seed 3 (runs/seeds/sras_net_headline/20261124T154703Z-s3): 94.66 -> 96.92 (mirror + size) -> 99.00.
Before BatchNorm and ``magnify`` (GroupNorm, 14 epochs): honest 89.95%, paper 92.91%.
Tried, not adopted (validation lost 0.3-0.4 points on average): one-cell training batches (``--set
train.cell_batches=true --set train.monitor=val_cell_accuracy``, runs/explore/sras_net_headline/, seeds 0-2), held
out with cell BN: single view 97.10, 96.83, 96.47%, mirror 97.10, 96.65, 96.74%, assigned 99.09, 98.82, 98.91%.
"""

import dataclasses

from recipes import register
from recipes._sras_net import make_row, sr_config
from sras_keras.config import ConvertConfig, TrainConfig
from sras_keras.experiment import Experiment, Row, protocol_split

# Rotated copies only near upright: BioImLab's crops come from karyograms, so test chromosomes stand upright, and
# upside-down copies spend a CPU budget on an invariance the task does not need; with no copies at all the model
# memorised the 3,864 training images (trial here: 99.9% training vs 87.7% validation accuracy).
# IAM with every crop enlarged 2x first (capped to fit): short chromosomes get twice the pixels, which is where the
# errors were (19 vs 22, 14 vs 15, 16 vs 17 in validation); an ad-hoc 6-epoch trial here, not a recorded run: validation
# 96.0% vs 94.9% without.
CONVERT = ConvertConfig(image_size=64, rotations=24, smote=True, magnify=2.0)
# 0, +-15 and +-30 degrees: ~20,000 images an epoch, 112-132 s with validation here, so 13 epochs fit 29 minutes;
# the budget is a safety net. BatchNorm (resnet_small_bn) needs the cosine decay: see models/small_resnet.py.
# Random zoom of the training canvases (``scale`` 0.2, about the top-left anchor): cells differ in condensation.
# Adopted on validation, where it gained on both seeds (seed 0: 96.25 -> 96.84%, seed 1: 96.44 -> 97.04%; held out:
# 95.29 -> 94.84%, 94.11 -> 95.02%; the seeds' spread shrank). Tried before it, recorded under
# runs/explore/sras_net_headline/ and not adopted (validation gains of 1-2 of 506 images, within noise): rotations
# within 45 degrees at 9 epochs (val 96.44, test 94.38); weight_decay 0.05 with label_smoothing 0.1 (val 96.64, test
# 94.75); contrast=0.4 (val 96.64 at epoch 9, test 93.12) - against val 96.25, test 95.29 without them.
TRAIN = TrainConfig(backbone="resnet_small_bn", weights="none", batch_size=64, epochs=13, learning_rate=3e-3,
                    patience=13, dropout=0.2, flip="horizontal", max_rotation=30, schedule="cosine", scale=0.2,
                    max_minutes=29)


@register("sras_net_headline")
def sras_net_headline(config: str = "cpu") -> Experiment:
    """The CPU headline (see the module docstring for the command, runtime and the paper's numbers)."""
    if config == "paper":
        rows = tuple(make_row("paper", protocol, "inception_resnet_v2", label="SRAS-net (Inception_Resnet_V2)",
                              name="sras", sr=True, smote=True, iam=True, paper_accuracy=97.55)
                     for protocol in ("paper", "honest"))
        return Experiment("sras_net_headline", config, "bioimlab", rows, sr_config(config), __doc__)
    rows = tuple(
        Row(f"resnet_small_bn-{protocol}", "ResNet-small BN, 64 px, IAM x2 (CPU headline)", protocol_split(protocol, 0, CONVERT),
            dataclasses.replace(TRAIN), protocol=protocol, paper_accuracy=97.55, size_evidence=True,
            cell_bn=True)
        for protocol in ("honest", "paper")
    )
    return Experiment("sras_net_headline", config, "bioimlab", rows, None, __doc__)
