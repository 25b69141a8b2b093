"""What every command shares: one `error:` line for a SrasError, progress bars only on terminals, and TensorFlow's
start-up log kept off stderr unless `sras --verbose` asks for it."""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.util
import os
import sys

import click

from sras_keras.core.errors import SrasError
from sras_keras.core.progress import bars_wanted

RESUME_HINT = (
    "sras train and sras sr train continue from their last finished epoch with --resume; sras data convert and sras "
    "cv run take up an interrupted conversion where it stopped when run again"
)


def clear_errors(command):
    """Turn a SrasError into one 'error: ...' line and exit status 1 instead of a traceback, and Ctrl-C into exit
    status 130 with how to continue."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SrasError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:  # 130: the shell's code for a Ctrl-C, so scripts see an interruption, not a failure
            click.echo(f"interrupted: {RESUME_HINT}", err=True)
            sys.exit(130)

    return wrapper


def progress() -> bool:
    """Whether to ask the library for progress bars: only where a person sees them (core/progress.py)."""
    return bars_wanted()


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up log off stderr: its C++ side writes oneDNN and CUDA-stub lines there before absl
    is initialised, past any TF_CPP_MIN_LOG_LEVEL, and CUDA's failed cuInit when it first looks for devices. So
    TensorFlow's first import, whenever a command makes it, loads it and lists its devices with file descriptor 2
    silenced; our own lines and TensorFlow's later errors still reach stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 on /dev/null (what C++ writes), Python's stderr flushed before and after."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds TensorFlow with the other finders, once, and hands it to a loader that silences its start-up."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietTensorFlowLoader(spec.loader)
        return spec


class _QuietTensorFlowLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # the module keeps its own loader
        with native_stderr_silenced():
            self.loader.exec_module(module)
            module.config.list_physical_devices()  # where CUDA logs a failed cuInit, on machines without a GPU
