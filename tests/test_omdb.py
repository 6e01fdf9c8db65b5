"""OmdbClient against a mocked OMDb (the responses library): lookups, caching, failures, secrecy.

Concurrency is checked against a fake OMDb on loopback, and the Redis cache against a private
redis-server (Debian's package; those tests skip without it).
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
import responses
from responses import matchers

import config
import omdb
from dataset import Movie
from omdb import MovieDetails, OmdbClient, build_session, normalise_imdb_id

BASE_URL = "https://www.omdbapi.com/"
KEY = "s3cr3t-k3y-4711"

MATRIX = Movie("2571", "The Matrix", 1999, ("Action", "Sci-Fi"), "tt0133093")
HEAT = Movie("6", "Heat", 1995, ("Action", "Crime"))
UNKNOWN = Movie("999999", "No Such Film", 2001)

MATRIX_BODY = {
    "Title": "The Matrix",
    "Year": "1999",
    "Runtime": "136 min",
    "Director": "Lana Wachowski, Lilly Wachowski",
    "Actors": "Keanu Reeves, Laurence Fishburne, Carrie-Anne Moss",
    "Plot": "A computer hacker learns about the true nature of reality.",
    "Poster": "https://m.media-amazon.com/images/M/matrix.jpg",
    "imdbRating": "8.7",
    "imdbID": "tt0133093",
    "Type": "movie",
    "Response": "True",
}
HEAT_BODY = {
    **MATRIX_BODY,
    "Title": "Heat",
    "Year": "1995",
    "imdbID": "tt0113277",
    "Poster": "https://m.media-amazon.com/images/M/heat.jpg",
    "Runtime": "170 min",
}
NOT_FOUND = {"Response": "False", "Error": "Movie not found!"}
INVALID_KEY = {"Response": "False", "Error": "Invalid API key!"}
LIMIT_REACHED = {"Response": "False", "Error": "Request limit reached!"}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Every HTTP request goes to the mock; a registered answer that is never asked for fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "instance" / "omdb-cache.sqlite"


@pytest.fixture
def make_client(cache_file: Path) -> Iterator[Callable[..., OmdbClient]]:
    clients: list[OmdbClient] = []

    def make(api_key: str | None = KEY, **options: Any) -> OmdbClient:
        options.setdefault("cache_path", cache_file)
        client = OmdbClient(api_key, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def query(call: Any) -> dict[str, str]:
    """The query parameters of a recorded request, one value each."""
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


def answer(mocked: responses.RequestsMock, body: Any, *, status: int = 200, **params: str) -> None:
    """Register an OMDb answer, matched on the given query parameters when there are any."""
    match = [matchers.query_param_matcher(params, strict_match=False)] if params else []
    if isinstance(body, (dict, list)):
        mocked.add(responses.GET, BASE_URL, json=body, status=status, match=match)
    else:
        mocked.add(responses.GET, BASE_URL, body=body, status=status, match=match)


# --- successful lookups -----------------------------------------------------------------------


def test_lookup_by_imdb_id_sends_i_and_the_key(mocked, make_client):
    answer(mocked, MATRIX_BODY)

    details = make_client().lookup(MATRIX)

    assert query(mocked.calls[0]) == {"apikey": KEY, "i": "tt0133093"}
    assert details == MovieDetails(
        poster_url="https://m.media-amazon.com/images/M/matrix.jpg",
        plot="A computer hacker learns about the true nature of reality.",
        runtime="136 min",
        imdb_rating="8.7",
        imdb_id="tt0133093",
        director="Lana Wachowski, Lilly Wachowski",
        actors="Keanu Reeves, Laurence Fishburne, Carrie-Anne Moss",
    )
    assert details.imdb_url == "https://www.imdb.com/title/tt0133093/"


def test_lookup_without_imdb_id_asks_by_title_and_year(mocked, make_client):
    answer(mocked, HEAT_BODY)

    details = make_client().lookup(HEAT)

    assert query(mocked.calls[0]) == {"apikey": KEY, "t": "Heat", "y": "1995", "type": "movie"}
    assert details is not None and details.imdb_id == "tt0113277"


def test_title_lookup_drops_a_movielens_alternative_title(mocked, make_client):
    answer(mocked, HEAT_BODY)

    make_client().lookup(Movie("47", "Seven (a.k.a. Se7en)", 1995))

    assert query(mocked.calls[0])["t"] == "Seven"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tt0114709", "tt0114709"),
        ("0114709", "tt0114709"),
        ("114709", "tt0114709"),
        ("", None),
        (None, None),
        ("not-an-id", None),
    ],
)
def test_imdb_ids_are_normalised_as_links_csv_needs(raw, expected):
    assert normalise_imdb_id(raw) == expected


def test_poster_na_gives_details_without_a_poster(mocked, make_client):
    answer(mocked, {**MATRIX_BODY, "Poster": "N/A", "imdbRating": "N/A"})

    details = make_client().lookup(MATRIX)

    assert details is not None
    assert details.poster_url is None and details.imdb_rating is None
    assert details.runtime == "136 min"


def test_details_of_a_page_has_one_entry_per_item_id(mocked, make_client):
    answer(mocked, MATRIX_BODY, i="tt0133093")
    answer(mocked, HEAT_BODY, t="Heat")
    answer(mocked, NOT_FOUND, t="No Such Film")

    found = make_client().details([MATRIX, HEAT, UNKNOWN, MATRIX])

    assert set(found) == {"2571", "6", "999999"}
    assert found["2571"].imdb_id == "tt0133093"
    assert found["6"].imdb_id == "tt0113277"
    assert found["999999"] is None
    assert len(mocked.calls) == 3  # the duplicate is looked up once


# --- caching -------------------------------------------------------------------------------------


def test_a_second_view_is_served_from_the_cache(mocked, make_client):
    answer(mocked, MATRIX_BODY, i="tt0133093")
    answer(mocked, HEAT_BODY, t="Heat")
    client = make_client()

    first = client.details([MATRIX, HEAT])
    second = client.details([MATRIX, HEAT])

    assert len(mocked.calls) == 2
    assert second == first and second["2571"] is not None


def test_without_a_cache_file_answers_are_cached_in_memory_and_nothing_is_written(
    mocked, make_client, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    answer(mocked, MATRIX_BODY, i="tt0133093")
    client = make_client(cache_path=None)
    assert client.lookup(MATRIX) is not None
    assert client.lookup(MATRIX) is not None
    assert len(mocked.calls) == 1
    assert list(tmp_path.iterdir()) == []


def test_not_found_is_cached(mocked, make_client):
    answer(mocked, NOT_FOUND)
    client = make_client()

    assert client.lookup(UNKNOWN) is None
    assert client.lookup(UNKNOWN) is None
    assert len(mocked.calls) == 1


def test_the_cache_survives_a_new_client_on_the_same_file(mocked, make_client):
    answer(mocked, MATRIX_BODY)
    first = make_client()
    found = first.lookup(MATRIX)
    first.close()

    again = make_client().lookup(MATRIX)

    assert again == found and again is not None
    assert len(mocked.calls) == 1


def test_the_key_is_not_stored_in_the_cache_file(mocked, make_client, cache_file):
    answer(mocked, MATRIX_BODY, i="tt0133093")
    answer(mocked, NOT_FOUND, t="No Such Film")
    client = make_client()
    client.details([MATRIX, UNKNOWN])
    # The write-ahead log beside the file too, while open and after the close folds it in.
    while_open = b"".join(path.read_bytes() for path in cache_file.parent.iterdir())
    client.close()
    stored = b"".join(path.read_bytes() for path in cache_file.parent.iterdir())

    for written in (while_open, stored):
        assert b"tt0133093" in written  # the answers were written ...
        assert KEY.encode() not in written  # ... but not the key


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, INVALID_KEY),
        (200, INVALID_KEY),
        (401, {"Response": "False", "Error": "No API key provided."}),
        (200, LIMIT_REACHED),
        (401, LIMIT_REACHED),
        (503, "<html>Service Unavailable</html>"),
        (500, {"Response": "False", "Error": "Something broke"}),
        (200, "not json at all"),
    ],
)
def test_errors_are_not_cached_so_a_fixed_key_works_at_once(mocked, make_client, status, body):
    answer(mocked, body, status=status)
    answer(mocked, MATRIX_BODY)  # the next answer, once the key is fixed or OMDb recovers
    client = make_client()

    assert client.lookup(MATRIX) is None
    assert client.lookup(MATRIX) is not None
    assert client.lookup(MATRIX) is not None  # now cached
    assert len(mocked.calls) == 2


# --- failures: no metadata, a warning, never the key --------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "warning"),
    [
        (401, INVALID_KEY, "OMDb rejected the API key"),
        (200, INVALID_KEY, "OMDb rejected the API key"),
        (200, LIMIT_REACHED, "OMDb request limit reached"),
        (
            401,
            {"Response": "False", "Error": "Daily request limit reached!"},
            "OMDb request limit reached",
        ),
        (200, "<html>oops</html>", "OMDb sent a non-JSON answer (HTTP 200) for The Matrix (1999)"),
        (502, "Bad Gateway", "OMDb sent a non-JSON answer (HTTP 502) for The Matrix (1999)"),
    ],
)
def test_error_answers_give_no_metadata_and_a_warning(
    mocked, make_client, caplog, status, body, warning
):
    caplog.set_level(logging.DEBUG, logger="omdb")
    answer(mocked, body, status=status)

    assert make_client().lookup(MATRIX) is None

    assert warning in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("error", "warning"),
    [
        (requests.exceptions.ConnectTimeout, "OMDb timed out for Heat (1995) (ConnectTimeout)"),
        (requests.exceptions.ReadTimeout, "OMDb timed out for Heat (1995) (ReadTimeout)"),
        (
            requests.exceptions.ConnectionError,
            "OMDb could not be reached for Heat (1995) (ConnectionError)",
        ),
    ],
)
def test_network_failures_are_logged_without_the_key(mocked, make_client, caplog, error, warning):
    caplog.set_level(logging.DEBUG, logger="omdb")
    # requests puts the full URL, key included, into its exception messages.
    mocked.add(responses.GET, BASE_URL, body=error(f"Max retries with url: /?apikey={KEY}&t=Heat"))

    found = make_client().details([HEAT])

    assert found == {"6": None}
    assert warning in caplog.text
    assert KEY not in caplog.text


def test_the_key_never_appears_in_the_clients_repr(make_client):
    assert KEY not in repr(make_client())


def test_an_invalid_key_stops_the_remaining_lookups_of_the_page(mocked, make_client, caplog):
    answer(mocked, INVALID_KEY, status=401)
    movies = [Movie(str(n), f"Film {n}", 2000) for n in range(5)]

    found = make_client(max_workers=1).details(movies)

    assert found == {str(n): None for n in range(5)}
    assert len(mocked.calls) == 1
    assert caplog.text.count("OMDb rejected the API key") == 1


def test_an_unreachable_omdb_is_not_waited_for_once_per_movie(mocked, make_client):
    mocked.add(responses.GET, BASE_URL, body=requests.exceptions.ConnectTimeout("down"))
    movies = [Movie(str(n), f"Film {n}", 2000) for n in range(5)]

    found = make_client(max_workers=1).details(movies)

    assert found == {str(n): None for n in range(5)}
    assert len(mocked.calls) == 1


# --- no key --------------------------------------------------------------------------------------


class RecordingSession(requests.Session):
    """Records every request instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[Any] = []

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requested.append((url, kwargs))
        raise AssertionError("no request expected")


