"""The package's layering, checked on its source (ast): what DESIGN.md promises about imports and writes.

- analyses (spectral, interpret, directions, capacity, toy, compare) never import io, plot, report, cli,
  storage, datasets or pipeline — data flow one way: io -> analyses -> plot/report/cli;
- a private module (``_name.py``) inside a sub-package is imported only from that sub-package; the top-level
  private modules are the shared helpers (``_gram``, ``_atomic``, ``_validation``, ...), open to everyone;
- no private name (``_x``) is imported from another module;
- no import circle (counting imports inside functions too: a lazy import only hides a circle);
- files are renamed into place only by ``_atomic.py`` (no ``os.replace``/``os.rename``/``shutil.move`` elsewhere).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "neurosuper"
ANALYSES = ("spectral", "interpret", "directions", "capacity", "toy", "compare")
FORBIDDEN_FOR_ANALYSES = ("io", "plot", "report", "cli", "storage", "datasets", "pipeline")
RENAMES = {("os", "replace"), ("os", "rename"), ("os", "renames"), ("shutil", "move")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _package_of(name: str) -> str:
    return name if MODULES.get(name, Path()).name == "__init__.py" else name.rpartition(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str) -> list[tuple[str, str | None, int]]:
    """``(module imported, name imported from it or None, line)`` for every import in module ``name``."""
    tree = ast.parse(MODULES[name].read_text())
    package = _package_of(name)
    out = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            out.extend((a.name, None, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.append((full, None, node.lineno) if full in MODULES else (module, alias.name, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(m, n, line) for m, n, line in out if m == "neurosuper" or m.startswith("neurosuper.")]


IMPORTS = {name: _imports(name) for name in MODULES}


def _where(name: str, line: int) -> str:
    return f"{MODULES[name].relative_to(ROOT.parent)}:{line}"


def test_analyses_never_import_io_plot_report_or_cli():
    bad = []
    for name, imports in IMPORTS.items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in ANALYSES:
            continue
        for module, _, line in imports:
            target = module.split(".")
            if len(target) > 1 and target[1] in FORBIDDEN_FOR_ANALYSES:
                bad.append(f"{_where(name, line)} imports {module}")
    assert not bad, "analyses must not import io/plot/report/cli:\n" + "\n".join(bad)


def test_private_modules_of_a_subpackage_stay_inside_it():
    bad = []
    for name, imports in IMPORTS.items():
        for module, _, line in imports:
            parts = module.split(".")
            private = [i for i, p in enumerate(parts) if p.startswith("_") and not p.startswith("__")]
            if not private or private[0] == 1:  # top-level private modules are the shared helpers
                continue
            owner = ".".join(parts[: private[0]])
            if not (name == owner or name.startswith(owner + ".")):
                bad.append(f"{_where(name, line)} imports {module}, private to {owner}")
    assert not bad, "\n".join(bad)


def test_no_private_name_is_imported_from_another_module():
    bad = [
        f"{_where(name, line)}: from {module} import {imported}"
        for name, imports in IMPORTS.items()
        for module, imported, line in imports
        if imported and imported.startswith("_") and not imported.startswith("__") and module != name
    ]
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            connect(v)
    return found


def test_no_import_circle():
    graph: dict[str, set[str]] = defaultdict(set)
    for name, imports in IMPORTS.items():
        graph[name]
        for module, _, _ in imports:
            target = module if module in MODULES else _package_of(module) if module in MODULES else module
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            # a package's __init__ re-exporting its own modules is not a circle with them
            if (
                target
                and target != name
                and not (MODULES[target].name == "__init__.py" and name.startswith(target + "."))
            ):
                graph[name].add(target)
    for module in list(graph):  # a module importing its own package's __init__ (a re-export hub) is fine too
        graph[module] = {
            t for t in graph[module] if not (module.startswith(t + ".") and MODULES[t].name == "__init__.py")
        }
    cycles = _cycles(graph)
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_only_the_atomic_writer_renames_files():
    bad = []
    for name, path in MODULES.items():
        if name == "neurosuper._atomic":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in RENAMES
            ):
                bad.append(f"{_where(name, node.lineno)}: {node.func.value.id}.{node.func.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in ("os", "shutil"):
                bad.extend(
                    f"{_where(name, node.lineno)}: from {node.module} import {a.name}"
                    for a in node.names
                    if (node.module, a.name) in RENAMES
                )
    assert not bad, "write through neurosuper._atomic instead:\n" + "\n".join(bad)


@pytest.mark.parametrize("rule", [test_no_private_name_is_imported_from_another_module, test_no_import_circle])
def test_the_rules_can_fail(rule, monkeypatch):
    """Each rule catches a planted violation (so a green run means something)."""
    planted = {
        "neurosuper.format": [("neurosuper._concat", "_align", 1)],
        "neurosuper._concat": [("neurosuper.format", "validate", 1)],
    }
    monkeypatch.setitem(IMPORTS, "neurosuper.format", IMPORTS["neurosuper.format"] + planted["neurosuper.format"])
    monkeypatch.setitem(IMPORTS, "neurosuper._concat", IMPORTS["neurosuper._concat"] + planted["neurosuper._concat"])
    with pytest.raises(AssertionError):
        rule()


# --------------------------------------------------------------------------------- the library owns its pipeline
#: Libraries whose import in cli/ means analysis logic there (the commands parse, call the library and print).
NUMERICAL = ("numpy", "scipy", "xarray", "pandas", "sklearn", "dask", "torch")


def _cli_references(name: str, source: str) -> list[str]:
    """Where module ``name`` reaches ``neurosuper.cli`` by any means: an import (relative or absolute), or a string
    naming it (``import_module("neurosuper.cli.x")``, a ``"neurosuper.cli.x:demo"`` step target)."""
    tree = ast.parse(source)
    package = _package_of(name) if name in MODULES else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            targets = [node.value.split(":")[0].strip()]
        if any(t == "neurosuper.cli" or t.startswith("neurosuper.cli.") for t in targets):
            found.append(f"{name}:{node.lineno}")
    return found


def _numerical_imports(source: str) -> list[str]:
    """The numerical libraries a module imports (at any depth, lazy imports included)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        found += [f"{n} (line {node.lineno})" for n in names if n.split(".")[0] in NUMERICAL]
    return found


