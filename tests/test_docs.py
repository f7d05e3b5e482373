"""The documentation cites only what the repository holds (issue 18).

README.md and every page under docs/ (the mkdocs site, ``mkdocs.yml``) are checked on their text:

- every relative Markdown link points to an existing file of the repository (a page of docs/ links only inside
  docs/: that is all the site holds);
- no path outside the repository: no ``../`` outside a link (relative to what? a reader's checkout has no
  neighbours), no file of this machine;
- a file named in code (``tests/test_x.py``, ``neurosuper/format.py``, ``_gram.py``) or an upper-case
  ``NAME.md`` exists in the repository;
- every page of docs/ is in the site's nav, and every nav entry exists;
- the API pages' ``::: path`` directives name modules or names of the source, and a function that shares its
  submodule's name (``toy.train``), which griffe would document as the module, has its own directive.

``mkdocs build --strict`` (in .ci/run) checks the rest: anchors, and the API pages generated from the docstrings.
Each rule is shown failing on planted text (``test_*_fails_on_a_planted_*``).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_ext" not in p.parts)]
#: Files named in the docs that belong to other projects (not paths of this repository).
EXTERNAL_FILES = {"psychophysics/psychophysics.py"}  # Klindt et al.'s released code (docs/interpret.md)

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_UP = re.compile(r"(?<![.\w/])\.\./")
_MACHINE = re.compile(r"(?<![\w.])/(?:work|root|home)/")
_UPPER_MD = re.compile(r"(?<![\w/.-])[A-Z][A-Z0-9_]*\.md\b")
_TOP = tuple(f"{p.name}/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")) + (".ci/",)


def _repo_files() -> list[str]:
    skip = {".git", "__pycache__", "site", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
    return [
        p.relative_to(ROOT).as_posix()
        for p in ROOT.rglob("*")
        if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts) and "egg-info" not in str(p)
    ]


FILES = _repo_files()


def _exists_in_repo(name: str) -> bool:
    """``name`` is a file of the repository, given from the root or as the tail of a path (``_gram.py``)."""
    name = name.rstrip("/")
    if "*" in name:
        return any(Path(f).match(name) for f in FILES)
    return (ROOT / name).exists() or any(f == name or f.endswith("/" + name) for f in FILES)


def problems(page: Path, text: str) -> list[str]:
    """What is wrong with ``text``, the content of ``page`` (a path under the repository), as messages."""
    out = []
    where = page.relative_to(ROOT).as_posix()
    prose = _FENCE.sub("", text)
    code_spans = [m.group(2).strip() for m in _CODE.finditer(prose)]
    prose = _CODE.sub("", prose)
    targets = [m.group(1) for m in _LINK.finditer(prose)] + _REF_DEF.findall(prose)
    for target in targets:
        if _SCHEME.match(target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (page.parent / path).resolve()
        if not resolved.is_relative_to(ROOT):
            out.append(f"{where}: link {target!r} leaves the repository")
        elif not resolved.exists():
            out.append(f"{where}: link {target!r} points to a missing file")
        elif page.is_relative_to(DOCS) and not resolved.is_relative_to(DOCS):
            out.append(f"{where}: link {target!r} leaves docs/ (all the site holds)")
    text_only = _LINK.sub("", _REF_DEF.sub("", text))  # link targets were checked above
    for line_no, line in enumerate(text_only.splitlines(), 1):
        if _UP.search(line):
            out.append(f"{where}:{line_no}: a path outside the repository ('../'): {line.strip()[:100]}")
        if _MACHINE.search(line):
            out.append(f"{where}:{line_no}: a path of this machine: {line.strip()[:100]}")
    for span in code_spans:
        name = span.split("::", 1)[0]  # tests/test_x.py::test_y
        if " " in name or name in EXTERNAL_FILES:
            continue
        if name.startswith(_TOP) or re.fullmatch(r"[\w./-]+\.py", name):
            if not _exists_in_repo(name):
                out.append(f"{where}: names `{span}`, which is not in the repository")
    for name in sorted(set(_UPPER_MD.findall(text))):
        if not _exists_in_repo(name):
            out.append(f"{where}: names {name}, which is not in the repository")
    return out


def _nav() -> list[str]:
    return re.findall(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_cites_only_files_of_the_repository(page):
    assert problems(page, page.read_text(encoding="utf-8")) == []


def test_every_page_is_in_the_nav_and_every_nav_entry_exists():
    nav = _nav()
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES if p.is_relative_to(DOCS)}
    assert sorted(pages - set(nav)) == [], "pages of docs/ missing from mkdocs.yml's nav"
    assert sorted(set(nav) - pages) == [], "nav entries of mkdocs.yml with no page in docs/"
    assert len(nav) == len(set(nav)), "a page listed twice in the nav"


def _module_file(dotted: str) -> Path | None:
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _shadowed(package: str) -> list[str]:
    """Names the package's ``__init__`` imports from its submodule of the same name (``from .train import train``):
    griffe documents the submodule under that name, so the API page must name the function explicitly."""
    init = _module_file(package)
    if init is None or init.name != "__init__.py":
        return []
    return [
        alias.name
        for node in ast.parse(init.read_text()).body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        for alias in node.names
        if alias.asname is None and alias.name == node.module and _module_file(f"{package}.{node.module}")
    ]


def api_page_problems(page: str, text: str) -> list[str]:
    """The ``::: path`` directives of an API page: each names a module or a name defined in one, and a package's
    names shadowed by their submodules (:func:`_shadowed`) have their own directive."""
    out = []
    paths = re.findall(r"^::: (\S+)\s*$", text, re.MULTILINE)
    for path in paths:
        module, _, name = path.rpartition(".")
        if _module_file(path) is not None:
            continue
        source = _module_file(module)
        defined = set()
        if source is not None:
            for node in ast.parse(source.read_text()).body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    defined.add(node.name)
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    defined.update(t.id for t in targets if isinstance(t, ast.Name))
        if name not in defined:
            out.append(f"{page}: '::: {path}' names nothing in the source")
    for path in paths:
        for name in _shadowed(path):
            if f"{path}.{name}.{name}" not in paths:
                out.append(f"{page}: {path}.{name} is also a submodule's name: add '::: {path}.{name}.{name}'")
    return out


@pytest.mark.parametrize("page", sorted((DOCS / "api").glob("*.md")), ids=lambda p: p.name)
def test_api_page_directives_name_the_public_api(page):
    assert api_page_problems(page.name, page.read_text(encoding="utf-8")) == []


def test_api_rule_fails_on_planted_directives():
    text = "::: neurosuper.toy\n\n::: neurosuper.toy.train.train\n\n::: neurosuper.toy.gone.gone\n"
    assert api_page_problems("planted.md", text) == [
        "planted.md: '::: neurosuper.toy.gone.gone' names nothing in the source",
        "planted.md: neurosuper.toy.summary is also a submodule's name: add '::: neurosuper.toy.summary.summary'",
        "planted.md: neurosuper.toy.sweep is also a submodule's name: add '::: neurosuper.toy.sweep.sweep'",
    ]


def test_link_rule_fails_on_a_planted_bad_link():
    page = DOCS / "planted.md"
    found = problems(page, "See [the format](format.md), [gone](gone.md#x) and [up](../../outside.md).\n")
    assert found == [
        "docs/planted.md: link 'gone.md#x' points to a missing file",
        "docs/planted.md: link '../../outside.md' leaves the repository",
    ]
    readme = problems(ROOT / "README.md", "[ok](docs/format.md) [bad](docs/nope.md) [results](benchmarks/RESULTS.md)")
    assert readme == ["README.md: link 'docs/nope.md' points to a missing file"]
    assert problems(page, "[results](../benchmarks/RESULTS.md)") == [
        "docs/planted.md: link '../benchmarks/RESULTS.md' leaves docs/ (all the site holds)"
    ]


def test_outside_path_rule_fails_on_a_planted_mention():
    page = DOCS / "planted.md"
    text = "Data in `../shared/data/m1`, a file at /work/x.nc; an ellipsis '.../session.nwb' is fine.\n"
    assert [p.split(": ", 1)[1] for p in problems(page, text)] == [
        "a path outside the repository ('../'): " + text.strip()[:100],
        "a path of this machine: " + text.strip()[:100],
    ]


def test_named_file_rule_fails_on_planted_names():
    page = DOCS / "planted.md"
    text = (
        "Checked by `tests/test_docs.py::test_nav`, `tests/test_nope.py`; helpers `_gram.py`, `gone.py`; "
        "outputs `summary.md`, `report.html`; see DESIGN.md and README.md.\n"
    )
    assert problems(page, text) == [
        "docs/planted.md: names `tests/test_nope.py`, which is not in the repository",
        "docs/planted.md: names `gone.py`, which is not in the repository",
        "docs/planted.md: names DESIGN.md, which is not in the repository",
    ]


def test_docstring_extension_turns_rest_habits_into_markdown():
    spec = importlib.util.spec_from_file_location("_docs_ext", DOCS / "_ext" / "docstrings.py")
    assert spec is not None and spec.loader is not None
    ext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ext)
    text = (
        "See :func:`find` and :class:`~neurosuper.pipeline.Step`::\n\n    x = 1\n\n>>> ns.f(1)  # doctest: +SKIP\n2\n"
    )
    assert ext.to_markdown(text) == ("See `find` and `Step`:\n\n    x = 1\n\n```pycon\n>>> ns.f(1)\n2\n```")
    assert ext.to_markdown(ext.to_markdown(text)) == ext.to_markdown(text)  # aliases may see a docstring twice
