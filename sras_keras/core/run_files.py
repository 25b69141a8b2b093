"""Every file name of a run folder and a converted dataset, in one place: the writers and the readers share them.

A training run (``sras train``): ``config.json``, ``data.json``, ``PREPROCESSING`` (and ``SR_MODEL`` when its data
was upscaled), ``env.json``, ``history.csv``, ``FINAL``, ``metrics.json``, ``predictions.csv``, ``figures/``,
``tensorboard/`` and ``checkpoints/`` (``CHECKPOINT``, ``STATE``, ``BEST_WEIGHTS``) and, once fitted, the size evidence
(``size_evidence_file``); in an experiment (``sras cv run``) also ``ROW`` and, for a pretraining stage,
``PRETRAIN_STAGE``. A converted dataset (``sras data convert``): ``MANIFEST`` (written last), ``SPLITS``, its shards
and, while it is being written, ``CONVERT_STATE``. A source tree upscaled by ``sras sr apply``: ``SR_APPLY``.
"""

from pathlib import Path

RUN_CONFIG = "config.json"  # the run's config dataclass (configs/records.py reads and writes every JSON record)
DATA = "data.json"  # which dataset and parts the run used
PREPROCESSING = "preprocessing.json"  # the chain its images went through and its class names: what predicting needs
SR_MODEL = "sr_model.keras"  # a copy of the SRAFBN its training data was upscaled by, so images are upscaled alike
HISTORY = "history.csv"  # one row per epoch (Keras CSVLogger)
METRICS = "metrics.json"  # the test part's metrics
ENV = "env.json"  # versions, commit and machine the run ran on (every run folder, analyses and benchmarks too)
ROW = "row.json"  # the recipe row an experiment's run trained, and its wall time: what `sras report table` reads
PRETRAIN_STAGE = "stage.json"  # a pretraining stage's wall time, counted in the time of the rows it starts
PREDICTIONS = "predictions.csv"  # one row per image (inference/outputs.py); `sras predict` writes the same schema
MODEL_CARD = "card.json"  # a packaged model's card (configs/inference.ModelCard), rendered beside it as MODEL_CARD.md
FINAL = "model.keras"  # the trained model, written once training ends
CHECKPOINT = Path("checkpoints") / "last.keras"  # the last epoch's model and optimizer: what --resume loads
STATE = Path("checkpoints") / "state.json"  # epoch counters and the early-stopping state beside the checkpoint
BEST_WEIGHTS = Path("checkpoints") / "best.weights.h5"  # the best validation epoch's weights, restored at the end

MANIFEST = "manifest.json"
SPLITS = "splits.json"
CONVERT_STATE = ".sras-convert.json"  # a conversion's progress, so an interrupted one resumes
SR_APPLY = "sr_apply.json"  # in an upscaled source tree: the SR model that made it (so it is never upscaled twice)


def size_evidence_file(tta: bool = False, cell_bn: bool = False) -> str:
    """A run's fitted size evidence (``sras size-evidence``), one file per kind of probabilities: the weight is
    chosen for the model's single-view or mirror-averaged ones, with the model's or each cell's own BatchNorm
    statistics."""
    return f"size_evidence{'_tta' if tta else ''}{'_cellbn' if cell_bn else ''}.json"
