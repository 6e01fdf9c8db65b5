"""The results page with OMDb: cold (nothing cached) and warm (all cached), beside their floors.

    .venv/bin/python bench/bench_omdb.py [--sizes 10 50] [--delay 0.2] [--redis]

A fake OMDb on loopback answers every lookup after a fixed delay (one "round trip"). The page is
GET /recommendations?user_id=1&n=N through the app's test client, with the embedded recommender
on the sample data. In the same run:

- cold: the page right after the OMDb cache is cleared, beside one round trip to the fake
  (the floor: a page's lookups all in flight at once cost one);
- warm: the page again, every answer cached, beside the same page with OMDb disabled;
- other worker: the same page from a second client on the same cache (another gunicorn worker,
  or another machine on Redis) that has not seen it yet: every answer read from the cache.

--redis keeps the cache in a private redis-server (Debian's /usr/bin/redis-server) instead of
SQLite. Targets (issue 11): cold <= 1.5x one round trip; warm <= ~1.3x the page without OMDb.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from _common import PROJECT  # noqa: F401  (puts the project on sys.path)
from flask import Flask

from app import create_app
from dataset import Catalog, Movie
from omdb import OmdbClient

KEY = "bench-key"
FORK = multiprocessing.get_context("fork")


class FakeOmdb(ThreadingHTTPServer):
    """Answers every lookup with a movie after `delay` seconds; counts requests in flight.

    It serves from a forked process, as OMDb is elsewhere: its own work then takes no time from
    the app's threads. The counters are shared memory, readable from the bench.
    """

    daemon_threads = True
    request_queue_size = 256  # the default backlog (5) would drop a page's simultaneous connects

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self._lock = FORK.Lock()
        self._requests = FORK.Value("i", 0, lock=False)
        self._in_flight = FORK.Value("i", 0, lock=False)
        self._max_in_flight = FORK.Value("i", 0, lock=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    @property
    def requests(self) -> int:
        return self._requests.value

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight.value

    def reset_max_in_flight(self) -> None:
        with self._lock:
            self._max_in_flight.value = 0

    def enter(self) -> None:
        with self._lock:
            self._requests.value += 1
            self._in_flight.value += 1
            self._max_in_flight.value = max(self._max_in_flight.value, self._in_flight.value)

    def leave(self) -> None:
        with self._lock:
            self._in_flight.value -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as OMDb does
    disable_nagle_algorithm = True  # else headers and body wait for a delayed ACK (40 ms)
    server: FakeOmdb

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.enter()
        try:
            time.sleep(self.server.delay)
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            title = query.get("t", query.get("i", "?"))
            body = json.dumps({"Response": "True", "Title": title, "Plot": "A plot.",
                               "Poster": "N/A", "imdbID": "tt0000001"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            self.server.leave()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def fake_omdb(delay: float) -> Iterator[FakeOmdb]:
    server = FakeOmdb(delay)
    process = FORK.Process(target=server.serve_forever, daemon=True)
    process.start()
    try:
        yield server
    finally:
        process.terminate()
        process.join()
        server.server_close()


@contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--redis needs redis-server (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
                "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait()


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--delay", type=float, default=0.2, help="the fake's answer time, s")
    parser.add_argument("--cold-repeats", type=int, default=5)
    parser.add_argument("--warm-repeats", type=int, default=30)
    parser.add_argument("--redis", action="store_true", help="cache in a private redis-server")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as instance, fake_omdb(options.delay) as fake:
        with redis_server() if options.redis else _no_redis() as cache_url:
            run(options, fake, Path(instance), cache_url)


@contextmanager
def _no_redis() -> Iterator[str]:
    yield ""


class Retitled(Catalog):
    """The catalogue with a run number after each title: a new run's lookups are all uncached.

    That keeps one client, its threads and its open connections from run to run, as in a server
    that has served a page before.
    """

    run = 0

    def get(self, item_id: str) -> Movie:
        movie = super().get(item_id)
        return dataclasses.replace(movie, title=f"{movie.title} #{self.run}")


def run(options: argparse.Namespace, fake: FakeOmdb, instance: Path, cache_url: str) -> None:
    without = create_app({}, instance_path=str(instance), omdb=OmdbClient(None))
    page(without, 1)()  # trains (or loads) the model outside the timings
    built = without.extensions["movies"]
    catalog = Retitled(built.catalog)

    def app_with_omdb() -> tuple[Flask, OmdbClient]:
        client = OmdbClient(KEY, cache_path=instance / "omdb-cache.sqlite", cache_url=cache_url,
                            base_url=fake.url)
        app = create_app({"OMDB_API_KEY": KEY}, instance_path=str(instance), omdb=client,
                         recommender=built.recommender, interactions=built.interactions,
                         catalog=catalog)
        return app, client

    with_omdb, client = app_with_omdb()
    # Another worker: the same cache, its own memory. It reads answers the first one fetched.
    other_worker, other_client = app_with_omdb()

    probe = requests.Session()
    round_trip = median_seconds(lambda: probe.get(fake.url, params={"t": "x"}), 5)
    cache = "Redis" if cache_url else "SQLite"
    print(f"fake OMDb delay {options.delay * 1000:.0f} ms; one round trip measured "
          f"{round_trip * 1000:.0f} ms; cache: {cache}")
    print(f"{'n':>4} {'cold ms':>8} {'/ 1 trip':>9} {'in flight':>9} {'warm ms':>8} "
          f"{'other worker ms':>15} {'no OMDb ms':>10} {'warm / no OMDb':>14} {'other / no':>10}")
    for n in options.sizes:
        get, get_other = page(with_omdb, n), page(other_worker, n)
        cold_times, other_times, in_flight = [], [], []
        for _ in range(options.cold_repeats):
            catalog.run += 1
            fake.reset_max_in_flight()
            sent = fake.requests
            cold_times.append(median_seconds(get, 1))
            in_flight.append(fake.max_in_flight)
            if fake.requests - sent != n:
                raise SystemExit(f"the cold page sent {fake.requests - sent} lookups, not {n}")
            other_times.append(median_seconds(get_other, 1))
        cold_s, other_s = statistics.median(cold_times), statistics.median(other_times)
        sent = fake.requests
        warm_s = median_seconds(get, options.warm_repeats)
        if fake.requests != sent:
            raise SystemExit("a warm page sent requests to OMDb")
        floor_s = median_seconds(page(without, n), options.warm_repeats)
        print(f"{n:>4} {cold_s * 1000:>8.0f} {cold_s / round_trip:>8.2f}x "
              f"{statistics.median(in_flight):>9.0f} {warm_s * 1000:>8.1f} "
              f"{other_s * 1000:>15.1f} {floor_s * 1000:>10.1f} {warm_s / floor_s:>13.2f}x "
              f"{other_s / floor_s:>9.2f}x")
    other_client.close()
    client.close()


def page(app: Flask, n: int) -> Callable[[], None]:
    """GET the results page for user 1 with n recommendations."""
    test_client = app.test_client()

    def get() -> None:
        response = test_client.get(f"/recommendations?user_id=1&n={n}")
        assert response.status_code == 200, response.status_code

    return get


if __name__ == "__main__":
    main()
