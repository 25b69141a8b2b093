"""Named experiments, one module per paper table or figure. ``get_recipe(name, config)`` builds one:
``config="paper"`` is the faithful (GPU) setting, ``config="cpu"`` what finishes on a 2-core machine."""

from __future__ import annotations

from typing import Callable

from sras_keras.errors import SrasError

_RECIPES: dict[str, Callable] = {}
CONFIGS = ("paper", "cpu")


def register(name: str):
    def decorate(function):
        _RECIPES[name] = function
        return function

    return decorate


def recipe_names() -> list[str]:
    return sorted(_RECIPES)


def get_recipe(name: str, config: str = "cpu"):
    if name not in _RECIPES:
        raise SrasError(f"unknown recipe {name!r}; choose one of {', '.join(recipe_names())}")
    if config not in CONFIGS:
        raise SrasError(f"unknown recipe config {config!r}; choose one of {', '.join(CONFIGS)}")
    return _RECIPES[name](config)


def recipe_doc(name: str) -> str:
    """The recipe module's docstring: the command, the runtime and the paper's numbers."""
    import sys

    return (sys.modules[_RECIPES[name].__module__].__doc__ or "").strip()


from recipes import (  # noqa: E402,F401  (register them)
    demo,
    sras_net_headline,
    sras_net_table2,
    sras_net_table3,
    sras_net_table4,
    tl_fig2,
    tl_fig3,
    tl_table1,
    tl_table2,
)
