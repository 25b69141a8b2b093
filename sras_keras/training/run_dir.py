"""A run folder's life cycle: refuse to overwrite a finished run, resume an interrupted one, reuse a failed start."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from sras_keras.configs.records import TrainingState, read_config, read_record
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, make_folder
from sras_keras.core.run_files import DATA, ENV, FINAL, PREPROCESSING, RUN_CONFIG, SR_MODEL, STATE
from sras_keras.training.callbacks import settle_best

RESUMABLE_CHANGES = ("epochs", "max_minutes", "strategy")  # strategy: the global batch is the same under all
# What a run writes before its first epoch is committed: all a failed start (bad weights, NaN in epoch 1) can leave
STARTED = (RUN_CONFIG, ENV, DATA, PREPROCESSING, SR_MODEL, "history.csv", "tensorboard", "checkpoints")


def prepare_run(out: Path, config, resume: bool, finished: str = FINAL) -> TrainingState:
    """The saved state to resume from (a fresh run's: no epoch trained); creates ``out/checkpoints``. ``config`` is
    the run's config dataclass (``TrainConfig``, ``SRTrainConfig``).

    A resume must use the run's own config, but for the epoch count, the time budget and the strategy. A run killed
    after its last epoch but before ``finished`` was written resumes with nothing left to train (the caller finishes
    it).
    A resume also cuts ``history.csv`` back to the checkpoint's epochs (a kill between the CSV row and the
    checkpoint would otherwise duplicate an epoch) and settles the best weights (``callbacks.settle_best``).
    """
    if resume:
        if not (out / STATE).exists():
            raise SrasError(f"{out}: nothing to resume (no {STATE}: no epoch finished); start again without --resume")
        saved = read_config(type(config), out)
        if _with_resumable_changes(saved, config) != config:
            raise SrasError(
                f"{out}: --resume with a different config than {RUN_CONFIG} "
                f"(only {' and '.join(RESUMABLE_CHANGES)} may change)"
            )
        state = read_record(TrainingState, out)
        if state.epoch > _fields(config)["epochs"]:
            raise SrasError(
                f"{out}: already trained {state.epoch} epochs, more than --epochs {_fields(config)['epochs']}; "
                f"resume with --epochs {state.epoch} or more"
            )
        if state.epoch >= _fields(config)["epochs"] and (out / finished).exists():
            raise SrasError(f"{out}: already trained {state.epoch} epochs; raise --epochs to continue")
        for stale in [*out.glob(".*.tmp*"), *(out / "checkpoints").glob(".*.tmp*")]:  # left by a kill mid-write
            stale.unlink(missing_ok=True)
        trim_history(out / "history.csv", state.epoch)
        settle_best(out, state)
        return state
    if (out / FINAL).exists():
        raise SrasError(f"{out}: holds a finished run; pass --resume to continue it or choose a new folder")
    if (out / STATE).exists():
        epoch = read_record(TrainingState, out).epoch
        raise SrasError(
            f"{out}: holds a run stopped after epoch {epoch}; pass --resume to continue it or choose a new folder"
        )
    clear_failed_start(out)
    make_folder(out / "checkpoints")
    return TrainingState(epoch=0, logs={})


def clear_failed_start(out: Path) -> None:
    """Remove what a start that committed no epoch left in ``out``, so a corrected run can start there without
    --resume (which has nothing to resume); a folder holding anything a run does not write is refused."""
    if not out.exists():
        return
    entries = list(out.iterdir())
    foreign = sorted(entry.name for entry in entries if entry.name not in STARTED and not _temporary(entry))
    if foreign:
        raise SrasError(
            f"{out}: not empty ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''} are no run's); "
            "choose a new folder"
        )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _temporary(entry: Path) -> bool:
    """A file ``core.io.atomic_path`` writes before its rename: a kill mid-write leaves it."""
    return entry.name.startswith(".") and ".tmp" in entry.name


def trim_history(path: Path, epochs: int) -> None:
    """Keep the header and the complete rows of epochs ``0 .. epochs - 1`` of a ``CSVLogger`` file (epoch first)."""
    if not path.exists():
        return
    # newline="": Keras's CSVLogger ends rows with \r\n; rewritten rows keep theirs, so a trimmed file matches
    lines = path.open(newline="").read().splitlines(keepends=True)
    complete = [line for line in lines if line.endswith("\n")]  # a kill mid-row leaves a partial last line
    if not complete:
        path.unlink()
        return
    header, rows = complete[0], complete[1:]
    kept = [row for row in rows if row.split(",", 1)[0].isdigit() and int(row.split(",", 1)[0]) < epochs]
    seen, unique = set(), []
    for row in kept:
        epoch = int(row.split(",", 1)[0])
        if epoch not in seen:
            seen.add(epoch)
            unique.append(row)
    if [header, *unique] != lines:
        with atomic_path(path) as temporary:
            temporary.write_text("".join([header, *unique]), newline="")


def _fields(config) -> dict:
    """Every field of a run's config by name: a TrainConfig's sections flattened (their names are unique)."""
    if isinstance(config, TrainConfig):
        return {name: value for section in config.to_dict().values() for name, value in section.items()}
    return dataclasses.asdict(config)


def _with_resumable_changes(saved, config):
    """The ``saved`` config with the fields a resume may change (``RESUMABLE_CHANGES``) taken from ``config``."""
    changes = {name: value for name, value in _fields(config).items() if name in RESUMABLE_CHANGES}
    return saved.replace(**changes) if isinstance(saved, TrainConfig) else dataclasses.replace(saved, **changes)
