"""A run folder's life cycle: refuse to overwrite a finished run, resume an interrupted one."""

from __future__ import annotations

import json
from pathlib import Path

from sras_keras.errors import SrasError
from sras_keras.training.callbacks import STATE

FINAL = "model.keras"
RESUMABLE_CHANGES = ("epochs", "max_minutes")


def prepare_run(out: Path, config: dict, resume: bool) -> dict:
    """The saved state to resume from ({} for a fresh run); creates ``out/checkpoints``.

    A resume must use the run's own config, but for the epoch count and the time budget.
    """
    config = json.loads(json.dumps(config))  # compare as saved: tuples become lists
    if resume:
        if not (out / STATE).exists():
            raise SrasError(f"{out}: nothing to resume (no {STATE})")
        saved = json.loads((out / "config.json").read_text())
        if {k: v for k, v in saved.items() if k not in RESUMABLE_CHANGES} != {
            k: v for k, v in config.items() if k not in RESUMABLE_CHANGES
        }:
            raise SrasError(f"{out}: --resume with a different config than config.json "
                            f"(only {' and '.join(RESUMABLE_CHANGES)} may change)")
        state = json.loads((out / STATE).read_text())
        if state["epoch"] >= config["epochs"]:
            raise SrasError(f"{out}: already trained {state['epoch']} epochs; raise --epochs to continue")
        return state
    if (out / FINAL).exists():
        raise SrasError(f"{out}: holds a finished run; pass --resume to continue it or choose a new folder")
    started_before = (out / "config.json").exists() and json.loads((out / "config.json").read_text()) == config
    if out.exists() and any(out.iterdir()) and not started_before:  # a start that died before its first epoch
        raise SrasError(f"{out}: not empty; pass --resume to continue a run or choose a new folder")
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    return {}
