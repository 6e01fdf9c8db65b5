"""The production server under load, beside a bare Flask page served the same way.

    .venv/bin/python bench/bench_serve.py [--requests 600] [--seconds 20]

gunicorn.conf.py on loopback, the embedded engine on the sample data, SQLite, no OMDb key:

- load: a mixed load at concurrency 1, 8 and 32 (each client a thread with a kept-alive
  connection): results pages and JSON recommendations for random users, movie pages, and
  ratings. A rating is made on the top item of the user's list, then the list is read again on
  a new connection (so, often, by another worker): an answer still showing the rated movie is
  an inconsistent read. Beside it, the same number of requests for a bare Flask page
  (bench/_bare_app.py) under the same config. Requests/s, p50/p99, errors;
- memory: PSS of master plus workers, 1 worker beside 4, after each served the mixed load;
- a fresh worker: its first results page beside its hundredth, each after a pause (7 workers);
- slow clients: /healthz latency while two uploads that sent a Content-Length but not the
  body are open, on one worker.

- the ceiling: the same mix through Flask's test client in this process, one request after
  another, its CPU time per request divided into the cores: no server could serve it faster.

Targets: 0 errors and 0 inconsistent reads; 4 workers <= 1.5x one worker (PSS); first page
<= 2x the hundredth; /healthz <= 100 ms with two unfinished uploads; requests/s at concurrency
8 >= 50% of the bare page's. That last one cannot hold while the ceiling itself is below half
the bare page's, so the figure beside it is the server's share of the ceiling (>= 50%). The
load generator shares the 2 cores with the server.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import PROJECT
from _load import (
    ITEMS,
    RATINGS,
    Client,
    InProcessClient,
    Tally,
    data_ids,
    mixed_step,
    run_load,
    summary,
)

sys.path.insert(0, str(PROJECT / "tests"))
from gunicorn_support import Gunicorn, pss_kib  # noqa: E402 - needs the path above

BARE_APP = "bench._bare_app:create()"
CONCURRENCY = (1, 8, 32)


# --- the measurements ------------------------------------------------------------------------


# The app's settings in every measurement; no rate limits, since one address sends it all.
SETTINGS = {"RATINGS_PATH": RATINGS, "ITEMS_PATH": ITEMS, "SECRET_KEY": "bench",
            "RATE_LIMIT_WRITES": "", "RATE_LIMIT_READS": "", "RATE_LIMIT_NEW_USERS": ""}


def server(work: Path, name: str, app: str | None = None, **settings: object) -> Gunicorn:
    return Gunicorn({**SETTINGS, **settings}, work / name, app=app)


def measure_ceiling(work: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(CPU seconds per request of the mix in this process, the requests/s that allows).

    The app called through Flask's test client, one request after another: no server, no
    socket, no load generator. No server can serve the mix faster than the cores divided by
    that cost, so it is the ceiling that the served throughput is compared with.
    """
    from app import create_app  # the app's modules, on the path from _common

    app = create_app(SETTINGS, instance_path=str(work / "in-process"))
    app.extensions["movies"].warm_up()
    users, items = data_ids()
    client, rng = InProcessClient(app, Tally()), random.Random(0)
    while len(client.tally.latencies) < 100:  # warm, as the served app is by its warm-up
        mixed_step(client, users, items, rng)
    client.tally = Tally()
    started = time.process_time()
    while len(client.tally.latencies) < args.requests:
        mixed_step(client, users, items, rng)
    per_request = (time.process_time() - started) / len(client.tally.latencies)
    assert client.tally.errors == 0
    return per_request, len(os.sched_getaffinity(0)) / per_request


def measure_load(work: Path, args: argparse.Namespace) -> list[tuple[str, int, dict]]:
    users, items = data_ids()
    rows = []
    with server(work, "load") as app, server(work, "bare", app=BARE_APP) as bare:
        for concurrency in CONCURRENCY:
            for label, port, step in (
                ("app", app.port, lambda c, rng: mixed_step(c, users, items, rng)),
                ("bare", bare.port, lambda c, _rng: c.request("GET", "/")),
            ):
                tally, elapsed = run_load(port, concurrency, args.requests, args.seconds, step)
                rows.append((label, concurrency, summary(tally, elapsed)))
                print(f"  {label} at concurrency {concurrency}: done", file=sys.stderr)
    return rows


def measure_memory(work: Path, args: argparse.Namespace) -> dict[int, int]:
    users, items = data_ids()
    totals = {}
    for workers in (1, 4):
        with server(work, f"memory-{workers}", WEB_CONCURRENCY=workers) as app:
            pids = app.wait_for_workers(workers)
            # Enough clients that every worker serves its share.
            run_load(app.port, 2 * workers, 100 * workers, args.seconds,
                     lambda c, rng: mixed_step(c, users, items, rng))
            totals[workers] = sum(pss_kib(pid) for pid in [app.master_pid, *pids])
    return totals


