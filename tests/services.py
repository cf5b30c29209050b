"""Real services for end-to-end tests: the MLflow server, PostgreSQL, Debian programs, chromium.

Each helper starts the real program on a free loopback port and stops it afterwards; a
program the machine lacks is installed from Debian's packages where allowed (root and
apt-get), otherwise the test is skipped with the reason, or fails under ``CI=true``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

from mtsed.adapters.servers import wait_until_up


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(url: str, payload: dict | None = None, timeout: float = 30) -> dict:
    """GET (or POST ``payload`` as JSON) and decode the JSON answer."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@contextmanager
def background(
    command: list[str], health_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """Run a server process until the block ends; yields once ``health_url`` answers."""
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        try:
            wait_until_up(health_url, process)
        except RuntimeError as error:
            pytest.fail(f"{error}:\n{log.read_text()[-4000:]}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path) -> Iterator[str]:
    """``mtsed ui`` (what ``make ui`` runs) on a free loopback port; yields its URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mtsed.cli",
        "ui",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_uri,
        "--artifacts",
        str(artifacts),
    ]
    with background(command, f"http://127.0.0.1:{port}/health", log):
        yield f"http://127.0.0.1:{port}"


def _unavailable(reason: str) -> NoReturn:
    """A program a test needs cannot be had: a skip on a developer's machine, a failure in CI
    (``CI=true``), where a skipped check would pass unseen."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a test CI cannot run is a failure, not a skip)")
    pytest.skip(reason)


APT_LOCK_TIMEOUT = 900  # seconds apt-get waits for another apt or dpkg to release the package lock


def debian_program(name: str, package: str, search: str = "") -> str:
    """Path of program ``name`` (also looked for in the ``search`` glob), installing Debian
    ``package`` if it is missing and the machine allows it (waiting for another apt-get to
    finish first); skips the test otherwise, or fails it under ``CI=true``."""

    def find() -> str | None:
        return shutil.which(name) or next(iter(sorted(glob.glob(os.path.join(search, name)) if search else [])), None)

    if found := find():
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _unavailable(
            f"{name} is not installed and Debian package {package} cannot be installed here (needs root and apt-get)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT}", "-q"]
    install = [*apt, "install", "-y", "--no-install-recommends", package]
    limit = APT_LOCK_TIMEOUT + 900
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=limit)
    if done.returncode != 0:  # stale or missing package lists
        subprocess.run([*apt, "update"], env=env, capture_output=True, timeout=limit)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=limit)
    if not (found := find()):
        _unavailable(f"could not install Debian package {package} for {name}: {done.stderr.strip()[-500:]}")
    return found


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port; yields an SQLAlchemy URI
    (``postgresql+psycopg2://mtsed@127.0.0.1:PORT/mlflow``) with trust authentication."""
    initdb = Path(debian_program("initdb", "postgresql", "/usr/lib/postgresql/*/bin")).resolve()
    bindir = initdb.parent
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="mtsed-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            shutil.chown(folder, "postgres", "postgres")
        except (LookupError, PermissionError) as error:
            _unavailable(f"running as root without a usable postgres user: {error}")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    cluster, log = folder / "cluster", folder / "server.log"
    stop = [*as_user, str(bindir / "pg_ctl"), "-D", str(cluster), "-m", "fast", "stop"]
    try:
        subprocess.run(
            [*as_user, str(initdb), "-D", str(cluster), "-U", "mtsed", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *as_user,
                str(bindir / "pg_ctl"),
                "-D",
                str(cluster),
                "-l",
                str(log),
                "-w",
                "start",
                "-o",
                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*as_user, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mtsed", "mlflow"],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as error:
        server_log = log.read_text() if log.exists() else ""
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {error.stderr.decode()[-2000:]}\n{server_log[-2000:]}")
    try:
        yield f"postgresql+psycopg2://mtsed@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def chromium_browser() -> Iterator:
    """Debian's chromium under playwright, headless, with its own background traffic off (so a
    test that counts a page's requests sees only the page's)."""
    from playwright.sync_api import sync_playwright

    chromium = debian_program("chromium", "chromium")
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=flags)
        try:
            yield browser
        finally:
            browser.close()
