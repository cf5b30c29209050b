"""The package's shape: layers that only import downwards, no import circle, and dvc.yaml
dependencies that cover exactly the code each stage runs (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "mtsed"

# cli -> adapters -> stages -> detection -> {model, evaluation} -> data -> features -> {io, measures} -> config.
# A module may import its own package and any package of a lower rank, never one above it or
# a different package of the same rank.
LAYERS = {
    "config": 0,
    "io": 1,
    "measures": 1,
    "features": 2,
    "data": 3,
    "model": 4,
    "evaluation": 4,
    "detection": 5,
    "stages": 6,
    "adapters": 7,
    "cli": 8,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The mtsed modules a file imports (``from mtsed.x import y`` names module ``mtsed.x.y``
    when that is a module, else ``mtsed.x``), anywhere in the file or at its top level only."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "mtsed"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "mtsed":
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in _modules() else node.module)
    return found


def _package(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_module_sits_in_a_layer():
    loose = sorted(m for m in _modules() if m != "mtsed" and _package(m) not in LAYERS)
    assert loose == [], f"modules outside the layers of ARCHITECTURE.md: {loose}"


def test_no_import_reaches_up_or_sideways():
    wrong = []
    for module, path in _modules().items():
        own = _package(module)
        for imported in _imports(path):
            other = _package(imported)
            if imported == "mtsed" or other == own:
                continue
            if own == "" or LAYERS[other] >= LAYERS[own]:
                wrong.append(f"{module} -> {imported}")
    assert wrong == [], "imports against the layering (ARCHITECTURE.md):\n" + "\n".join(sorted(wrong))


def test_no_import_circle_at_load_time():
    graph = {
        m: {i for i in _imports(p, top_level_only=True) if i in _modules() and i != m} for m, p in _modules().items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        state[node] = 2
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            circle = visit(module)
            assert circle is None, " -> ".join(circle)


# --- dvc.yaml dependencies derived from the code each stage runs -----------------------------


def _stage_modules(stage) -> set[str]:
    """The library modules whose functions a runner stage calls (read off its ``run`` function)."""
    run = stage.run
    tree = ast.parse(textwrap.dedent(inspect.getsource(run)))
    local = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                local[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    called = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            name, attr = node.func.value.id, node.func.attr
            owner = run.__globals__.get(name)
            if name in local:
                called.add(local[name])
            elif isinstance(owner, types.ModuleType) and owner.__name__.startswith("mtsed.stages"):
                called.add(getattr(owner, attr).__module__)
    return {m for m in called if m.startswith("mtsed.stages")}


def _closure(modules: set[str]) -> set[str]:
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module in seen or module not in _modules():
            continue
        seen.add(module)
        todo += _imports(_modules()[module])
        parts = module.split(".")  # importing a module runs its packages' __init__ first
        todo += [".".join(parts[:k]) for k in range(2, len(parts))]
    return seen


def expected_code_deps(stage) -> list[str]:
    """The src/ dependencies a DVC stage running ``stage`` must list: every module file its code
    imports, packages' ``__init__`` files included (they run first), adapters and the CLI aside
    (they run it, they do not shape its output). Module by module, so that editing code no
    stage imports (a benchmark's helper) leaves every stage up to date."""
    code = {m for m in _closure(_stage_modules(stage)) if m != "mtsed" and _package(m) not in ("adapters", "cli")}
    return sorted(_modules()[m].relative_to(REPO).as_posix() for m in code)


def _dvc_stages():
    from mtsed.adapters.runner import STAGES

    for name, body in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        body = body.get("do", body)
        words = body["cmd"].split()
        command = next(w for w in words[words.index("mtsed") + 1 :] if not w.startswith("-") and w in STAGES)
        yield name, STAGES[command], body.get("deps", [])


def test_the_stage_modules_are_found():
    from mtsed.adapters.runner import STAGES

    assert {name: sorted(_stage_modules(stage)) for name, stage in STAGES.items()} == {
        "clips": ["mtsed.stages.clips"],
        "prepare": ["mtsed.stages.prepare"],
        "features": ["mtsed.stages.features"],
        "targets": ["mtsed.stages.targets"],
        "train": ["mtsed.stages.training"],
        "ensemble": ["mtsed.stages.detector"],
        "thresholds": ["mtsed.stages.detector"],
        "evaluate-set": ["mtsed.stages.evaluation"],
    }


@pytest.mark.parametrize("name, stage, deps", list(_dvc_stages()), ids=lambda v: v if isinstance(v, str) else "")
def test_dvc_yaml_lists_the_code_each_stage_runs(name, stage, deps):
    listed = sorted(d for d in deps if d.startswith("src/mtsed/") and not d.endswith(".tsv"))
    assert listed == expected_code_deps(stage), (
        f"dvc.yaml stage {name}: set its src/ deps to {expected_code_deps(stage)}"
    )


def test_code_no_stage_runs_is_no_stage_dependency():
    """Editing a benchmark's helper (the audibility measurement) must leave every stage up to date."""
    listed = {d for _, _, deps in _dvc_stages() for d in deps}
    assert "src/mtsed/data/default/audibility.py" not in listed
    assert "src/mtsed/data/default/synthetic.py" in listed  # while the code that makes the data is one
