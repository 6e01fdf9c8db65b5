"""Throwaway PostgreSQL and Redis servers for the tests, from Debian's packages.

Each server runs from its own temporary folder on a free loopback port, for one test session,
and is stopped at the end. Use them with `pytest_plugins = ["services_support"]`:

- `postgres_server`: a PostgreSQL cluster (initdb + pg_ctl) that asks for a password;
- `postgres_url`: a fresh, empty database on it for one test, as a DATABASE_URL
  (`fresh_database(postgres_server)` for a longer-lived one);
- `redis_url`: a redis-server with no persistence, as redis://127.0.0.1:PORT/0;
- `closed_port`: a loopback port nothing listens on, for "server unreachable" tests.

Where the binaries are missing, the tests that need them skip and say what to install. In CI
(CI=true) that is a failure instead: `.ci/run` installs both, so a missing server means the
services tests did not run.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

LOCAL_HOST = "127.0.0.1"
# Debian installs each major version's binaries here, outside PATH.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# Root may not run PostgreSQL; Debian's package creates this account for it.
POSTGRES_ACCOUNT = "postgres"
ICU_LOCALE = "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
START_ATTEMPTS = 3  # a free port can be taken by another process before the server binds it


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(message: str) -> NoReturn:
    """Skip the test where a server cannot run here; fail in CI, where it must."""
    if in_ci():
        pytest.fail(f"{message} CI=true, so this is a failure, not a skip.", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOCAL_HOST, 0))
        return probe.getsockname()[1]


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL's binaries: Debian's folder, else whatever initdb is on PATH."""
    def major(folder: str) -> int:
        version = Path(folder).parent.name
        return int(version) if version.isdigit() else 0

    for folder in sorted(glob.glob(POSTGRES_BIN_GLOB), key=major, reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    return free_port()


# ---------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway cluster; the superuser `user` logs in with `password` over TCP."""

    port: int
    user: str
    password: str

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        """A DATABASE_URL for `database` (with another password to test a wrong one)."""
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{self.user}:{secret}@{LOCAL_HOST}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=LOCAL_HOST, port=self.port, user=self.user, password=self.password,
            dbname="postgres", autocommit=True, connect_timeout=10,
        )


class _Cluster:
    """initdb into a temporary folder, then pg_ctl start/stop, as a non-root account if root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(POSTGRES_ACCOUNT)
            except KeyError:
                unavailable(
                    f"PostgreSQL refuses to run as root and there is no {POSTGRES_ACCOUNT!r} "
                    "account (Debian's postgresql package creates it)."
                )
            self.run_as = {"user": POSTGRES_ACCOUNT, "group": POSTGRES_ACCOUNT}
        self.root = Path(tempfile.mkdtemp(prefix="movies-pg-"))
        if self.run_as:
            shutil.chown(self.root, POSTGRES_ACCOUNT, POSTGRES_ACCOUNT)
        self.data = self.root / "data"
        self.password = secrets.token_urlsafe(16) + "/@:%"  # URL-special characters too

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]], cwd=self.root, capture_output=True,
            text=True, timeout=120, check=False, **self.run_as,
        )

    def init(self) -> None:
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        if self.run_as:
            shutil.chown(password_file, POSTGRES_ACCOUNT, POSTGRES_ACCOUNT)
        done = self._run(
            "initdb", "-D", str(self.data), "-U", POSTGRES_ACCOUNT, "--pwfile", str(password_file),
            "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync",
        )
        password_file.unlink()
        if done.returncode:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> int:
        """Start on a free port; returns the port."""
        for _attempt in range(START_ATTEMPTS):
            port = free_port()
            # fsync off: a throwaway cluster needs no protection against a power cut.
            options = (
                f"-p {port} -c listen_addresses={LOCAL_HOST} -k {self.root} "
                "-c fsync=off -c full_page_writes=off -c shared_buffers=16MB"
            )
            done = self._run(
                "pg_ctl", "start", "-D", str(self.data), "-l", str(self.root / "server.log"),
                "-w", "-t", "60", "-o", options,
            )
            if done.returncode == 0:
                return port
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start:\n{done.stdout}\n{done.stderr}\n{log}")

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster while in the block; skips (fails in CI) where it isn't installed."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql).")
    cluster = _Cluster(bin_dir)
    try:
        cluster.init()
        port = cluster.start()
        yield PostgresServer(port, POSTGRES_ACCOUNT, cluster.password)
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@contextmanager
def fresh_database(server: PostgresServer) -> Iterator[str]:
    """An empty database of its own while in the block, as a DATABASE_URL (password included)."""
    name = f"test_{secrets.token_hex(6)}"
    with server.admin() as admin:
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        try:
            # Sorting as a production server's en_US locale does ("a" before "B"), not bytewise,
            # so that code relying on the server's default order shows up here.
            admin.execute(create + sql.SQL(" TEMPLATE template0 " + ICU_LOCALE))
        except psycopg.errors.FeatureNotSupported:  # a PostgreSQL built without ICU
            admin.execute(create)
    try:
        yield server.url(name)
    finally:
        with server.admin() as admin:
            # FORCE: a test that failed half-way may still hold connections.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty database of its own for one test, as a DATABASE_URL (password included)."""
    with fresh_database(postgres_server) as url:
        yield url


# ---------------------------------------------------------------------------------------------
# Redis


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection((LOCAL_HOST, port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server for the session, keeping nothing on disk; skips (fails in CI) without it."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        unavailable("Redis is not installed (apt-get install redis-server).")
    folder = Path(tempfile.mkdtemp(prefix="movies-redis-"))
    for _attempt in range(START_ATTEMPTS):
        port = free_port()
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", LOCAL_HOST, "--save", "", "--appendonly",
             "no", "--dir", str(folder), "--logfile", str(folder / "server.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while server.poll() is None and time.monotonic() < deadline:
            if _redis_answers(port):
                break
            time.sleep(0.05)
        if server.poll() is None and _redis_answers(port):
            break
        server.kill()
        server.wait()
    else:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError("redis-server did not start")
    try:
        yield f"redis://{LOCAL_HOST}:{port}/0"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)
