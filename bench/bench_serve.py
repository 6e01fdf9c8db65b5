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

Targets: 0 errors and 0 inconsistent reads; 4 workers <= 1.5x one worker (PSS); first page
<= 2x the hundredth; /healthz <= 100 ms with two unfinished uploads; requests/s at concurrency
8 >= 50% of the bare page's. The load generator shares the 2 cores with the server.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import PROJECT

sys.path.insert(0, str(PROJECT / "tests"))
from gunicorn_support import Gunicorn, pss_kib  # noqa: E402 - needs the path above

RATINGS = PROJECT / "data" / "ratings.csv"
ITEMS = PROJECT / "data" / "items.csv"
BARE_APP = "bench._bare_app:create()"
CONCURRENCY = (1, 8, 32)


@dataclass
class Tally:
    """What one load run saw; threads add to it under the lock."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    inconsistent: int = 0
    checked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.errors += not ok


class Client:
    """One simulated visitor: a kept-alive connection, reopened after an error."""

    def __init__(self, port: int, tally: Tally) -> None:
        self.port, self.tally = port, tally
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(
        self, method: str, path: str, body: object = None, fresh: bool = False
    ) -> tuple[int, bytes]:
        """Send one request, timed; `fresh` uses a new connection (any worker may take it)."""
        connection = self._connect() if fresh else self.connection
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException):
            status, data = 0, b""
            connection.close()
            if not fresh:
                self.connection = self._connect()
        self.tally.add(time.perf_counter() - started, 200 <= status < 300)
        if fresh:
            connection.close()
        return status, data


def mixed_step(client: Client, users: list[str], items: list[str], rng: random.Random) -> None:
    """One visitor action, drawn with the weights of a browsing session."""
    user = rng.choice(users)
    roll = rng.random()
    if roll < 0.35:
        client.request("GET", f"/recommendations?user_id={user}")
    elif roll < 0.60:
        client.request("GET", f"/movies?item_id={rng.choice(items)}")
    elif roll < 0.85:
        client.request("GET", f"/api/recommendations?user_id={user}&n=10")
    else:
        rate_and_check(client, user, rng)


def rate_and_check(client: Client, user: str, rng: random.Random) -> None:
    """Rate the top item of the user's list, then read the list again through any worker."""
    path = f"/api/recommendations?user_id={user}&n=10"
    status, data = client.request("GET", path)
    if status != 200 or not json.loads(data)["items"]:
        return
    top = json.loads(data)["items"][0]["item_id"]
    rating = {"user_id": user, "item_id": top, "rating": rng.choice([1, 3, 5])}
    status, _data = client.request("POST", "/api/ratings", rating)
    if status != 201:
        return
    status, data = client.request("GET", path, fresh=True)
    if status == 200:
        shown = {item["item_id"] for item in json.loads(data)["items"]}
        with client.tally.lock:
            client.tally.checked += 1
            client.tally.inconsistent += top in shown


def run_load(
    port: int, concurrency: int, total: int, seconds: float,
    step: Callable[[Client, random.Random], None],
) -> tuple[Tally, float]:
    """`concurrency` clients doing `step` until `total` requests or `seconds` have passed."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    def visitor(seed: int) -> None:
        rng = random.Random(seed)
        client = Client(port, tally)
        while len(tally.latencies) < total and time.monotonic() < deadline:
            step(client, rng)
        client.connection.close()

    threads = [threading.Thread(target=visitor, args=(seed,)) for seed in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, time.perf_counter() - started


def summary(tally: Tally, elapsed: float) -> dict[str, float]:
    ordered = sorted(tally.latencies)
    return {
        "requests": len(ordered),
        "per_second": len(ordered) / elapsed,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "errors": tally.errors, "inconsistent": tally.inconsistent, "checked": tally.checked,
    }


# --- the measurements ------------------------------------------------------------------------


def data_ids() -> tuple[list[str], list[str]]:
    with RATINGS.open(newline="") as handle:
        users = sorted({row["USER_ID"] for row in csv.DictReader(handle)})
    with ITEMS.open(newline="") as handle:
        items = [row["ITEM_ID"] for row in csv.DictReader(handle)]
    return users, items


def server(work: Path, name: str, app: str | None = None, **settings: object) -> Gunicorn:
    base = {"RATINGS_PATH": RATINGS, "ITEMS_PATH": ITEMS, "SECRET_KEY": "bench",
            "RATE_LIMIT_WRITES": "", "RATE_LIMIT_READS": "", "RATE_LIMIT_NEW_USERS": ""}
    return Gunicorn({**base, **settings}, work / name, app=app)


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


def print_report(load: list, memory: dict, fresh: tuple, slow: tuple) -> None:
    print(f"{'server':>6} {'conc.':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'errors':>6} {'stale reads':>11}")
    for label, concurrency, row in load:
        stale = f"{row['inconsistent']}/{row['checked']}" if label == "app" else "-"
        print(f"{label:>6} {concurrency:>5} {row['requests']:>8} {row['per_second']:>7.0f} "
              f"{row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['errors']:>6} {stale:>11}")
    rates = {(label, concurrency): row["per_second"] for label, concurrency, row in load}
    for concurrency in CONCURRENCY:
        share = rates[("app", concurrency)] / rates[("bare", concurrency)]
        print(f"app / bare page at concurrency {concurrency}: {share:.0%}")
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
        load, memory = measure_load(work, args), measure_memory(work, args)
        fresh, slow = measure_fresh_worker(work), measure_slow_clients(work)
    print_report(load, memory, fresh, slow)


if __name__ == "__main__":
    main()
