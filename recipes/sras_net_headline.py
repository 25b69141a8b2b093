"""The CPU-scale headline: the best SRAS-net-style classifier that trains in at most 30 minutes on 2 CPU cores,
under the honest protocol (held-out cells) and, same model, under the paper's protocol to show the gap.

    sras cv run --recipe sras_net_headline --config cpu   # here: 4 rows x <= 30 min of training, ~1 h 50 min in all
    sras cv run --recipe sras_net_headline --config cpu --rows resnet_small_bn-gband-honest,resnet_small_bn-gband-paper
    sras report table --recipe sras_net_headline

resnet_small_bn (BatchNorm) from scratch at 64 px, IAM with crops enlarged 2x (``magnify``), SMOTE for X and Y
inside the training cells, the stored rotations within 30 degrees of upright, random left-right flips and zoom
(``zoom`` 0.2), Adam with one warm-up epoch then cosine decay over a fixed epoch budget sized to the 30 minutes.
The ``-gband-`` rows (the headline since stop 23) first train it on the G band (gband65, inverted so that its dark
bands are bright as in the Q band, 10 epochs, ~6 min) and then on the Q band (20 epochs, ~20 min): the two-step
study's intermediate domain, from scratch. The rows without it are kept as their ablation.
The ``paper`` config is SRAS-net itself (Inception-ResNet-V2, 224 px, ImageNet weights, SRAFBN), the paper's 97.55%
(Table 2), for a GPU.

G band first, measured here (stop 23), honest protocol, 24 held-out cells; per image -> mirror view (`--tta`, one
image and its own mirror image, no other image of the cell) -> each cell's BatchNorm statistics with the mirror view
-> assigned (`sras predict --karyotype`): seed 0 (runs/sras_net_headline/20261125T045108Z-s0: G stage 6.1 min, its
G validation 91.7%; Q stage 20.4 min; 26.5 min of training) validation 98.02%, 95.83% (macro-F1 0.959) -> 96.65%
(0.967) -> 98.01% -> 99.46%, 22 of 24 cells right throughout, 24/24 sexes; seed 1 (runs/explore/sras_net_headline/
20261125T054318Z-s1: 5.5 + 18.6 min) validation 97.83%, 95.65% -> 95.92% -> 97.46% -> 99.28% (mirror + size), 21 of
24 cells. Paper protocol, seed 0 (runs/sras_net_headline/20261125T060924Z-s0: 5.4 + 23.0 min with evaluation, all
20 Q epochs): 97.03%, macro-F1 0.970 (96.41% without the G stage). The same seeds without the G stage: validation
97.63, 97.83%, per image 95.56, 95.65%, mirror 95.83,
96.11%, cell BN + mirror 97.28, 96.92%: the G stage never lost on validation and gained 0-3 of 1,104 held-out images
per image, 0.5-0.7 points with cell BN. The runs of stop 23 predate the report's counting of the G stage in "wall
min" (``pretrain_wall_seconds``): their G stage times are from their files' times, as above.

Without the G stage (2 cores; stop 20, 26 epochs at 55-65 s; results/sras_net_headline.md), honest protocol, 24
held-out cells, per image -> mirror view + size evidence -> whole-cell assignment (`sras predict --karyotype`):
seed 0 95.56 -> 97.28 -> 99.09%, seed 1 95.65 -> 97.37 -> 98.73%, seed 2 94.29 -> 96.20 -> 99.00%, seed 3 93.84 ->
96.20 -> 98.91%, 24/24 sexes each (runs/explore/sras_net_headline/20261124T203618Z-s0, 20261124T210307Z-s1,
runs/seeds/sras_net_headline/20261124T233721Z-s2, 20261125T001535Z-s3); with each cell's own BatchNorm statistics
(``cell_bn``, `sras predict --cell-bn`) 96.83, 96.83, 96.74, 96.20% per image, with the mirror view too 97.28, 96.92,
97.19, 96.29%. Seeds 2 and 3 kept epochs 18 and 15 of 26 (seed 3's 494 of 506 validation images tied with
epochs 21, 24 and 26; Keras keeps the first). Seed 0 as recorded by this recipe
(runs/sras_net_headline/20261124T213013Z-s0, the same numbers): honest 95.56%, macro-F1 0.957 (25.8 min with
evaluation); paper protocol 96.41%, macro-F1 0.964 (26 epochs, 29.8 min, at the edge of the time budget: it has 13%
more training images; 43 of its 1,143 test images are SMOTE's). Size evidence (`sras size-evidence RUN`):
one Gaussian of log area over the cell's median per class from the training cells, its weight the least log loss on
the validation cells over 0-2 in steps of 0.1; the mirror view (`--tta`) was chosen on the validation cells.
Seeds: ``--set train.seed=N --runs runs/seeds``. Four of the held-out errors are every model's: BioImLab's cell 67,
whose 6s and 7s look swapped (README, Real data).
The epoch budget is sized to the machine: stops 15-19 ran on one that took 100-132 s an epoch, so the recipe had 13
epochs (seeds 0-3, per image -> mirror + size -> assigned: 94.84 -> 97.01 -> 98.82, 95.02 -> 97.01 -> 98.64, 95.20 ->
97.28 -> 99.18, 94.66 -> 96.92 -> 99.00; cell BN + mirror 97.46, 96.38, 97.28, 96.20%); stop 20's takes 55-65 s, and
26 epochs gained on validation for both seeds tried (96.84 -> 97.63%, 97.04 -> 97.83%). On a host as slow as the
earlier one ``max_minutes`` stops the run before its cosine decay ends: pass ``--set train.epochs=13 --set
train.patience=13`` there.
Before BatchNorm and ``magnify`` (GroupNorm, 14 epochs): honest 89.95%, paper 92.91%.
Tried, not adopted (validation lost 0.3-0.4 points on average, 13 epochs): one-cell training batches (``--set
train.cell_batches=true --set train.monitor=val_cell_accuracy``, runs/explore/sras_net_headline/, seeds 0-2), held
out with cell BN: single view 97.10, 96.83, 96.47%, mirror 97.10, 96.65, 96.74%, assigned 99.09, 98.82, 98.91%.
Tried, not adopted: more pixels instead of more epochs (``--set convert.image_size=96 --set convert.magnify=3 --set
train.mixed_precision=true --set train.epochs=14 --set train.patience=14``, 100-117 s an epoch in bfloat16, 24.6 and
25.7 min with evaluation; runs/explore/sras_net_headline/20261125T015918Z-s0, 20261125T023542Z-s1): validation
97.63, 98.22% (here 97.63, 97.83%), held out per image 95.83, 95.65% (here 95.56, 95.65%), mirror + cell BN 97.46,
97.37%, with size evidence 98.01, 97.74% (assigned 98.82, 99.09%): validation gains of 0 and 2 of 506 images, within
noise, and neither more epochs nor 2.25x the pixels moves the plain per-image number. The recipe itself in bfloat16
(``--set train.mixed_precision=true``, runs/explore/sras_net_headline/20261125T030548Z-s0): 51-58 s an epoch, 23.9
min with evaluation against float32's 25.8; validation 97.63% (the same), held out 95.11%, mirror + cell BN 97.46%,
with size evidence 97.83%, assigned 98.55-99.09%: an option for a slower host, not a change of the recipe.
"""

