"""The app under gunicorn with the committed gunicorn.conf.py, on a free loopback port.

For the tests that need a real server (slow clients, forked workers, two servers) and for
bench/bench_serve.py. Every app setting is passed explicitly, so a developer's .env cannot
change what is tested; the instance folder is the caller's, never the project's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:  # imported by bench/bench_serve.py too
    sys.path.insert(0, str(PROJECT))

import config  # noqa: E402 - needs the path above

LOCAL_HOST = "127.0.0.1"
START_SECONDS = 90  # the master reads the data and loads or trains the model before serving
START_ATTEMPTS = 3  # a free port can be taken by another process before gunicorn binds it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOCAL_HOST, 0))
        return probe.getsockname()[1]


def app_environment(settings: Mapping[str, Any]) -> dict[str, str]:
    """os.environ with every app setting set: the defaults, then `settings`."""
    environ = dict(os.environ)
    for name, value in {**config.defaults(), **settings}.items():
        environ[name] = as_environment_value(value)
    return environ


def as_environment_value(value: Any) -> str:
    """A parsed setting written back as the environment spells it (config's parsers read it)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):  # networks, or (NAME, DIGEST) token pairs: comma-separated
        return ",".join(":".join(part) if isinstance(part, tuple) else str(part) for part in value)
    return str(value)


class Gunicorn:
    """A gunicorn master and its workers, in a process group of their own."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        instance: Path,
        *,
        app: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """`settings` are app settings (HOST and PORT are chosen here); `app` replaces the
        committed wsgi_app (the bench's bare page); `extra_args` go to gunicorn."""
        self.settings = dict(settings)
        self.instance = Path(instance)
        self.app = app or f"wsgi:create_warm_app({str(self.instance)!r})"
        self.extra_args = extra_args
        self.port = 0
        self.log_path = self.instance / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    # -- starting and stopping ------------------------------------------------------------

    def start(self, wait: bool = True) -> Gunicorn:
        self.instance.mkdir(parents=True, exist_ok=True)
        for _attempt in range(START_ATTEMPTS):
            self._launch()
            if not wait:
                return self
            try:
                self.wait_until_serving()
                return self
            except PortTaken:
                continue
        raise RuntimeError(f"gunicorn did not start:\n{self.log_tail()}")

    def _launch(self) -> None:
        self.port = free_port()
        environ = app_environment({**self.settings, "HOST": LOCAL_HOST, "PORT": self.port})
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(PROJECT / "gunicorn.conf.py"),
            *self.extra_args, self.app,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT, env=environ, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one signal reaches every worker
            )

    def wait_until_serving(self) -> None:
        """Until /healthz answers; raises with the log when gunicorn stops first."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                if "Address already in use" in self.log_tail():
                    raise PortTaken
                raise RuntimeError(f"gunicorn stopped:\n{self.log_tail()}")
            try:
                with socket.create_connection((LOCAL_HOST, self.port), timeout=1):
                    pass
                self.get_json("/healthz")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {START_SECONDS} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL to the whole group if that takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 of the master and every worker at once, as a power cut would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=20)

    def __enter__(self) -> Gunicorn:
        return self.start() if self.process is None else self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- looking at it --------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.port}"

    @property
    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        """The master's child processes (Linux)."""
        path = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def wait_for_workers(
        self, count: int, timeout: float = 30, replacing: int | None = None
    ) -> list[int]:
        """The worker PIDs once there are `count` of them, none of them `replacing`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == count and replacing not in pids:
                return pids
            time.sleep(0.05)
        raise RuntimeError(f"expected {count} workers, have {self.worker_pids()}")

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def get_json(self, path: str, timeout: float = 10) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.load(response)

    def post_json(self, path: str, body: Any, timeout: float = 10) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)


class PortTaken(Exception):
    """gunicorn could not bind the port chosen for it."""


def pss_kib(pid: int) -> int:
    """A process's proportional set size: its private memory plus its share of shared pages."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Pss line for process {pid}")