def measure_fresh_worker(work: Path) -> tuple[float, float, float]:
    """Medians over 7 fresh workers of the first page, the hundredth and pages 95-99 (seconds).

    The first and the hundredth each follow a 2 s pause, on a new connection: any page after a
    pause is slower (1.8x, measured on a worker that had served a hundred already).
    """
    users, _items = data_ids()
    firsts, hundredths, steady = [], [], []
    with server(work, "fresh", WEB_CONCURRENCY=1) as app:
        for _round in range(7):
            [old] = app.wait_for_workers(1)
            os.kill(old, signal.SIGTERM)  # the master forks a fresh one from the warm app
            app.wait_for_workers(1, replacing=old)
            tally = Tally()
            # The pause before the first page also lets the new worker warm up.
            for pause, batch in ((2, users[:1]), (0, users[1:99]), (2, users[99:100])):
                time.sleep(pause)
                client = Client(app.port, tally)
                for user in batch:
                    client.request("GET", f"/recommendations?user_id={user}")
            assert tally.errors == 0, app.log_tail()
            firsts.append(tally.latencies[0])
            hundredths.append(tally.latencies[99])
            steady.append(statistics.median(tally.latencies[94:99]))
    return statistics.median(firsts), statistics.median(hundredths), statistics.median(steady)


def measure_slow_clients(work: Path) -> tuple[float, float]:
    """(median, max) /healthz latency in seconds with two unfinished uploads, on one worker."""
    with server(work, "slow", WEB_CONCURRENCY=1) as app:
        slow = [socket.create_connection(("127.0.0.1", app.port), timeout=30) for _ in range(2)]
        for connection in slow:
            connection.sendall(
                b"POST /api/ratings HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
                b"\r\nContent-Length: 100\r\n\r\n{\"user_id\": "
            )
        time.sleep(0.5)
        tally = Tally()
        for _ in range(20):
            Client(app.port, tally).request("GET", "/healthz", fresh=True)
        for connection in slow:
            connection.close()
    assert tally.errors == 0
    return statistics.median(tally.latencies), max(tally.latencies)


# --- the report ------------------------------------------------------------------------------


def print_report(load: list, ceiling: tuple, memory: dict, fresh: tuple, slow: tuple) -> None:
    print(f"{'server':>6} {'conc.':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'errors':>6} {'stale reads':>11}")
    for label, concurrency, row in load:
        stale = f"{row['inconsistent']}/{row['checked']}" if label == "app" else "-"
        print(f"{label:>6} {concurrency:>5} {row['requests']:>8} {row['per_second']:>7.0f} "
              f"{row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['errors']:>6} {stale:>11}")
    rates = {(label, concurrency): row["per_second"] for label, concurrency, row in load}
    per_request, most = ceiling
    print(f"ceiling: the mix costs {1000 * per_request:.2f} ms of CPU a request in one process, "
          f"so {len(os.sched_getaffinity(0))} cores serve at most {most:.0f} req/s")
    for concurrency in CONCURRENCY:
        app, bare = rates[("app", concurrency)], rates[("bare", concurrency)]
        print(f"at concurrency {concurrency}: app / bare page {app / bare:.0%}, ceiling / bare "
              f"page {most / bare:.0%}, app / ceiling {app / most:.0%}")
    app, bare = rates[("app", 8)], rates[("bare", 8)]
    for floor, share in (("the bare page's", app / bare), ("the ceiling", app / most)):
        verdict = "met" if share >= 0.5 else "not met"
        print(f"target: at concurrency 8, >= 50% of {floor}: {share:.0%}, {verdict}")
    print(f"memory (PSS, master + workers): 1 worker {memory[1] / 1024:.0f} MB, "
          f"4 workers {memory[4] / 1024:.0f} MB: {memory[4] / memory[1]:.2f}x")
    first, hundredth, steady = (1000 * seconds for seconds in fresh)
    print(f"fresh worker: first page {first:.1f} ms, hundredth {hundredth:.1f} ms (each after a"
          f" pause): {first / hundredth:.2f}x; back to back {steady:.1f} ms")
    print(f"/healthz with two unfinished uploads: median {1000 * slow[0]:.1f} ms, "
          f"max {1000 * slow[1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600,
                        help="requests per server and concurrency level (default 600)")
    parser.add_argument("--seconds", type=float, default=20,
                        help="time limit per server and concurrency level (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        work = Path(folder)
        print("load, memory, a fresh worker, slow clients …", file=sys.stderr)
        load, ceiling = measure_load(work, args), measure_ceiling(work, args)
        memory, fresh = measure_memory(work, args), measure_fresh_worker(work)
        slow = measure_slow_clients(work)
    print_report(load, ceiling, memory, fresh, slow)


if __name__ == "__main__":
    main()