import dataclasses

from sras_keras.configs.convert import ConvertConfig
from sras_keras.configs.train import (
    AugmentationConfig,
    DataConfig,
    ModelConfig,
    OptimizationConfig,
    RuntimeConfig,
    TrainConfig,
)
from sras_keras.experiments.registry import register
from sras_keras.experiments.spec import Experiment, Pretrain, Row, protocol_split
from sras_keras.experiments.sras_net import make_row, sr_config
from sras_keras.experiments.two_step import BANDS, PRETRAIN_SPLIT

# Rotated copies only near upright: BioImLab's crops come from karyograms, so test chromosomes stand upright, and
# upside-down copies spend a CPU budget on an invariance the task does not need; with no copies at all the model
# memorised the 3,864 training images (trial here: 99.9% training vs 87.7% validation accuracy).
# IAM with every crop enlarged 2x first (capped to fit): short chromosomes get twice the pixels, which is where the
# errors were (19 vs 22, 14 vs 15, 16 vs 17 in validation); an ad-hoc 6-epoch trial here, not a recorded run: validation
# 96.0% vs 94.9% without.
CONVERT = ConvertConfig(image_size=64, rotations=24, smote=True, magnify=2.0)
# 0, +-15 and +-30 degrees: ~20,000 images an epoch, 55-65 s with validation on stop 20's machine, so 26 epochs fit
# 29 minutes (13 on the 100-132 s machine of stops 15-19); the time budget is a safety net. BatchNorm
# (resnet_small_bn) needs the cosine decay: see models/small_resnet.py.
# Random zoom of the training canvases (``zoom`` 0.2, about the top-left anchor): cells differ in condensation.
# Adopted on validation, where it gained on both seeds (seed 0: 96.25 -> 96.84%, seed 1: 96.44 -> 97.04%; held out:
# 95.29 -> 94.84%, 94.11 -> 95.02%; the seeds' spread shrank). Tried before it, recorded under
# runs/explore/sras_net_headline/ and not adopted (validation gains of 1-2 of 506 images, within noise): rotations
# within 45 degrees at 9 epochs (val 96.44, test 94.38); weight_decay 0.05 with label_smoothing 0.1 (val 96.64, test
# 94.75); contrast=0.4 (val 96.64 at epoch 9, test 93.12) - against val 96.25, test 95.29 without them.
TRAIN = TrainConfig(
    model=ModelConfig(backbone="resnet_small_bn", weights="none", dropout=0.2),
    data=DataConfig(max_rotation=30),
    augmentation=AugmentationConfig(flip="horizontal", zoom=0.2),
    optimization=OptimizationConfig(batch_size=64, epochs=26, learning_rate=3e-3, schedule="cosine", patience=26),
    runtime=RuntimeConfig(max_minutes=29),
)