def test_nothing_outside_cli_reaches_the_cli():
    bad = [
        ref
        for name, path in MODULES.items()
        if not (name == "neurosuper.cli" or name.startswith("neurosuper.cli.") or name == "neurosuper.__main__")
        for ref in _cli_references(name, path.read_text())
    ]
    assert not bad, "the library must not import the command line (by import, import_module or string):\n" + "\n".join(
        bad
    )


def test_cli_holds_no_analysis_logic():
    bad = [
        f"{name}: imports {lib}"
        for name, path in MODULES.items()
        if name == "neurosuper.cli" or name.startswith("neurosuper.cli.")
        for lib in _numerical_imports(path.read_text())
    ]
    assert not bad, "cli/ parses flags, calls the library and prints; move the computation into the library:\n" + (
        "\n".join(bad)
    )


@pytest.mark.parametrize(
    "planted",
    [
        "from ..cli.spectrum import run\n",
        "from neurosuper.cli import main\n",
        "import importlib\nimportlib.import_module('neurosuper.cli.spectrum')\n",
        "STEP = ('spectrum', 'neurosuper.cli.spectrum:demo')\n",
    ],
)
def test_the_cli_rule_catches_every_way_in(planted):
    assert _cli_references("neurosuper.pipeline.core", planted), planted
    assert not _cli_references("neurosuper.pipeline.core", "from ..spectral import eigenspectrum\n")


def test_the_no_analysis_in_cli_rule_can_fail():
    assert _numerical_imports("def run(args):\n    import numpy as np\n    return np.nansum(args.x)\n")
    assert _numerical_imports("from scipy.stats import binomtest\n")
    assert not _numerical_imports("import argparse\nfrom ..spectral import summary\n")
