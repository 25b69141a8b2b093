"""What every run records beside its numbers: the versions, commit and machine (``environment``, written as
``env.json`` through ``configs.records.Environment``) and its run folder."""

from __future__ import annotations

import datetime
import functools
import os
import platform
import subprocess
import sys
from pathlib import Path

import keras
import numpy
import tensorflow as tf

from sras_keras import __version__


@functools.cache
def git_commit(cwd: str | Path | None = None) -> str:
    """The checked-out commit, with '+dirty' when tracked files differ from it; 'unknown' outside git. Read once per
    process: its code was loaded at its start, so a commit made while a long experiment runs is not the one its
    later rows ran."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def usable_cpus() -> int:
    """The cores this process may run on (its affinity, which a container or `taskset` narrows), not the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def environment(seed: int | None = None, data_checksum: str | None = None) -> dict:
    """The values, as a plain dict: other records embed them as they are, and a run folder's ``env.json`` types
    them (``configs.records.Environment``, a layer above)."""
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sras_keras": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": usable_cpus(),
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        "precision": keras.mixed_precision.global_policy().name,  # the dtype policy in force (mixed precision)
        "seed": seed,
        "data_checksum": data_checksum,
    }


def new_run_dir(root: str | Path, name: str, seed: int) -> Path:
    """``root/name/<UTC timestamp>-s<seed>/``, created empty."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = Path(root) / name / f"{stamp}-s{seed}"
    path.mkdir(parents=True, exist_ok=False)
    return path
