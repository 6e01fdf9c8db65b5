"""The results page beside a bare Flask page of the same size, served the same way, in one run.

    .venv/bin/python bench/bench_pages.py [--sizes 10 50] [--rounds 300]

Both sides are gunicorn with the committed gunicorn.conf.py and one worker, on loopback, each
asked over one kept-alive connection. The page is GET /recommendations?user_id=1&n=N with the
embedded recommender on the shipped sample data, ratings in SQLite under a temporary instance
folder, no OMDb key, and the app's default settings otherwise: the rate limits run. The floor is
bench/_bare_app.py's static app: a template with no variables of the same byte size (the results
page's own HTML, saved once), rendered by Flask.

A second floor, "unrendered", is the app itself on a third server, whose results page sends
that saved page instead of rendering results.html (bench/_bare_app.py's `unrendered`): it does
all the rest of the page's work, the read limit, the user's ratings read and ranked, OMDb's
details, the session's form token. The results page over it is what rendering costs.

Each round sends one request of every kind in turn (interleaved, so a busy moment of the shared
machine falls on both sides); the figures are medians over the rounds. Beside them: the same page
from a server with the rate limits off, which is what the limiter costs a page.

The default read limit (60 a minute per client) would refuse most of a run from one address, so
each request names its own client address in X-Forwarded-For (TRUSTED_PROXIES=127.0.0.1): the
limiter does its full work, a new key and a moving window checked and hit, as for a new visitor.
Targets (issue 11): the results page <= 1.5x the bare page at n=10 and <= 2x at n=50. The
unrendered floor alone is far above those, so the targets are also read against it: rendering
may add at most 0.5x (n=10) and 1x (n=50) of that floor.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

from _common import PROJECT

sys.path.insert(0, str(PROJECT / "tests"))
from gunicorn_support import Gunicorn  # noqa: E402 - needs the path above

USER = "1"
TARGETS = {10: 1.5, 50: 2.0}
KINDS = ("results", "bare", "unrendered", "no limits")
# One worker, as in the figures; every other setting is the app's default.
SERVER = {"SECRET_KEY": "bench", "WEB_CONCURRENCY": 1, "TRUSTED_PROXIES": "127.0.0.1/32"}


def addresses() -> Iterator[str]:
    """A new client address for every request: 10.0.0.1, 10.0.0.2, ..."""
    for number in itertools.count(1):
        yield f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


class Client:
    """One kept-alive connection to one server."""

    def __init__(self, server: Gunicorn, clients: Iterator[str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.clients = clients

    def get(self, path: str) -> bytes:
        """The body of a 200 answer to GET `path`, from the next client address."""
        self.connection.request("GET", path, headers={"X-Forwarded-For": next(self.clients)})
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:200]!r}")
        return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=300, help="timed requests of each kind")
    parser.add_argument("--warm-up", type=int, default=30, help="untimed rounds first")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, ExitStack() as servers:
        run(options, Path(work), servers)


def run(options: argparse.Namespace, work: Path, servers: ExitStack) -> None:
    clients = addresses()
    app = Client(servers.enter_context(Gunicorn(SERVER, work / "app")), clients)
    unlimited_server = Gunicorn({**SERVER, "RATE_LIMIT_READS": ""}, work / "unlimited")
    unlimited = Client(servers.enter_context(unlimited_server), clients)
    paths = {n: f"/recommendations?user_id={USER}&n={n}" for n in options.sizes}
    pages = {n: app.get(path) for n, path in paths.items()}
    folder = work / "bare-templates"
    folder.mkdir()
    for n, html in pages.items():
        (folder / f"page-{n}.html").write_bytes(html)
    bare_app = f"bench._bare_app:create_static({str(folder)!r})"
    bare_server = Gunicorn(SERVER, work / "bare", app=bare_app)
    bare = Client(servers.enter_context(bare_server), clients)
    unrendered_app = f"bench._bare_app:create_unrendered({str(folder)!r}, {str(work / 'u')!r})"
    unrendered_server = Gunicorn(SERVER, work / "u", app=unrendered_app)
    unrendered = Client(servers.enter_context(unrendered_server), clients)

    kinds: dict[str, Callable[[], bytes]] = {}
    for n, path in paths.items():
        kinds[f"results {n}"] = lambda path=path: app.get(path)
        kinds[f"no limits {n}"] = lambda path=path: unlimited.get(path)
        kinds[f"bare {n}"] = lambda n=n: bare.get(f"/page-{n}")
        kinds[f"unrendered {n}"] = lambda path=path: unrendered.get(path)
        for floor in (bare.get(f"/page-{n}"), unrendered.get(path)):
            if len(floor) != len(pages[n]):
                raise SystemExit("a floor's page is not the results page's size")

    for _ in range(options.warm_up):
        for get in kinds.values():
            get()
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(options.rounds):
        for name, get in kinds.items():
            start = time.perf_counter()
            get()
            times[name].append(time.perf_counter() - start)
    report(options, pages, {name: statistics.median(values) for name, values in times.items()})


def report(options: argparse.Namespace, pages: dict[int, bytes], median: dict[str, float]) -> None:
    print(f"gunicorn, 1 worker, loopback; medians of {options.rounds} interleaved rounds")
    print(f"{'n':>4} {'bytes':>8} {'results ms':>10} {'bare ms':>8} {'ratio':>6} {'target':>7} "
          f"{'unrendered ms':>13} {'/ bare':>6} {'results / unrendered':>20} "
          f"{'no limits ms':>12} {'limiter ms':>10}")
    for n in options.sizes:
        ms = {kind: median[f"{kind} {n}"] * 1000 for kind in KINDS}
        target = f"{TARGETS[n]:.1f}x" if n in TARGETS else "-"
        print(f"{n:>4} {len(pages[n]):>8,} {ms['results']:>10.2f} {ms['bare']:>8.2f} "
              f"{ms['results'] / ms['bare']:>5.2f}x {target:>7} {ms['unrendered']:>13.2f} "
              f"{ms['unrendered'] / ms['bare']:>5.2f}x {ms['results'] / ms['unrendered']:>19.2f}x "
              f"{ms['no limits']:>12.2f} {ms['results'] - ms['no limits']:>10.2f}")
    for n in (size for size in options.sizes if size in TARGETS):
        ms = {kind: median[f"{kind} {n}"] for kind in KINDS}
        for floor in ("bare", "unrendered"):
            ratio = ms["results"] / ms[floor]
            verdict = "met" if ratio <= TARGETS[n] else "not met"
            print(f"n={n}: results / {floor} {ratio:.2f}x, target {TARGETS[n]:.1f}x: {verdict}")


if __name__ == "__main__":
    main()
