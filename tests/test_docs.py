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
