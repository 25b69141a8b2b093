"""Recipes: one Python file per paper table or figure, loaded by name from the recipe folder or by path.

A recipe file registers a function ``config name -> Experiment | Analysis`` with ``@register("name")``;
``get_recipe(name, config)`` builds it (``config="paper"``: the papers' GPU setting, ``config="cpu"``: what
finishes on a 2-core machine). The recipe folder is ``$SRAS_RECIPES``, else the ``recipes/`` folder of this source
tree. Recipes are files, not an installed package: a lab copies one, edits it and runs it by path
(``sras cv run --recipe my_table.py``) without touching the suite.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

from sras_keras.core.errors import SrasError

CONFIGS = ("paper", "cpu")
SOURCE_RECIPES = Path(__file__).resolve().parents[2] / "recipes"  # the source tree's recipes/ folder
_MODULE_PREFIX = "sras_recipes."  # recipe files are imported under this prefix, so they never shadow a package

_RECIPES: dict[str, Callable] = {}
_LOADED: dict[Path, ModuleType] = {}


def register(name: str):
    """Decorator: ``@register("sras_net_table2")`` on a recipe file's ``config name -> Experiment`` function."""

    def decorate(function):
        known = _RECIPES.get(name)
        if known is not None and known.__module__ != function.__module__:
            raise SrasError(
                f"recipe {name!r} is registered twice ({_module_file(known)} and {_module_file(function)}); rename one"
            )
        _RECIPES[name] = function
        return function

    return decorate


def recipe_folder() -> Path:
    return Path(os.environ.get("SRAS_RECIPES") or SOURCE_RECIPES)


def load_recipe_file(path: str | Path) -> ModuleType:
    """Import one recipe file (once per path), registering its recipes; a broken file is one clear error."""
    path = Path(path).resolve()
    if path in _LOADED:
        return _LOADED[path]
    if not path.is_file() or path.suffix != ".py":
        raise SrasError(f"{path}: no such recipe file (a .py file)")
    # the path's hash too: two folders may each hold a my_table.py
    module_name = f"{_MODULE_PREFIX}{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look a class's module up here
    try:
        spec.loader.exec_module(module)
    except SrasError:
        raise
    except Exception as error:  # noqa: BLE001  whatever a user's recipe file raises, name the file
        del sys.modules[module_name]
        raise SrasError(f"{path}: the recipe file failed to load ({type(error).__name__}: {error})") from None
    _LOADED[path] = module
    return module


def _load_folder() -> None:
    folder = recipe_folder()
    if not folder.is_dir():
        raise SrasError(f"{folder}: no recipe folder; set SRAS_RECIPES to one, or give --recipe PATH.py")
    for path in sorted(folder.glob("*.py")):
        if not path.name.startswith("_"):
            load_recipe_file(path)


def recipe_names() -> list[str]:
    """The recipes of the recipe folder (and of any recipe file loaded by path)."""
    _load_folder()
    return sorted(_RECIPES)


def _resolve(name: str) -> str:
    """A recipe name, or the single recipe a ``.py`` path registers."""
    if name.endswith(".py"):
        module = load_recipe_file(name)
        names = [key for key, function in _RECIPES.items() if function.__module__ == module.__name__]
        if len(names) != 1:
            raise SrasError(
                f"{name}: a recipe file registers one recipe with @register(NAME); this one registers {len(names)}"
            )
        return names[0]
    if name not in recipe_names():
        raise SrasError(
            f"unknown recipe {name!r}; choose one of {', '.join(recipe_names())}, or give a recipe file (PATH.py)"
        )
    return name


def recipe_name(name_or_path: str) -> str:
    """The registered name of a recipe given by name or by file: its runs go to ``runs/<name>/``."""
    return _resolve(name_or_path)


def get_recipe(name: str, config: str = "cpu"):
    """The recipe ``name`` (or the one in the file ``name``) built for ``config``."""
    name = _resolve(name)
    if config not in CONFIGS:
        raise SrasError(f"unknown recipe config {config!r}; choose one of {', '.join(CONFIGS)}")
    return _RECIPES[name](config)


def recipe_module(name: str) -> ModuleType:
    """The file a recipe lives in, as a module (its docstring, its constants)."""
    return sys.modules[_RECIPES[_resolve(name)].__module__]


def recipe_doc(name: str) -> str:
    """The recipe file's docstring: the command, the runtime and the paper's numbers."""
    return (recipe_module(name).__doc__ or "").strip()


def _module_file(function: Callable) -> str:
    module = sys.modules.get(function.__module__)
    return getattr(module, "__file__", None) or function.__module__
