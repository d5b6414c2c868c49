"""The shape of the package holds: dependencies point inward, and no module imports itself back.

Every `import` in `monitor/` (module level or inside a function) is read with `ast` and checked
against the rule of docs/ARCHITECTURE.md:

- shared (`settings`, `records`, `errors`, `logs`, `backoff`, `text`) imports only shared;
- `collect`, `keep`, `judge`, `tell` import the shared modules and themselves, and another of the
  four only through its package's public names (`from monitor.judge import Claim`), never its
  internals, nor `storage`, `pipeline`, `config`, `service` or `cli`;
- `storage` imports only `records`, `errors` and itself;
- `pipeline` and `config` may import any of those; `service` and `web` also `pipeline`; `cli` everything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "monitor"
SHARED = (
    "monitor",
    "monitor.settings",
    "monitor.records",
    "monitor.errors",
    "monitor.logs",
    "monitor.backoff",
    "monitor.text",
)
DOMAINS = ("monitor.collect", "monitor.keep", "monitor.judge", "monitor.tell")
OUTER = {  # who may import what, beyond the shared modules
    "monitor.storage": ("monitor.storage",),
    "monitor.config": (*DOMAINS, "monitor.storage", "monitor.config"),
    "monitor.pipeline": (*DOMAINS, "monitor.storage", "monitor.config", "monitor.pipeline"),
    "monitor.service": (*DOMAINS, "monitor.storage", "monitor.config", "monitor.pipeline"),
    "monitor.web": (*DOMAINS, "monitor.storage", "monitor.config", "monitor.pipeline", "monitor.web"),
    # the workers on a task queue (issue 23): the service's peer, which reuses its digest run
    "monitor.worker": (*DOMAINS, "monitor.storage", "monitor.config", "monitor.pipeline", "monitor.service", "monitor.worker"),
    "monitor.cli": ("monitor",),
    "monitor.__main__": ("monitor.cli",),
    "monitor.entry": ("monitor.cli",),  # the console script's entry point
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import of ours in the file (`from a.b import c` counts as a.b.c
    where c is a module, else a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "monitor":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if base.split(".")[0] != "monitor":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield node.lineno, candidate if _exists(candidate) else base


def _exists(module: str) -> bool:
    path = ROOT.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes if p != "monitor") or (
        "monitor" in prefixes and module == "monitor"
    )


def allowed(importer: str, imported: str) -> bool:
    if _within(importer, ("monitor.storage",)):
        return _within(imported, ("monitor.records", "monitor.errors", "monitor.storage"))
    if _within(imported, SHARED):
        return True
    if _within(importer, SHARED):
        return False
    for domain in DOMAINS:
        if _within(importer, (domain,)):
            if _within(imported, (domain,)):
                return True
            return imported in DOMAINS  # another domain: only its package's public names
    for outer, may in OUTER.items():
        if importer == outer or importer.startswith(outer + "."):
            if may == ("monitor",):
                return True
            return _within(imported, may)
    return False


def graph() -> dict[str, list[tuple[int, str]]]:
    return {module_name(p): list(imports(p)) for p in sorted(ROOT.rglob("*.py")) if "migrations" not in p.parts}


def test_every_import_points_inward() -> None:
    wrong = [
        f"{importer}:{line} imports {imported}"
        for importer, found in graph().items()
        for line, imported in found
        if not allowed(importer, imported)
    ]
    assert wrong == []


def test_no_module_imports_itself_back() -> None:
    edges = {m: {i for _, i in found if i != m} for m, found in graph().items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules (`__init__` re-exports)
            if state.get(nxt) == 1:
                cycle.extend([*path, node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*path, node]):
                return True
        state[node] = 2
        return False

    for module in sorted(edges):
        if state.get(module) is None and visit(module, []):
            break
    assert cycle == []


@pytest.mark.parametrize(
    ("importer", "imported", "ok"),
    [
        ("monitor.keep.stories", "monitor.text.normalize", True),
        ("monitor.keep.stories", "monitor.judge.encoder", False),  # another stage's internals
        ("monitor.tell.build", "monitor.judge", True),  # its public names
        ("monitor.storage.flags", "monitor.settings", False),
        ("monitor.records", "monitor.storage.tables", False),
        ("monitor.judge.llm", "monitor.pipeline.cycle", False),
        ("monitor.cli.claims", "monitor.pipeline.cycle", True),
    ],
)
def test_the_rule_itself(importer: str, imported: str, ok: bool) -> None:
    assert allowed(importer, imported) is ok


def test_modules_stay_small() -> None:
    long = {
        module_name(p): n for p in ROOT.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert long == {}


def test_functions_stay_short_outside_the_orchestration() -> None:
    long = [
        f"{module_name(p)}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for p in ROOT.rglob("*.py")
        if "migrations" not in p.parts and not module_name(p).startswith(("monitor.pipeline", "monitor.service"))
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (node.end_lineno or 0) - node.lineno + 1 > 60
    ]
    assert long == []
