"""The package's layers, read from every module's imports (``ast``): dependencies point one way, there is no import
cycle, and no module outside ``cli/`` hides an import inside a function (the CLI defers TensorFlow for a fast
``--help``; anywhere else a function-local import hides a dependency, usually a cycle)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sras_keras"
RECIPES = ROOT / "recipes"
# Lower layers never import higher ones. Inference sits below evaluation and training: training validates cells and
# evaluates its test part through the same prediction path that `sras predict` uses.
LAYERS = ("core", "configs", "data", "models", "inference", "evaluation", "training", "experiments", "cli")
RECIPE_LAYER = len(LAYERS) - 1  # recipe files may use anything but the CLI


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of a ``sras_keras`` module: its first sub-package; the root package (the version) is core."""
    parts = module.split(".")
    if parts[0] != "sras_keras":
        return RECIPE_LAYER
    return LAYERS.index(parts[1]) if len(parts) > 1 else 0


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(imported sras_keras module, line, at module level) for every import of ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            # `from sras_keras.cli import data` imports the submodule `sras_keras.cli.data`; other names, the module
            submodules = [
                f"{node.module}.{alias.name}" for alias in node.names if _is_module(f"{node.module}.{alias.name}")
            ]
            names = submodules + ([node.module] if len(submodules) < len(node.names) else [])
        else:
            continue
        found += [
            (name, node.lineno, id(node) in top)
            for name in names
            if name == "sras_keras" or name.startswith("sras_keras.")
        ]
    return found


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py")) + sorted(RECIPES.glob("*.py"))


def test_every_layer_is_known_and_the_tree_has_no_module_at_the_root():
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)


def test_imports_point_down_the_layers():
    against = []
    for path in sources():
        importer = module_name(path)
        for imported, line, _ in imports_of(path):
            if importer.startswith("sras_keras") and layer_of(imported) > layer_of(importer):
                against.append(
                    f"{path.relative_to(ROOT)}:{line}: {importer} ({LAYERS[layer_of(importer)]}) imports "
                    f"{imported} ({LAYERS[layer_of(imported)]})"
                )
            if imported.startswith("sras_keras.cli") and not importer.startswith("sras_keras.cli"):
                against.append(f"{path.relative_to(ROOT)}:{line}: imports the CLI")
    assert not against, "\n".join(against)


def test_no_function_local_import_outside_the_cli():
    hidden = []
    for path in sources():
        if path.is_relative_to(PACKAGE / "cli"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        top = {id(node) for node in tree.body}
        hidden += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top
        ]
    assert not hidden, "function-local imports:\n" + "\n".join(hidden)


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    """Every cycle a depth-first walk of ``graph`` (module -> imported modules) closes, as 'a -> b -> a'."""
    state: dict[str, str] = {}
    cycles = []

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_import_cycle():
    graph = {module_name(path): {name for name, _, _ in imports_of(path)} for path in sorted(PACKAGE.rglob("*.py"))}
    cycles = find_cycles(graph)
    assert not cycles, "\n".join(cycles)


def test_the_checks_catch_what_they_forbid(tmp_path):
    """The helpers above see an upward import, a function-local import and a cycle in a module they are given."""
    path = tmp_path / "probe.py"
    path.write_text("import os\nfrom sras_keras.cli import main\n\ndef f():\n    from sras_keras.core import io\n")
    found = imports_of(path)
    assert ("sras_keras.cli", 2, True) in found and ("sras_keras.core.io", 5, False) in found
    assert layer_of("sras_keras.cli") > layer_of("sras_keras.training") > layer_of("sras_keras.inference")
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