@pytest.mark.parametrize("api_key", [None, "", "   "])
def test_without_a_key_nothing_is_requested(api_key, make_client, cache_file):
    session = RecordingSession()
    client = make_client(api_key, session=session)
    built = make_client(api_key)  # and the client that would build its own cached session

    assert not client.enabled and not built.enabled
    assert client.details([MATRIX, HEAT]) == {"2571": None, "6": None}
    assert client.lookup(MATRIX) is None and built.lookup(MATRIX) is None
    assert session.requested == []
    assert not cache_file.exists()


def test_with_a_key_the_client_is_enabled(make_client):
    assert make_client().enabled


# --- concurrency ---------------------------------------------------------------------------------


class FakeAnswer:
    status_code = 200

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def json(self) -> dict[str, Any]:
        return self._body


class BarrierSession(requests.Session):
    """Each get waits until all expected requests are in flight together.

    Sequential lookups would leave the first one waiting alone: the barrier breaks (after the
    deadlock guard) and that lookup answers "not found", which fails the test.
    """

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=5)

    def get(self, url: str | bytes, **kwargs: Any) -> FakeAnswer:  # type: ignore[override]
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return FakeAnswer(NOT_FOUND)
        title = kwargs["params"]["t"]
        return FakeAnswer({**MATRIX_BODY, "Title": title, "imdbID": f"tt{title[-1]:0>7}"})


