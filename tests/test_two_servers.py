"""Two app servers behind one load balancer: gunicorn, 2 workers each, on different ports,
sharing one PostgreSQL (ratings), one Redis (the OMDb cache) and one model directory.

What any server learns, every server knows: a rating made through A changes B's next answer,
an OMDb answer fetched by A is a cache hit on B, and a `kill -9` of A in the middle of writes
loses no rating A acknowledged. Skips where PostgreSQL or Redis is not installed (fails in CI).
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pytest
from conftest import write_small_data
from gunicorn_support import Gunicorn

from app import create_app

pytest_plugins = ["services_support"]  # postgres_server, redis_url


class FakeOmdb(ThreadingHTTPServer):
    """Answers every lookup with a movie, counting the lookups of each title."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OmdbHandler)
        self.asked: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _OmdbHandler(BaseHTTPRequestHandler):
    server: FakeOmdb

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        query = dict(parse_qsl(urlsplit(self.path).query))
        with self.server.lock:
            self.server.asked[query.get("t", "")] += 1
        body = json.dumps({"Response": "True", "Title": query.get("t"), "Plot": "A plot."})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_omdb() -> Iterator[FakeOmdb]:
    server = FakeOmdb()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def database_url(postgres_server) -> Iterator[str]:
    from services_support import fresh_database  # once pytest_plugins has loaded it

    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(scope="module")
def shared(tmp_path_factory, database_url: str, redis_url: str, fake_omdb: FakeOmdb) -> dict:
    """The settings every server has, after one `flask train` into the shared model directory."""
    folder = tmp_path_factory.mktemp("two-servers")
    ratings, items = write_small_data(folder)
    settings = {
        "RATINGS_PATH": str(ratings), "ITEMS_PATH": str(items), "MODEL_DIR": str(folder / "models"),
        "DATABASE_URL": database_url, "CACHE_URL": redis_url, "SECRET_KEY": "one for all servers",
        "OMDB_API_KEY": "test-key", "OMDB_BASE_URL": fake_omdb.url, "WEB_CONCURRENCY": 2,
        # One test client posts far more than a person would; the limits have their own tests.
        "RATE_LIMIT_WRITES": "", "RATE_LIMIT_READS": "", "RATE_LIMIT_NEW_USERS": "",
    }
    trainer = create_app(settings, instance_path=str(folder / "release-step"))
    trained = trainer.test_cli_runner().invoke(args=["train"])
    assert trained.exit_code == 0, trained.output
    return settings


@pytest.fixture(scope="module")
def servers(shared: dict, tmp_path_factory) -> Iterator[tuple[Gunicorn, Gunicorn]]:
    """Servers A and B: each its own machine (instance folder), everything else shared."""
    a = Gunicorn(shared, tmp_path_factory.mktemp("machine-a")).start(wait=False)
    b = Gunicorn(shared, tmp_path_factory.mktemp("machine-b")).start(wait=False)
    try:
        a.wait_until_serving()
        b.wait_until_serving()
        yield a, b
    finally:
        a.stop()
        b.stop()


def recommended(server: Gunicorn, user_id: str) -> list[str]:
    answer = server.get_json(f"/api/recommendations?user_id={user_id}&n=5")
    return [item["item_id"] for item in answer["items"]]


def page_text(server: Gunicorn, path: str) -> str:
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return response.read().decode()


def test_one_trained_model_serves_both_servers(servers):
    a, b = servers
    assert a.get_json("/healthz")["model"] == b.get_json("/healthz")["model"] == "loaded"


def test_a_rating_through_server_a_changes_server_bs_next_answer(servers):
    a, b = servers
    assert recommended(b, "3")[0] == "h4"  # Psycho
    status, _body = a.post_json("/api/ratings", {"user_id": "3", "item_id": "h4", "rating": 5})
    assert status == 201
    # New connections: the reads reach both of B's workers.
    assert [answer for answer in (recommended(b, "3") for _ in range(10)) if "h4" in answer] == []


def test_an_omdb_answer_fetched_by_a_is_a_cache_hit_on_b(servers, fake_omdb):
    a, b = servers
    assert "A plot." in page_text(a, "/movies?item_id=h1")
    assert fake_omdb.asked["Alien"] == 1
    assert "A plot." in page_text(b, "/movies?item_id=h1")
    assert fake_omdb.asked["Alien"] == 1  # B read A's answer from Redis


def test_killing_a_server_mid_write_loses_no_acknowledged_rating(shared, tmp_path, database_url):
    doomed = Gunicorn(shared, tmp_path / "machine-c").start()  # A and B serve on
    acknowledged: list[str] = []
    refused: list[int] = []
    numbers = itertools.count()
    lock = threading.Lock()
    enough = threading.Event()

    def write() -> None:
        while True:
            user = f"writer-{next(numbers)}"
            try:
                status, _body = doomed.post_json(
                    "/api/ratings", {"user_id": user, "item_id": "h1", "rating": 4}, timeout=5
                )
            except OSError:  # urllib's URLError too: the server is gone
                return
            with lock:
                (acknowledged.append(user) if status == 201 else refused.append(status))
                if len(acknowledged) >= 40:
                    enough.set()

    writers = [threading.Thread(target=write) for _ in range(4)]
    try:
        for writer in writers:
            writer.start()
        assert enough.wait(timeout=30), doomed.log_tail()
        doomed.kill()  # master and workers at once, while the writers are sending
    finally:
        doomed.kill()
        for writer in writers:
            writer.join(timeout=30)

    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT user_id FROM ratings WHERE item_id = 'h1'").fetchall()
    assert refused == []
    assert len(acknowledged) >= 40
    assert set(acknowledged) - {user for (user,) in rows} == set()


def test_the_write_limit_holds_across_both_servers_through_redis(shared, tmp_path_factory):
    """Four ratings a minute per client, counted in the shared Redis: two through each server
    use the budget up, and the fifth is refused wherever it goes, with Retry-After."""
    limited = {**shared, "RATE_LIMIT_WRITES": "4 per minute", "WEB_CONCURRENCY": 1}
    a = Gunicorn(limited, tmp_path_factory.mktemp("limited-a")).start(wait=False)
    b = Gunicorn(limited, tmp_path_factory.mktemp("limited-b")).start(wait=False)
    try:
        a.wait_until_serving()
        b.wait_until_serving()
        rating = {"user_id": "3", "item_id": "h1", "rating": 4}
        statuses = [server.post_json("/api/ratings", rating)[0] for server in (a, b, a, b)]
        assert statuses == [201, 201, 201, 201]
        request = urllib.request.Request(
            b.url + "/api/ratings", data=json.dumps(rating).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 429
        assert int(refused.value.headers["Retry-After"]) > 0
        assert json.load(refused.value)["error"]
        assert a.post_json("/api/ratings", rating)[0] == 429
    finally:
        a.stop()
        b.stop()
