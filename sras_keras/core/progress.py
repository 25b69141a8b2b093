"""Progress bars for a person at a terminal only: in a redirected log a bar is noise (a frame per update, joined
by carriage returns), so every bar of the suite goes through ``progress``."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def bars_wanted(stream=None) -> bool:
    """Whether a bar would reach a person: ``stream`` (default stderr) is a terminal, or SRAS_PROGRESS is set to
    ask for bars in a pipe anyway."""
    return (stream or sys.stderr).isatty() or bool(os.environ.get("SRAS_PROGRESS"))


def progress(iterable=None, *, disable: bool = False, file=None, **tqdm_kwargs) -> tqdm:
    """``tqdm(iterable, **tqdm_kwargs)`` on stderr (or ``file``), shown only where ``bars_wanted`` and the caller
    has not disabled it; with ``total=`` and no iterable, a bar to ``update`` by hand."""
    file = file or sys.stderr
    return tqdm(iterable, disable=disable or not bars_wanted(file), file=file, **tqdm_kwargs)
