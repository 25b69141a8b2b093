"""What every command shares: one `error:` line for a SrasError, progress bars only on terminals."""

from __future__ import annotations

import functools
import os
import sys

import click

from sras_keras.core.errors import SrasError

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
    return sys.stderr.isatty() or bool(os.environ.get("SRAS_PROGRESS"))
