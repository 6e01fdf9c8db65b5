"""gunicorn's settings for serving the app in production: `make serve`, or `gunicorn` run in
the project folder (it reads this file by default). Command-line flags override these.

- The app is built and warmed up once, in the master, before the workers fork (preload_app;
  wsgi.py says why), so the model's arrays are shared by every worker.
- Threaded workers (gthread): a client that sends its body slowly holds one thread, not a
  worker, and /healthz keeps answering.
- HOST, PORT, WEB_CONCURRENCY and WEB_THREADS are the app's settings (config.py), read from the
  environment and .env like every other.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
from pathlib import Path
from typing import Any

_PROJECT = Path(__file__).resolve().parent
if str(_PROJECT) not in sys.path:  # `gunicorn -c /path/to/gunicorn.conf.py` from elsewhere
    sys.path.insert(0, str(_PROJECT))

import config as _config  # noqa: E402 - needs the path above

# Twice the CPUs plus one (gunicorn's advice), but no more than this: each worker keeps its own
# copy of what is not shared, and threads already overlap waiting on the database or OMDb.
_MOST_WORKERS_BY_DEFAULT = 8

try:
    _settings = _config.from_environment()
except _config.ConfigError as _error:
    sys.exit(f"Configuration error: {_error}")


def default_workers() -> int:
    """2 × the CPUs this process may use, plus one, at most _MOST_WORKERS_BY_DEFAULT."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2 * (cpus or 1) + 1, _MOST_WORKERS_BY_DEFAULT)


def bind_address(host: str, port: int) -> str:
    """HOST:PORT as gunicorn's --bind takes it; an IPv6 address goes in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


chdir = str(_PROJECT)
wsgi_app = "wsgi:create_warm_app()"
preload_app = True
bind = [bind_address(_settings["HOST"], _settings["PORT"])]
worker_class = "gthread"
workers = _settings["WEB_CONCURRENCY"] or default_workers()
threads = _settings["WEB_THREADS"]
# A worker that stops answering its master's heartbeat for this long is replaced; pages take
# milliseconds, and Personalize and OMDb calls give up within 8 s.
timeout = 30
graceful_timeout = 30
# Seconds a kept-alive connection may idle; a reverse proxy in front reuses them.
keepalive = 5
# No `gunicornc` control socket: nothing here uses it, and its default path ($HOME/.gunicorn)
# would be shared by two servers run by one account.
control_socket_disable = True
# The heartbeat file on tmpfs: a disk-backed /tmp can stall the heartbeat (gunicorn's FAQ).
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"


def when_ready(server: object) -> None:
    """Before the first fork: keep the collector off the app's objects, so they stay shared."""
    # A collection in a worker writes to every object it visits, copying its memory page;
    # frozen objects are left alone (the gc module's advice for a fork without exec).
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    """In each new worker, before it accepts a connection: serve a few pages to itself."""
    import wsgi

    # On a thread of the worker's own pool (gthread's), which then serves the first request.
    pool = getattr(worker, "tpool", None)
    if pool is None:
        wsgi.warm_worker(worker.wsgi)
        return
    pool.submit(wsgi.warm_worker, worker.wsgi).result()
    pool.submit(_serve_to_self, worker, "/healthz").result()


def _serve_to_self(worker: Any, path: str) -> None:
    """One request through gunicorn's own HTTP handling, over a socket pair.

    The warm-up's pages go straight to the app; gunicorn's parser and response writer then
    still ran for the first time on a visitor's request, which took 3 ms more than the next.
    A small answer only: nobody reads the pair until the request is done.
    """
    try:
        from gunicorn.workers.gthread import TConn

        from wsgi import WARM_UP_CLIENT

        ours, theirs = socket.socketpair()
        with ours, theirs:
            request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            theirs.sendall(request.encode())
            client = (WARM_UP_CLIENT, 0)
            worker.handle(TConn(worker.cfg, ours, client, ours.getsockname()))
    except Exception:  # an internal of gunicorn's that moved: the worker still serves
        worker.log.warning("Warming up gunicorn's request handling failed", exc_info=True)
