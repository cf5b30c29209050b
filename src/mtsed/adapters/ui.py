"""The MLflow tracking server behind ``make ui`` / ``mtsed ui``: the UI, REST API and registry.

The backend store is the SQLite file the pipeline writes when no server runs (so earlier
runs show up), or any database URI MLflow accepts, PostgreSQL included
(``postgresql+psycopg2://user@host:port/db``).  Artefacts are served through the server
(``--artifacts-destination``), so clients on other machines can log and read them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def serve_command(model_uri: str, host: str = "127.0.0.1", port: int = 5001) -> list[str]:
    """``mlflow models serve`` in this environment (``--env-manager local``: no downloads)."""
    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
            "--host", host, "--port", str(port)]


def serve_env() -> dict[str, str]:
    """The serving process execs ``uvicorn`` from this environment's scripts folder."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


def wait_until_up(health_url: str, process: subprocess.Popen, seconds: float = 120) -> float:
    """Poll ``health_url`` until it answers 200; returns the seconds waited.  Raises
    :class:`RuntimeError` if the process exits or the deadline passes."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before {health_url} answered")
        try:
            with urllib.request.urlopen(health_url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{health_url} did not answer within {seconds:.0f} s")
