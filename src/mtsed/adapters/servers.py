"""The two servers mtsed starts, and the start-up checks they share (port, stores, folders):
the MLflow tracking server behind ``make ui`` / ``mtsed ui`` (the UI, REST API and registry) and
the detector's model server behind ``mtsed serve`` (``mlflow models serve``).

The backend store is the SQLite file the pipeline writes when no server runs (so earlier
runs show up), or any database URI MLflow accepts, PostgreSQL included
(``postgresql+psycopg2://user@host:port/db``).  Artefacts are served through the server
(``--artifacts-destination``), so clients on other machines can log and read them.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_PORT = 5000
SQLITE_HEADER = b"SQLite format 3\x00"


class StartupError(RuntimeError):
    """Why a server cannot start, in one line naming the port or file; raised before it is exec'd."""


def check_port(host: str, port: int) -> None:
    """Raise :class:`StartupError` when ``host:port`` cannot be listened on (taken, or not an
    address of this machine).  Checked before exec'ing a server: once exec'd, ``mlflow server``
    reports a taken port in its log and still exits with code 0."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as error:
        raise StartupError(f"host {host!r}: not an address of this machine ({error})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as error:
            why = "is already in use" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error.strerror})"
            raise StartupError(f"port {port} on {host} {why}; choose another with --port") from None


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store URI (``None`` for other stores and in-memory SQLite)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _check_sqlite_file(path: Path, must_exist: bool, writable: bool) -> None:
    if path.exists():
        if not path.is_file():
            raise StartupError(f"store {path}: not a file")
        if not os.access(path, os.R_OK | (os.W_OK if writable else 0)):
            raise StartupError(f"store {path}: not {'readable and writable' if writable else 'readable'} by this user")
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
        if head and head != SQLITE_HEADER:
            raise StartupError(f"store {path}: not an SQLite database")
    elif must_exist:
        raise StartupError(f"store {path}: no such file (run `make run` first, or set MLFLOW_TRACKING_URI)")
    else:
        _check_creatable(path, "store")


def _check_creatable(path: Path, what: str) -> None:
    """``path`` does not exist: its nearest existing folder must be a writable folder."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise StartupError(f"{what} {path}: cannot be created ({parent} is not a writable folder)")


def check_backend_store(uri: str, connect_seconds: int = 5) -> None:
    """Raise :class:`StartupError` when the tracking server could not open or write ``uri``:
    an SQLite file that is not a database, unreadable, or in a folder it cannot write; any
    other database that does not accept a connection within ``connect_seconds``."""
    path = sqlite_path(uri)
    if path is not None:
        _check_sqlite_file(path, must_exist=False, writable=True)
        return
    if uri.startswith("sqlite:"):
        return  # in-memory
    import sqlalchemy

    try:
        url = sqlalchemy.engine.make_url(uri)
    except Exception as error:
        raise StartupError(f"store {uri!r}: not a database URI ({error})") from None
    shown = url.render_as_string(hide_password=True)
    connect_args = {"connect_timeout": connect_seconds} if url.get_backend_name() in ("postgresql", "mysql") else {}
    try:
        engine = sqlalchemy.create_engine(url, connect_args=connect_args)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise StartupError(f"store {shown}: cannot connect ({first})") from None


def check_artifacts(folder: Path) -> None:
    """The server's artefact folder must be a writable folder, or creatable."""
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise StartupError(f"artefact folder {folder}: not a writable folder")
    else:
        _check_creatable(folder, "artefact folder")


def check_serving_store(tracking_uri: str, model_uri: str) -> None:
    """A registered model (``models:/...``) is read from the tracking store: when that store is
    an SQLite file it must exist and be readable.  A local model folder must hold ``MLmodel``."""
    if model_uri.startswith("models:/"):
        path = sqlite_path(tracking_uri)
        if path is not None:
            _check_sqlite_file(path, must_exist=True, writable=False)
        return
    if ":/" not in model_uri:  # a folder, not a models:/, runs:/ or remote URI
        folder = Path(model_uri)
        if not (folder / "MLmodel").is_file():
            raise StartupError(
                f"model {folder}: no MLmodel file there (give a models:/<name>/<version> URI or a model folder)"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_backend(root: Path | None = None) -> str:
    return f"sqlite:///{(root or Path.cwd()).resolve() / 'mlflow.db'}"


def server_command(backend_uri: str, artifacts: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> list[str]:
    """``mlflow server`` with one worker (enough for a team's UI; the pipeline's stages
    log through it one request at a time) and artefacts proxied by the server."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(Path(artifacts).resolve()),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def server_env() -> dict[str, str]:
    """The environment the server runs in: no telemetry, no background job runner."""
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}


def url(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def serve_command(model_uri: str, host: str = "127.0.0.1", port: int = 5001) -> list[str]:
    """``mlflow models serve`` in this environment (``--env-manager local``: no downloads)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--host",
        host,
        "--port",
        str(port),
    ]


SERVE_MALLOC_ARENAS = "2"


def serve_env() -> dict[str, str]:
    """The serving process execs ``uvicorn`` from this environment's scripts folder.  glibc
    gives each request thread its own malloc arena, so resident memory climbs with the number
    of concurrent clients (+12 % from 1 to 16 clients, benchmarks/serving_load.py); two arenas
    hold it to +7 %.  An operator's ``MALLOC_ARENA_MAX`` wins."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", SERVE_MALLOC_ARENAS),
    }


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
