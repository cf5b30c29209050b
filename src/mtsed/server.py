"""The MLflow tracking server behind ``make ui`` / ``mtsed ui``: the UI, REST API and registry.

The backend store is the SQLite file the pipeline writes when no server runs (so earlier
runs show up), or any database URI MLflow accepts, PostgreSQL included
(``postgresql+psycopg2://user@host:port/db``).  Artefacts are served through the server
(``--artifacts-destination``), so clients on other machines can log and read them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_PORT = 5000


def default_backend(root: Path | None = None) -> str:
    return f"sqlite:///{(root or Path.cwd()).resolve() / 'mlflow.db'}"


def server_command(backend_uri: str, artifacts: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> list[str]:
    """``mlflow server`` with one worker (enough for a team's UI; the pipeline's stages
    log through it one request at a time) and artefacts proxied by the server."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
            "--artifacts-destination", str(Path(artifacts).resolve()), "--host", host, "--port", str(port), "--workers", "1"]


def server_env() -> dict[str, str]:
    """The environment the server runs in: no telemetry, no background job runner."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


def url(host: str, port: int) -> str:
    return f"http://{host}:{port}"
