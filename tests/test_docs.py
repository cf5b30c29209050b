"""The docs name files, modules and functions that exist: each path and dotted name in backticks
in the READMEs, ARCHITECTURE.md and METHOD.md is checked against the repository and the package."""

import importlib
import importlib.util
import re

import pytest

from tests.conftest import REPO

DOCS = ["README.md", "ARCHITECTURE.md", "METHOD.md", "components/README.md", "pipeline/README.md"]
MADE_BY_RUNS = (
    "data/",
    "features/",
    "targets/",
    "models/",
    "outputs/",
    "bundles/",
    "reports/",
    "metrics/",
    "detections/",
    "mlruns",
    "mlflow.db",
    ".dvc-remote",
    "kfp-local",
    "test-artifacts",
    "~",
    "/",
    "field/",
    "more/",
    "refs/",
    "scores/",
    "nvidia.com/",
    "licences/",
    "mlartifacts",
)
PATH = re.compile(r"^[\w.\-]+(/[\w.\-<>*]+)*/?$")
SUFFIXES = (".py", ".md", ".yaml", ".yml", ".txt", ".tsv", ".toml", ".cfg", ".ini", ".html", ".json", ".png")


def _spans(doc: str) -> set[str]:
    text = (REPO / doc).read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks show commands, not references
    return set(re.findall(r"`([^`\n]+)`", text))


def _paths(doc: str) -> list[str]:
    found = []
    for span in _spans(doc):
        if not PATH.match(span) or any(ch in span for ch in "<>*{") or span.startswith(MADE_BY_RUNS):
            continue
        if "/" in span:  # a bare file name is an output a stage writes, not a file of the repository
            found.append(span)
    return sorted(found)


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_names_exists(doc):
    roots = (REPO, REPO / "src" / "mtsed", REPO / "src")
    missing = [p for p in _paths(doc) if not any((root / p.rstrip("/")).exists() for root in roots)]
    assert missing == [], f"{doc} names what is not in the repository: {missing}"


@pytest.mark.parametrize("doc", DOCS)
def test_every_dotted_name_a_doc_gives_imports(doc):
    missing = []
    for span in sorted(_spans(doc)):
        if not re.fullmatch(r"mtsed(\.\w+)+", span) or importlib.util.find_spec(".".join(span.split(".")[:2])) is None:
            continue  # "mtsed.stage" and its kin are MLflow tag names, not modules
        parts = span.split(".")
        for split in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:split]))
            except ModuleNotFoundError:
                continue
            try:
                for attribute in parts[split:]:
                    obj = getattr(obj, attribute)
            except AttributeError:
                missing.append(span)
            break
        else:
            missing.append(span)
    assert missing == [], f"{doc} names what the package does not have: {missing}"


def _params() -> dict:
    import yaml

    return yaml.safe_load((REPO / "params.yaml").read_text())


def _setting(params: dict, key: str) -> tuple[bool, object]:
    """``params.yaml``'s value at a dotted key, and whether the key is there."""
    node: object = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


@pytest.mark.parametrize("doc", DOCS)
def test_every_setting_a_doc_states_is_params_yaml_s(doc):
    """A doc states a setting as `section.key: value` only where params.yaml holds that value
    (an alternative is written otherwise, e.g. "`train.cpu_precision` set to bf16")."""
    import yaml

    params, stated, wrong = _params(), 0, []
    for span in sorted(_spans(doc)):
        match = re.fullmatch(r"([a-z_]+(?:\.[a-z_0-9]+)+): (.+)", span)
        if not match:
            continue
        known, value = _setting(params, match.group(1))
        if known:
            stated += 1
            if yaml.safe_load(match.group(2)) != value:
                wrong.append(f"`{span}` (params.yaml: {value!r})")
    assert wrong == [], f"{doc} states settings params.yaml does not hold: {wrong}"
    if doc == "README.md":
        assert stated >= 3  # the recipe's settings are stated this way, so the check has something to hold


HISTORY = [
    (re.compile(r"\bissues? #?\d+", re.I), "an issue number"),
    (re.compile(r"#\d{2,}\b"), "an issue number"),
    (re.compile(r"\b20\d\d-\d\d-\d\d\b"), "a date"),
    (re.compile(r"\bF1 (?:of |at |from |rose |fell )?(?:\d+\.\d+|\d{2,})\b"), "an F1 figure"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:segments|steps|windows)/s\b"), "a measured speed"),
    (re.compile(r"\b\d+\.\d+ (?:vs\.?|against) \d+\.\d+\b"), "a measured comparison"),
    (re.compile(r"\b(?:as before|written before|the first reading|until issue|since issue)\b", re.I), "history"),
]


def _comments(path) -> str:
    """What a reader takes as explanation: a Python file's comments and docstrings, a YAML file's comments."""
    import ast
    import io
    import tokenize

    text = path.read_text()
    if path.suffix != ".py":
        return "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    found = [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline) if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(ast.get_docstring(node) or "")
    return "\n".join(found)


@pytest.mark.parametrize(
    "path",
    [REPO / "params.yaml", *sorted((REPO / "src" / "mtsed").rglob("*.py"))],
    ids=lambda p: p.relative_to(REPO).as_posix(),
)
def test_comments_say_what_is_not_its_history(path):
    """Issue numbers, dates, measured figures and "as before" belong in benchmarks/QUALITY.md,
    benchmarks/RESULTS.md and the commit messages; a comment says what a value means and why."""
    text = _comments(path)
    found = [f"{what}: {m.group(0)!r}" for pattern, what in HISTORY for m in pattern.finditer(text)]
    assert found == [], f"{path.relative_to(REPO)} tells history: {found}"


def test_the_history_check_finds_history():
    samples = ["see issue 18", "fixed in #31", "measured 2026-12-06", "F1 72.1 vs 65.7", "trains ~25 segments/s"]
    for sample in samples:
        assert any(pattern.search(sample) for pattern, _ in HISTORY), sample
    assert not any(pattern.search("each take played up to 4 % faster") for pattern, _ in HISTORY)