def test_details_looks_a_page_up_concurrently(make_client):
    movies = [Movie(str(n), f"Film {n}", 2000) for n in range(6)]

    found = make_client(session=BarrierSession(6), max_workers=8).details(movies)

    assert {item_id: d.imdb_id for item_id, d in found.items() if d} == {
        str(n): f"tt{n:07d}" for n in range(6)
    }


def test_each_request_carries_the_connect_and_read_timeout(make_client):
    seen: list[Any] = []

    class TimeoutSpy(requests.Session):
        def get(self, url: str | bytes, **kwargs: Any) -> FakeAnswer:  # type: ignore[override]
            seen.append(kwargs.get("timeout"))
            return FakeAnswer(MATRIX_BODY)

    make_client(session=TimeoutSpy(), timeout=(1.5, 4.0)).details([MATRIX, HEAT])

    assert seen == [(1.5, 4.0), (1.5, 4.0)]


# --- a page costs one round trip ---------------------------------------------------------------


class FakeOmdb(ThreadingHTTPServer):
    """OMDb on loopback that holds each answer until `expected` requests are in flight at once.

    Lookups sent all together are answered at once; lookups sent a few at a time wait `patience`
    seconds, and the highest number seen in flight tells how many went together.
    """

    daemon_threads = True
    request_queue_size = 256  # the default backlog (5) would refuse a page's simultaneous connects

    def __init__(self, expected: int, patience: float = 1.0) -> None:
        super().__init__(("127.0.0.1", 0), _FakeOmdbHandler)
        self.expected = expected
        self.patience = patience
        self.requests = 0
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.condition = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def answer_when_all_are_in(self) -> None:
        with self.condition:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.condition.notify_all()
            # Wait for the rest of this group of `expected` (counted by arrival, so that an early
            # leaver cannot hold back the others).
            group_end = -(-self.requests // self.expected) * self.expected
            self.condition.wait_for(lambda: self.requests >= group_end, self.patience)

    def leave(self) -> None:
        with self.condition:
            self.in_flight -= 1


class _FakeOmdbHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connections can be counted and reused
    disable_nagle_algorithm = True
    server: FakeOmdb

    def setup(self) -> None:
        super().setup()
        with self.server.condition:
            self.server.connections += 1

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.answer_when_all_are_in()
        try:
            title = parse_qs(urlsplit(self.path).query)["t"][0]
            body = json.dumps({**MATRIX_BODY, "Title": title}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            self.server.leave()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_omdb() -> Iterator[Callable[[int], FakeOmdb]]:
    servers: list[FakeOmdb] = []

    def start(expected: int) -> FakeOmdb:
        server = FakeOmdb(expected)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def films(count: int, first: int = 0) -> list[Movie]:
    return [Movie(str(n), f"Film {n}", 2000) for n in range(first, first + count)]


def test_a_cold_page_of_50_sends_all_its_lookups_at_once(make_client, fake_omdb, caplog):
    caplog.set_level(logging.WARNING)
    fake = fake_omdb(50)
    client = make_client(base_url=fake.url)

    found = client.details(films(50))
    assert fake.max_in_flight == 50
    assert all(details is not None for details in found.values())

    # A second cold page reuses the 50 connections: the pool keeps them all, none is discarded.
    client.details(films(50, first=50))
    assert fake.requests == 100 and fake.connections == 50
    assert "Connection pool is full" not in caplog.text


def test_pages_share_one_long_lived_pool_of_lookup_threads(make_client, fake_omdb, monkeypatch):
    pools: list[Any] = []

    class CountedPool(omdb.ThreadPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(omdb, "ThreadPoolExecutor", CountedPool)
    fake = fake_omdb(10)
    client = make_client(base_url=fake.url)

    client.details(films(10))
    client.details(films(10, first=10))

    assert fake.max_in_flight == 10
    assert len(pools) == 1 and pools[0]._max_workers == omdb.MAX_CONCURRENT  # sized for 100


class NoThreads:
    """Stands in for ThreadPoolExecutor where a page must not use a thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a thread pool was made for a page served from the cache")


def test_a_warm_page_sends_nothing_and_uses_no_thread(mocked, make_client, monkeypatch):
    answer(mocked, MATRIX_BODY, i="tt0133093")
    answer(mocked, HEAT_BODY, t="Heat")
    answer(mocked, NOT_FOUND, t="No Such Film")
    first = make_client()
    cold = first.details([MATRIX, HEAT, UNKNOWN])
    first.close()
    monkeypatch.setattr(omdb, "ThreadPoolExecutor", NoThreads)

    # A new client (another worker) reads the cache file; the same client reads its own memory.
    again = make_client()
    assert again.details([MATRIX, HEAT, UNKNOWN]) == cold
    assert again.details([MATRIX, HEAT, UNKNOWN]) == cold
    assert len(mocked.calls) == 3


def test_a_page_with_some_cached_movies_asks_only_for_the_others(mocked, make_client):
    answer(mocked, MATRIX_BODY, i="tt0133093")
    answer(mocked, HEAT_BODY, t="Heat")
    client = make_client()
    client.lookup(MATRIX)

    found = client.details([MATRIX, HEAT])

    assert [query(call) for call in mocked.calls] == [
        {"apikey": KEY, "i": "tt0133093"},
        {"apikey": KEY, "t": "Heat", "y": "1995", "type": "movie"},
    ]
    assert found["2571"].imdb_id == "tt0133093" and found["6"].imdb_id == "tt0113277"


def test_an_expired_answer_is_asked_for_again(mocked, cache_file):
    answer(mocked, MATRIX_BODY)
    answer(mocked, {**MATRIX_BODY, "imdbRating": "9.0"})
    session = build_session(cache_file, expire_after=timedelta(milliseconds=200))
    client = OmdbClient(KEY, session=session)

    assert client.lookup(MATRIX).imdb_rating == "8.7"
    assert client.lookup(MATRIX).imdb_rating == "8.7"
    time.sleep(0.3)
    assert client.lookup(MATRIX).imdb_rating == "9.0"
    assert len(mocked.calls) == 2
    session.close()


# --- the cache on Redis --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, for this module; yields its URL."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    process = subprocess.Popen(
        [*args, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    connection = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                connection.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        connection.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """The private Redis, emptied before each test."""
    connection = redis.Redis.from_url(redis_server)
    connection.flushall()
    connection.close()
    yield redis_server


def everything_in(url: str) -> bytes:
    """Every key and value in a Redis database, as one byte string."""
    connection = redis.Redis.from_url(url)
    stored = []
    for key in connection.scan_iter():
        stored.append(key)
        kind = connection.type(key)
        if kind == b"string":
            stored.append(connection.get(key))
        elif kind == b"hash":
            for field, value in connection.hgetall(key).items():
                stored += [field, value]
        else:
            raise AssertionError(f"unexpected Redis type {kind!r} for {key!r}")
    connection.close()
    return b"\n".join(stored)


# requests-cache 1.3 stores with SETEX, which redis-py 8 marks deprecated (it still works).
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
def test_with_a_cache_url_answers_are_cached_in_redis_without_the_key(
    mocked, make_client, redis_url, cache_file
):
    answer(mocked, MATRIX_BODY, i="tt0133093")
    answer(mocked, NOT_FOUND, t="No Such Film")
    first = make_client(cache_url=redis_url)
    found = first.details([MATRIX, UNKNOWN])

    stored = everything_in(redis_url)
    assert b"tt0133093" in stored  # the answers went to Redis ...
    assert KEY.encode() not in stored  # ... without the key
    assert not cache_file.exists()  # and not to the SQLite file

    # Another worker or machine with the same URL is served from Redis.
    assert make_client(cache_url=redis_url).details([MATRIX, UNKNOWN]) == found
    assert len(mocked.calls) == 2


def test_an_unreachable_redis_gives_placeholders_and_a_warning_without_the_url(
    mocked, make_client, caplog
):
    caplog.set_level(logging.DEBUG, logger="omdb")
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there

    found = make_client(cache_url=url).details([MATRIX, HEAT])

    assert found == {"2571": None, "6": None}
    assert len(mocked.calls) == 0  # no OMDb request whose answer could not be kept
    assert caplog.text.count("OMDb cache unavailable (ConnectionError)") == 1
    assert "hunter2" not in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize("url", ["", "redis://127.0.0.1:6379/0", "rediss://cache:6380/1"])
def test_cache_url_setting_takes_redis_urls_or_nothing(url):
    assert config.from_environment({"CACHE_URL": url})["CACHE_URL"] == url


def test_cache_url_setting_rejects_other_urls_without_repeating_them():
    with pytest.raises(config.ConfigError, match="CACHE_URL: expected a Redis URL") as caught:
        config.from_environment({"CACHE_URL": "postgres://user:s3cr3t@db/cache"})
    assert "s3cr3t" not in str(caught.value)


def test_an_omdb_error_is_logged_for_the_movie_with_the_key_masked(mocked, make_client, caplog):
    answer(mocked, {"Response": "False", "Error": f"Odd trouble with {KEY} today"})
    caplog.set_level(logging.WARNING, logger="omdb")
    assert make_client().lookup(MATRIX) is None
    assert "OMDb error for The Matrix (1999): Odd trouble with *** today" in caplog.messages


class _CacheFailingSession(requests.Session):
    """A session whose cache fails as it stores an answer (SQLite locked, Redis gone)."""

    def get(self, *args: Any, **kwargs: Any) -> requests.Response:
        time.sleep(0.2)  # both lookups are under way before either fails
        raise sqlite3.OperationalError("database is locked")


def test_a_cache_failing_during_lookups_gives_placeholders_and_one_warning(caplog):
    client = OmdbClient(KEY, session=_CacheFailingSession())
    try:
        assert client.details([MATRIX, HEAT]) == {"2571": None, "6": None}
    finally:
        client.close()
    warning = "OMDb cache unavailable (OperationalError); pages go without OMDb details"
    assert caplog.messages.count(warning) == 1


@pytest.mark.parametrize(
    ("poster", "kept"),
    [
        ("https://m.media-amazon.com/p.jpg", "https://m.media-amazon.com/p.jpg"),
        ("http://ia.media-imdb.com/p.jpg", "http://ia.media-imdb.com/p.jpg"),
        ("javascript:alert(1)", None),
        ("N/A", None),
    ],
)
def test_a_poster_is_kept_only_as_a_web_address(poster, kept):
    assert MovieDetails.from_omdb({**MATRIX_BODY, "Poster": poster}).poster_url == kept


def test_blank_and_not_available_fields_are_none():
    details = MovieDetails.from_omdb({**MATRIX_BODY, "Plot": "  ", "Director": "N/A"})
    assert (details.plot, details.director) == (None, None)


def test_an_injected_session_is_used_without_a_cache_and_left_open(mocked):
    class _Session(requests.Session):
        closed = False

        def close(self) -> None:
            self.closed = True
            super().close()

    answer(mocked, MATRIX_BODY, i="tt0133093")
    session = _Session()
    client = OmdbClient(KEY, session=session)
    assert client.lookup(MATRIX) is not None
    client.close()
    assert not session.closed  # the caller made it, so the caller closes it
    session.close()


def test_answers_in_redis_are_kept_under_the_omdb_namespace(mocked, make_client, redis_url):
    # A Redis shared with other apps: every key the cache writes starts with "omdb".
    answer(mocked, MATRIX_BODY, i="tt0133093")
    assert make_client(cache_url=redis_url).lookup(MATRIX) is not None
    keys = list(redis.Redis.from_url(redis_url).scan_iter())
    assert keys and all(key.startswith(b"omdb:") for key in keys)


def test_the_cache_file_may_be_in_a_folder_yet_to_be_made_and_uses_a_write_ahead_log(
    mocked, make_client, tmp_path
):
    cache_file = tmp_path / "not" / "yet" / "omdb.sqlite"
    answer(mocked, MATRIX_BODY, i="tt0133093")
    client = make_client(cache_path=cache_file)
    assert client.lookup(MATRIX) is not None
    client.close()
    connection = sqlite3.connect(cache_file)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


# --- How the session is built --------------------------------------------------------------------


def test_a_redis_cache_gives_up_within_the_cache_timeout_and_keeps_every_cache_rule():
    # No server is needed: the connection is made on first use.
    session = build_session(None, cache_url="redis://127.0.0.1:1/0")
    connection = session.cache.responses.connection.connection_pool.connection_kwargs
    assert connection["socket_timeout"] == omdb.CACHE_TIMEOUT
    assert connection["socket_connect_timeout"] == omdb.CACHE_TIMEOUT
    assert session.settings.expire_after == omdb.CACHE_EXPIRY
    assert session.settings.ignored_parameters == ["apikey"]  # the key never in a cache key


def test_the_session_keeps_a_page_worth_of_connections_to_omdb():
    session = build_session(None, pool_size=37)
    for url in (BASE_URL, "http://www.omdbapi.com/"):
        assert session.get_adapter(url)._pool_maxsize == 37


def _answer(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


def test_only_a_movie_or_not_found_answered_with_200_is_cached():
    movie = {"Response": "True", "Title": "Heat"}
    assert omdb.is_cacheable(_answer(200, movie))
    assert omdb.is_cacheable(_answer(200, {"Response": "False", "Error": "Movie not found!"}))
    assert not omdb.is_cacheable(_answer(500, movie))  # a server error, whatever it says
    assert not omdb.is_cacheable(_answer(200, [movie]))  # JSON, but not an object
    assert not omdb.is_cacheable(_answer(200, {"Response": "False", "Error": "Invalid API key!"}))


def test_a_forked_worker_makes_its_own_lookup_threads(monkeypatch):
    client = OmdbClient(KEY, session=build_session(None))
    parents = client._executor()
    assert client._executor() is parents  # one pool per process, reused by every page
    monkeypatch.setattr(omdb.os, "getpid", lambda: -1)  # as in a worker forked from it
    assert client._executor() is not parents
    client.close()


def test_cache_only_answers_from_the_cache_and_sends_nothing(mocked, make_client):
    client = make_client()
    answer(mocked, MATRIX_BODY, i="tt0133093")
    assert client.details([MATRIX])["2571"].runtime == "136 min"  # asked once, cached
    with client.cache_only():
        found = client.details([MATRIX, HEAT])  # Heat is not cached: no request for it
    assert found["2571"].runtime == "136 min" and found["6"] is None
    assert len(mocked.calls) == 1
