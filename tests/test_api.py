"""The public API says each thing one way, and ``docs/developer.md`` lists it exactly.

- The tables under "## The public API" in ``docs/developer.md`` name every public function of the analysis
  packages (``spectral``, ``interpret``, ``directions``, ``capacity``, ``toy``, ``compare``) and of the top level
  (``neurosuper.*``), with its parameters and defaults and its return annotation; this test renders the same rows
  from ``inspect.signature`` and fails on any difference (a missing or extra function, a renamed parameter, a
  changed default or return type), printing the row the table should hold.
- Naming rules, on every public function of the package (plot, datasets, models, prep and io included): no
  parameter called ``rdm``, ``compare`` or ``by`` (``metric=`` is an RDM's distance, ``method=`` how two RDMs are
  compared, ``groupby=`` the unit grouping); in ``neurosuper.compare`` every ``metric`` default is a distance in
  ``compare.METRICS`` and every ``method`` default an RDM comparison in ``compare.METHODS``; every ``groupby``
  defaults to :data:`GROUPBY_DEFAULT`; every ``progress`` defaults to :data:`PROGRESS_DEFAULT`.
- Kinds of result: a function named ``summary`` returns a dict and no other public function does; no public
  function returns a union of kinds (``X | None`` is one kind); a DataArray only from the functions listed in
  :data:`DATAARRAY_RESULTS`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import neurosuper as ns

DOC = Path(__file__).resolve().parents[1] / "docs" / "developer.md"
SECTION = "## The public API"
PACKAGES = ("spectral", "interpret", "directions", "capacity", "toy", "compare")
HEADER = "| function | parameters | returns |"
RULE = "|---|---|---|"

#: The one default of ``groupby`` (layer, else area, else the whole set) and of ``progress`` (a bar, on a terminal).
GROUPBY_DEFAULT = "auto"
PROGRESS_DEFAULT = True
#: Parameter names that said a concept a second way before (``metric``/``method``/``groupby`` say it now).
FORBIDDEN_PARAMETERS = {"rdm", "compare", "by"}
#: The functions that return a DataArray: the objects other functions take (an RDM, directions) and the single
#: measures named after their quantity, each with a Dataset sibling that gathers them (``dimensionality``,
#: ``superposition``). Every other analysis of a set, or comparison of two, returns an ``xr.Dataset``.
DATAARRAY_RESULTS = {
    "compare.rdm",
    "compare.as_rdm",
    "compare.check_rdm",
    "directions.find",
    "spectral.participation_ratio",
    "spectral.effective_rank",
    "spectral.n_components_for",
    "capacity.capacity",
    "capacity.dimensionality_per_feature",
    "capacity.D_star",
    "capacity.interference",
}


# ------------------------------------------------------------------------------------------------ rendering
def _default(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def render_parameters(fn) -> str:
    """``(ds, *, method="auto", n_boot=0, **options)``: names, kinds and defaults (types are in the docstrings)."""
    parts: list[str] = []
    star = False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.default is p.empty:
            parts.append(p.name)
        else:
            parts.append(f"{p.name}={_default(p.default)}")
    return "(" + ", ".join(parts) + ")"


def render_returns(fn) -> str:
    ann = inspect.signature(fn).return_annotation
    if ann is inspect.Signature.empty:
        return "(not annotated)"
    return ann if isinstance(ann, str) else inspect.formatannotation(ann)


def public_functions(module) -> dict[str, object]:
    """``{name: function}`` for the functions in ``module.__all__``."""
    return {n: getattr(module, n) for n in getattr(module, "__all__", ()) if inspect.isfunction(getattr(module, n))}


def expected_tables() -> dict[str, list[str]]:
    """``{"neurosuper": rows, "neurosuper.spectral": rows, ...}``: the table rows the code implies."""
    tables = {}
    for pkg, module in [("neurosuper", ns)] + [(f"neurosuper.{p}", getattr(ns, p)) for p in PACKAGES]:
        prefix = "ns." + pkg.removeprefix("neurosuper").lstrip(".")
        prefix = prefix if prefix.endswith(".") else prefix + "."
        rows = []
        for name, fn in public_functions(module).items():
            returns = render_returns(fn).replace(" | ", " or ")  # a pipe would split the Markdown cell
            rows.append(f"| `{prefix}{name}` | `{render_parameters(fn)}` | `{returns}` |")
        tables[pkg] = rows
    return tables


def documented_rows() -> dict[str, str]:
    """``{function: row}`` of the tables in the "The public API" section of docs/developer.md."""
    text = DOC.read_text()
    assert SECTION in text, f"{DOC}: no section {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `(ns\.[\w.]+)` \|", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is listed twice"
            rows[m.group(1)] = line.strip()
    return rows


# ------------------------------------------------------------------------------------------------------ tests
def test_the_api_table_matches_the_code():
    documented = documented_rows()
    expected = {re.match(r"\| `([\w.]+)`", row).group(1): row for rows in expected_tables().values() for row in rows}
    missing = sorted(set(expected) - set(documented))
    extra = sorted(set(documented) - set(expected))
    assert not missing, "docs/developer.md lacks these rows:\n" + "\n".join(expected[n] for n in missing)
    assert not extra, f"docs/developer.md lists functions that are not public (any more): {extra}"
    wrong = [f"docs:  {documented[n]}\ncode:  {expected[n]}" for n in expected if documented[n] != expected[n]]
    assert not wrong, "rows of docs/developer.md that differ from the code:\n" + "\n".join(wrong)


def _all_public_functions() -> dict[str, object]:
    """Every public function of the package: the top level, the analysis packages, and every module of
    plot/io/datasets/models/prep/format/storage that declares ``__all__``."""
    out = {f"ns.{n}": f for n, f in public_functions(ns).items()}
    for p in PACKAGES:
        out.update({f"{p}.{n}": f for n, f in public_functions(getattr(ns, p)).items()})
    names = ["neurosuper.datasets", "neurosuper.models", "neurosuper.prep", "neurosuper.format", "neurosuper.storage"]
    for pkg in ("neurosuper.plot", "neurosuper.io"):
        names += [m.name for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + ".")]
    for name in names:
        if name.rpartition(".")[2].startswith("_"):
            continue
        module = importlib.import_module(name)
        out.update({f"{name.removeprefix('neurosuper.')}.{n}": f for n, f in public_functions(module).items()})
    return out


FUNCTIONS = _all_public_functions()


def _params(name: str) -> list[inspect.Parameter]:
    return list(inspect.signature(FUNCTIONS[name]).parameters.values())


def test_one_name_per_concept():
    bad = [f"{n}({p.name}=)" for n in FUNCTIONS for p in _params(n) if p.name in FORBIDDEN_PARAMETERS]
    assert not bad, f"parameters named rdm/compare/by (use metric=, method=, groupby=): {bad}"


def test_metric_is_the_rdm_distance_and_method_the_rdm_comparison_in_compare():
    from neurosuper.compare import METHODS, METRICS

    checked = 0
    for name in FUNCTIONS:
        if not name.startswith("compare."):
            continue
        for p in _params(name):
            if p.name == "metric" and p.default is not p.empty and p.default != "unknown":
                assert p.default in METRICS, f"{name}: metric={p.default!r} is not a distance of compare.METRICS"
                checked += 1
            if p.name == "method":
                assert p.default in METHODS, f"{name}: method={p.default!r} is not an RDM comparison (METHODS)"
                checked += 1
    assert checked >= 8  # rdm, compare_rdms, noise_ceiling, profile, overview, side_by_side


@pytest.mark.parametrize(("param", "default"), [("groupby", GROUPBY_DEFAULT), ("progress", PROGRESS_DEFAULT)])
def test_one_default_per_option(param, default):
    found = {n: p.default for n in FUNCTIONS for p in _params(n) if p.name == param and p.default is not p.empty}
    assert len(found) >= 5, f"expected {param}= in several public functions, found {sorted(found)}"
    wrong = {n: d for n, d in found.items() if d != default}
    assert not wrong, f"{param} defaults to {default!r} everywhere (docs/developer.md); these differ: {wrong}"


def test_one_kind_of_result_per_family():
    for name, fn in FUNCTIONS.items():
        returns = render_returns(fn)
        short = name.rpartition(".")[2]
        if short == "summary":
            assert returns.startswith("dict"), f"{name} returns {returns}: summary() returns a JSON-safe dict"
            continue
        if name.split(".")[0] in PACKAGES + ("ns",):
            assert not returns.startswith("dict"), f"{name} returns {returns}: only summary() returns a dict"
            kinds = returns.removesuffix(" | None")  # an optional result (X or None) is one kind
            assert " | " not in kinds, f"{name} returns {returns}: one kind of result, not a union"
            if returns == "xr.DataArray" and name.split(".")[0] in PACKAGES:  # analyses (io builds objects)
                assert name in DATAARRAY_RESULTS, (
                    f"{name} returns a DataArray: results are Datasets (see DATAARRAY_RESULTS)"
                )
    for name in DATAARRAY_RESULTS:
        assert render_returns(FUNCTIONS[name]) == "xr.DataArray", name
