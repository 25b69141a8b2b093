"""Writing outputs so that nothing half-written is ever left under its final name, nor built by two jobs at once."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary name beside ``path`` (hidden, same suffix, so writers that check it accept it); rename it
    to ``path`` only if the block completes."""
    path = Path(path)
    stem, dot, suffixes = path.name.partition(".")  # keep compound suffixes: Keras checks '.weights.h5'
    temporary = path.with_name(f".{stem}.{os.getpid()}.tmp{dot}{suffixes}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(output: str | os.PathLike, log=None):
    """Hold an exclusive lock for building ``output`` (a hidden ``.<name>.lock`` beside it): jobs on one machine
    that would build the same cached dataset or model take turns, and the later one finds it built."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.with_name(f".{output.name}.lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if log is not None:
                log(f"{output}: another job is building it; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_json_atomic(path: str | os.PathLike, document) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(document) -> str:
    """A short stable hash of a JSON-able document (configs, file lists)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
