"""Writing outputs so that nothing half-written is ever left under its final name, nor built by two jobs at once.

A folder or file that cannot be written (read-only, full disk, no permission) is an ``SrasError`` naming it."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path

from sras_keras.core.errors import SrasError


def display_path(path: str | os.PathLike) -> str:
    """``path`` as printable one-line text: bytes of a non-UTF-8 name (which Python keeps as lone surrogates) become
    ``\\xNN`` escapes and control characters (newlines, terminal escapes, bidi overrides) their backslash escapes, so
    an error message naming the file stays one line that cannot rewrite the terminal."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def cannot_write(path: str | os.PathLike, error: OSError) -> SrasError:
    """The one-line error for an output that could not be written."""
    return SrasError(f"{display_path(path)}: cannot write there ({error.strerror or error}); choose another folder")


def make_folder(path: str | os.PathLike) -> Path:
    """``mkdir -p path``, an unwritable place reported as an ``SrasError``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cannot_write(path, error) from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary name beside ``path`` (hidden, same suffix, so writers that check it accept it); rename it
    to ``path`` only if the block completes. An OSError writing the temporary file or renaming it is an
    ``SrasError`` naming ``path``."""
    path = Path(path)
    stem, dot, suffixes = path.name.partition(".")  # keep compound suffixes: Keras checks '.weights.h5'
    temporary = path.with_name(f".{stem}.{os.getpid()}.tmp{dot}{suffixes}")
    try:
        try:
            yield temporary
        except OSError as error:
            if error.filename not in (str(temporary), temporary):
                raise
            raise cannot_write(path, error) from None
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise cannot_write(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(output: str | os.PathLike, log=None):
    """Hold an exclusive lock for building ``output`` (a hidden ``.<name>.lock`` beside it, removed when done): jobs
    on one machine that would build the same cached dataset or model take turns, and the later one finds it built.

    The holder removes the lock file before it unlocks; a job that was waiting on that file then finds it gone (or
    replaced by a newer job's) and locks the one now there, so two jobs never hold different files for one output.
    """
    output = Path(os.path.abspath(output))  # '.' has no name to put beside it
    if not output.name:
        raise SrasError(f"{output}: not a usable output folder; choose a folder below it")
    lock = output.with_name(f".{output.name}.lock")
    make_folder(output.parent)
    told = False
    while True:
        try:
            handle = open(lock, "a")
        except OSError as error:
            raise cannot_write(lock, error) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if log is not None and not told:
                    log(f"{display_path(output)}: another job is building it; waiting for it")
                told = True
                fcntl.flock(handle, fcntl.LOCK_EX)
            if _same_file(handle, lock):
                try:
                    yield
                finally:
                    lock.unlink(missing_ok=True)  # still locked here: see the docstring
                return


def _same_file(handle, path: Path) -> bool:
    """Whether the open ``handle`` is still the file at ``path`` (not removed, nor replaced, by its last holder)."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (found.st_dev, found.st_ino) == (held.st_dev, held.st_ino)


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
