"""Writing outputs so that nothing half-written is ever left under its final name."""

from __future__ import annotations

import contextlib
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


def write_json_atomic(path: str | os.PathLike, document) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