# G band as an intermediate domain (the two-step study's idea, from scratch here): gband65 inverted, since Q-bright
# bands are G-dark ones, at the Q rows' IAM scale (both sets' chromosome 1 is ~90-100 px long), then the Q stage.
GBAND_PRETRAIN = Pretrain(
    "gband65",
    dataclasses.replace(CONVERT, invert=True, cell_regex=BANDS["G"].cell_regex, split=PRETRAIN_SPLIT),
    TRAIN.replace(epochs=10, patience=10, max_minutes=7),
)
# The same network as a G-band model of its own (the shipped ``gband65-g``): gband65's cells split 70/10/20 as
# BioImLab's, its dark bands inverted to the Q band's polarity or not (the ``-plain`` row).
GBAND_CONVERT = dataclasses.replace(CONVERT, invert=True, cell_regex=BANDS["G"].cell_regex)
GBAND_TRAIN = TRAIN.replace(epochs=20, patience=20, max_minutes=22)


@register("sras_net_headline")
def sras_net_headline(config: str = "cpu") -> Experiment:
    """The CPU headline (see the module docstring for the command, runtime and the paper's numbers)."""
    if config == "paper":
        rows = tuple(
            make_row(
                "paper",
                protocol,
                "inception_resnet_v2",
                label="SRAS-net (Inception_Resnet_V2)",
                name="sras",
                sr=True,
                smote=True,
                iam=True,
                paper_accuracy=97.55,
            )
            for protocol in ("paper", "honest")
        )
        return Experiment("sras_net_headline", config, "bioimlab", rows, sr_config(config), __doc__)
    rows = (
        tuple(
            Row(
                f"resnet_small_bn-{protocol}",
                "ResNet-small BN, 64 px, IAM x2 (CPU headline)",
                protocol_split(protocol, 0, CONVERT),
                TRAIN,
                protocol=protocol,
                paper_accuracy=97.55,
                size_evidence=True,
                cell_bn=True,
            )
            for protocol in ("honest", "paper")
        )
        + tuple(
            Row(
                f"resnet_small_bn-gband-{protocol}",
                "ResNet-small BN, 64 px, IAM x2, G band first (CPU headline)",
                protocol_split(protocol, 0, CONVERT),
                GBAND_TRAIN,
                protocol=protocol,
                paper_accuracy=97.55,
                size_evidence=True,
                cell_bn=True,
                pretrain=GBAND_PRETRAIN,
            )
            for protocol in ("honest", "paper")
        )
        + tuple(
            Row(
                f"resnet_small_bn-gband65{suffix}-honest",
                f"ResNet-small BN, 64 px, IAM x2, trained on the G band (gband65{', inverted' if invert else ''})",
                protocol_split(
                    "honest", 0, GBAND_CONVERT if invert else dataclasses.replace(GBAND_CONVERT, invert=False)
                ),
                TRAIN,
                source="gband65",
                size_evidence=True,
                cell_bn=True,
            )
            for suffix, invert in (("", True), ("-plain", False))
        )
    )
    return Experiment("sras_net_headline", config, "bioimlab", rows, None, __doc__)
