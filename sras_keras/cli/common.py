"""What every command shares: one `error:` line for a SrasError, progress bars only on terminals."""

from __future__ import annotations

import functools
import os
import sys

import click

from sras_keras.core.errors import SrasError


def clear_errors(command):
    """Turn a SrasError into one 'error: ...' line and exit status 1 instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SrasError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)

    return wrapper


def progress() -> bool:
    return sys.stderr.isatty() or bool(os.environ.get("SRAS_PROGRESS"))
