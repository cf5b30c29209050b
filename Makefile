# Two set-up commands: `make run` (pipeline on the embedded default data) and `make test`.
VENV    := .venv
BIN     := $(abspath $(VENV))/bin
STAMP   := $(VENV)/.installed
PYTHON  ?= python3
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: install run ui test test-fast study clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)  ## create .venv with the pinned dependencies and mtsed

DEV_STAMP := $(VENV)/.dev-installed
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

STUDY_STAMP := $(VENV)/.study-installed
$(STUDY_STAMP): $(STAMP) requirements-study.txt
	$(BIN)/pip install --quiet -r requirements-study.txt
	touch $(STUDY_STAMP)

PRESET ?=
run: install  ## the whole DVC pipeline on the embedded default data (one MLflow parent run); PRESET=long|paper: `dvc exp run` with presets/<name>.yaml
	PATH=$(BIN):$$PATH $(BIN)/mtsed tracked --name $(or $(PRESET),make-run) -- \
		$(BIN)/dvc $(if $(PRESET),exp run $$($(BIN)/mtsed preset $(PRESET)),repro)
	PATH=$(BIN):$$PATH $(BIN)/dvc push --quiet
	@cat reports/isolated/table.md; echo; cat reports/overlapping/table.md

UI_PORT ?= 5000
BACKEND ?=
ui: install  ## MLflow tracking server + UI on 127.0.0.1:$(UI_PORT); store mlflow.db, or BACKEND=postgresql+psycopg2://user@host:port/db
	$(BIN)/mtsed ui --port $(UI_PORT) $(if $(BACKEND),--backend-store-uri $(BACKEND))

test: install $(DEV_STAMP) $(STUDY_STAMP)  ## lint, format check, then the whole test suite (slow end-to-end tests included)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-fast: install $(DEV_STAMP) $(STUDY_STAMP)  ## lint, format check and the unit tests (no slow end-to-end runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not slow"

study: install $(STUDY_STAMP)  ## the detection quality study over 3 seeds (hours): benchmarks/QUALITY.md
	$(BIN)/python -m benchmarks.quality

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
