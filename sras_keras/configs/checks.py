"""Checks every config dataclass makes of itself, so a value from ``--set`` or a config file fails where it is
given, naming the field, not in the middle of a conversion or of training."""

from __future__ import annotations

import math
import typing

from sras_keras.core.errors import SrasError


def choose(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise SrasError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def check_types(section) -> None:
    """Every field of the type it is declared with, and every number finite (``epochs=abc``,
    ``learning_rate=NaN``, ``magnify=inf``)."""
    for name, hint in typing.get_type_hints(type(section)).items():
        value = getattr(section, name)
        allowed = typing.get_args(hint) or (hint,)
        if not any(_fits(value, kind) for kind in allowed):
            expected = " or ".join("None" if kind is type(None) else kind.__name__ for kind in allowed)
            raise SrasError(f"{name} must be {expected}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SrasError(f"{name} must be a finite number, got {value!r}")


def check_range(name: str, value, low=None, high=None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else f"at least {low}"
        raise SrasError(f"{name} must be {bounds}, got {value!r}")


def _fits(value, kind) -> bool:
    if kind is type(None):
        return value is None
    if kind is float:  # an integer is a float's value too (learning_rate=1)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)
