"""The load generator for bench/bench_serve.py: simulated visitors on kept-alive connections,
the mix of what they do, and the tally of what they saw."""

from __future__ import annotations

import csv
import http.client
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from _common import PROJECT
from flask import Flask

RATINGS = PROJECT / "data" / "ratings.csv"
ITEMS = PROJECT / "data" / "items.csv"


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


class Visitor(Protocol):
    """What the mix needs of a visitor: a request, and the tally it adds to."""

    tally: Tally

    def request(
        self, method: str, path: str, body: object = None, fresh: bool = False
    ) -> tuple[int, bytes]: ...


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


def mixed_step(client: Visitor, users: list[str], items: list[str], rng: random.Random) -> None:
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


def rate_and_check(client: Visitor, user: str, rng: random.Random) -> None:
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


def data_ids() -> tuple[list[str], list[str]]:
    with RATINGS.open(newline="") as handle:
        users = sorted({row["USER_ID"] for row in csv.DictReader(handle)})
    with ITEMS.open(newline="") as handle:
        items = [row["ITEM_ID"] for row in csv.DictReader(handle)]
    return users, items




class InProcessClient:
    """The same visitor calling the app in this process, through Flask's test client: no
    server, no socket, no HTTP, so its time is the app's own work."""

    def __init__(self, app: Flask, tally: Tally) -> None:
        self.client = app.test_client(use_cookies=False)  # as the HTTP visitors: no cookies
        self.tally = tally

    def request(
        self, method: str, path: str, body: object = None, fresh: bool = False
    ) -> tuple[int, bytes]:
        started = time.perf_counter()
        response = self.client.open(path, method=method, json=body)
        status, data = response.status_code, response.get_data()
        self.tally.add(time.perf_counter() - started, 200 <= status < 300)
        return status, data
