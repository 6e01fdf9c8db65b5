"""Ratings made in the app: durable, per-user, safe under concurrent writers, on both databases.

Every behaviour is checked on SQLite (the default) and on PostgreSQL (DATABASE_URL), the latter
on a throwaway server from tests/services_support.py.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
import pytest

import config
from dataset import Interaction
from store import RatingStore, StoreUnavailable

if TYPE_CHECKING:
    from services_support import PostgresServer

pytest_plugins = ["services_support"]  # postgres_server, postgres_url, closed_port

PROJECT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Database:
    """Where one test's ratings live: a SQLite file, or a PostgreSQL database when url is set."""

    path: Path
    url: str = ""

    def open(self) -> RatingStore:
        return RatingStore(self.path, self.url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "postgresql":
        return Database(tmp_path / "unused.sqlite", request.getfixturevalue("postgres_url"))
    return Database(tmp_path / "ratings.sqlite")


@pytest.fixture
def open_store(database: Database) -> Iterator[Callable[[], RatingStore]]:
    """Opens stores on the test's database, and closes them afterwards."""
    opened: list[RatingStore] = []

    def open_one() -> RatingStore:
        opened.append(database.open())
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], RatingStore]) -> RatingStore:
    return open_store()


# ---------------------------------------------------------------------------------------------
# What is stored, and in what order


def test_a_rating_survives_a_new_store_on_the_same_database(open_store):
    open_store().add("u1", "Heat (1995)", 5, timestamp=100)
    reopened = open_store()
    assert reopened.for_user("u1") == [Interaction("Heat (1995)", 5.0, 100)]
    assert len(reopened) == 1


def test_rating_again_replaces_the_earlier_rating(store):
    store.add("u1", "7", 2, timestamp=100)
    store.add("u1", "7", 4, timestamp=200)
    assert store.for_user("u1") == [Interaction("7", 4.0, 200)]
    assert len(store) == 1


def test_add_returns_the_timestamp_it_stored_now_when_none_is_given(store):
    when = store.add("u1", "7", 3)
    assert store.for_user("u1") == [Interaction("7", 3.0, when)]
    assert abs(when - time.time()) <= 5


def test_users_are_kept_apart_and_listed_oldest_first(store):
    store.add("u1", "b", 3, timestamp=200)
    store.add("u1", "a", 5, timestamp=100)
    store.add("u2", "a", 1, timestamp=150)
    assert [event.item_id for event in store.for_user("u1")] == ["a", "b"]
    assert store.for_user("nobody") == []
    assert store.all() == [("u1", "a", 5.0, 100), ("u2", "a", 1.0, 150), ("u1", "b", 3.0, 200)]


def test_ratings_made_in_the_same_second_are_listed_in_the_order_made(store):
    for item in ("c", "a", "b"):
        store.add("u1", item, 4, timestamp=100)
    assert [event.item_id for event in store.for_user("u1")] == ["c", "a", "b"]
    # A re-rating is the latest thing the user did, so it moves after the others.
    store.add("u1", "c", 2, timestamp=100)
    assert [event.item_id for event in store.for_user("u1")] == ["a", "b", "c"]


# Accents, other scripts, emoji, URL and SQL characters, case, Personalize's longest ID.
ODD_IDS = [
    "Amélie (2001)", "千と千尋の神隠し", "🎬 night", "a b/c?d=e&f%20",
    "Robert'); DROP TABLE ratings;--", "A", "a", " padded ", "x" * 256,
]


def test_ids_come_back_exactly_as_given(store):
    for position, odd in enumerate(ODD_IDS):
        store.add(odd, odd, 3, timestamp=position)
    for position, odd in enumerate(ODD_IDS):
        assert store.for_user(odd) == [Interaction(odd, 3.0, position)]
    assert len(store) == len(ODD_IDS)


def test_all_orders_ids_by_code_point_whatever_the_servers_locale(store):
    # An en_US server sorts a < b < B < é; the model's fingerprint must not depend on that.
    for user in ("é", "b", "a", "B"):
        store.add(user, "item", 3, timestamp=100)
    assert [user for user, *_rest in store.all()] == ["B", "a", "b", "é"]


# ---------------------------------------------------------------------------------------------
# Concurrency and crashes


def test_concurrent_ratings_from_many_threads_lose_nothing(store):
    start = threading.Barrier(8)
    failures: list[Exception] = []

    def rate(user: int) -> None:
        try:
            start.wait(timeout=10)
            for item in range(25):
                store.add(f"user-{user}", f"item-{item}", 1 + item % 5)
                store.add("shared", f"item-{item}", 1 + user % 5)  # the same rows, contended
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=rate, args=(user,)) for user in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(store) == 8 * 25 + 25
    assert {event.item_id for event in store.for_user("shared")} == {
        f"item-{item}" for item in range(25)
    }


# Run in a child process: waits for "go" on stdin (so that several start together), opens the
# store named by STORE_PATH and DATABASE_URL, and writes, printing each acknowledged write.
WRITER = """
import itertools, os, sys
from store import RatingStore

mode, name = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
store = RatingStore(os.environ["STORE_PATH"], os.environ["DATABASE_URL"])
if mode == "forever":
    for number in itertools.count():
        store.add(name, f"item-{number}", 1 + number % 5, timestamp=number)
        print(number, flush=True)
else:
    for number in range(int(mode)):
        store.add(name, f"item-{number}", 1 + number % 5)
        store.add("shared", f"item-{number}", len(name))
        print(number, flush=True)
"""


def start_writers(database: Database, mode: str, names: list[str]) -> list[subprocess.Popen]:
    """Child processes running WRITER, released together once every one is ready."""
    env = {
        **os.environ, "STORE_PATH": str(database.path), "DATABASE_URL": database.url,
        "PYTHONPATH": str(PROJECT),
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, mode, name], cwd=PROJECT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for name in names
    ]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n", writer.communicate(timeout=30)[1]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    return writers


def finish(writer: subprocess.Popen) -> str:
    output, errors = writer.communicate(timeout=120)
    assert writer.returncode == 0, errors
    return output


def test_writers_in_two_processes_lose_nothing(database, open_store):
    writers = start_writers(database, "100", ["p1", "p22"])
    for writer in writers:
        finish(writer)
    store = open_store()
    assert len(store) == 100 + 100 + 100
    # Each shared rating is one writer's whole rating: 2 from "p1", 3 from "p22".
    assert {event.rating for event in store.for_user("shared")} <= {2.0, 3.0}


def test_processes_creating_the_table_at_once_all_succeed(database, open_store):
    writers = start_writers(database, "1", [f"w{number}" for number in range(4)])
    for writer in writers:
        finish(writer)
    assert len(open_store()) == 4 + 1


def test_a_writer_killed_mid_write_loses_no_acknowledged_rating(database, open_store):
    [writer] = start_writers(database, "forever", ["crash"])
    acknowledged = [int(writer.stdout.readline()) for _ in range(150)]
    writer.send_signal(signal.SIGKILL)  # no clean-up: whatever transaction is open stays open
    # Read through the text wrapper: lines readline() already buffered would be skipped by
    # communicate(), which reads the pipe itself (and made this test fail now and then).
    rest = writer.stdout.read()
    writer.wait(timeout=30)
    acknowledged += [int(line) for line in rest.split()]
    assert acknowledged == list(range(len(acknowledged)))

    store = open_store()
    stored = {event.item_id for event in store.for_user("crash")}
    written = {f"item-{number}" for number in acknowledged}
    assert written <= stored
    # At most the write in flight: committed, but killed before it could say so.
    assert stored - written <= {f"item-{len(acknowledged)}"}
    # Nothing was left locked or half-written: the next writer gets in at once.
    store.add("after", "1", 4, timestamp=1)
    assert store.for_user("after") == [Interaction("1", 4.0, 1)]


# ---------------------------------------------------------------------------------------------
# Connections


@pytest.fixture
def connections_opened(monkeypatch: pytest.MonkeyPatch, database: Database) -> list[str]:
    """Records each new database connection, at the driver, however the store makes them."""
    opened: list[str] = []
    modules = [psycopg] if database.url else [sqlite3, sqlite3.dbapi2]
    real_connect = modules[0].connect

    def counting_connect(*args, **kwargs):
        opened.append(threading.current_thread().name)
        return real_connect(*args, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, "connect", counting_connect)
    return opened


def test_a_store_serves_many_calls_on_one_connection(open_store, connections_opened):
    store = open_store()
    for number in range(20):
        store.add("u1", f"item-{number}", 4)
        store.for_user("u1")
    store.all()
    len(store)
    assert len(connections_opened) == 1


def test_threads_share_a_few_pooled_connections(open_store, connections_opened):
    store = open_store()
    start = threading.Barrier(4)

    def work(user: int) -> None:
        start.wait(timeout=10)
        for number in range(20):
            store.add(f"user-{user}", f"item-{number}", 3)
            store.for_user(f"user-{user}")

    threads = [threading.Thread(target=work, args=(user,)) for user in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 4 * 20
    assert len(connections_opened) <= 4  # at most one per thread, not one per call


def test_a_forked_worker_opens_its_own_connections(store):
    store.add("parent", "1", 4, timestamp=1)  # the pool now holds an open connection
    child = os.fork()
    if child == 0:  # gunicorn --preload forks workers like this
        code = 1
        try:
            if store.engine.pool.checkedin() == 0:
                store.add("child", "1", 5, timestamp=2)
                code = 0
        finally:
            os._exit(code)
    _pid, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.add("parent", "2", 3, timestamp=3)  # the parent's connection still works
    assert [user for user, *_rest in store.all()] == ["parent", "child", "parent"]


def test_a_connection_the_server_dropped_is_replaced_not_failed(postgres_server, tmp_path):
    store = RatingStore(tmp_path / "unused", postgres_server.url())
    try:
        store.add("u1", "1", 4, timestamp=1)
        disconnect_everyone(postgres_server, "postgres")  # a server restart, say
        assert store.for_user("u1") == [Interaction("1", 4.0, 1)]
    finally:
        store.close()


def disconnect_everyone(server: PostgresServer, database: str) -> None:
    with server.admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )


# ---------------------------------------------------------------------------------------------
# An older SQLite file


def test_a_file_from_before_the_seq_column_keeps_its_ratings_and_their_order(tmp_path):
    path = tmp_path / "ratings.sqlite"
    with sqlite3.connect(path) as old:  # the previous schema, written as the old store did
        old.execute(
            "CREATE TABLE ratings (user_id TEXT NOT NULL, item_id TEXT NOT NULL, "
            "rating REAL NOT NULL, timestamp INTEGER NOT NULL, PRIMARY KEY (user_id, item_id))"
        )
        for item, rating in (("b", 3), ("a", 4), ("c", 5), ("b", 1)):
            old.execute("INSERT OR REPLACE INTO ratings VALUES ('u1', ?, ?, 100)", (item, rating))
    old.close()

    store = RatingStore(path)
    assert store.for_user("u1") == [
        Interaction("a", 4.0, 100), Interaction("c", 5.0, 100), Interaction("b", 1.0, 100)
    ]
    store.add("u1", "d", 2, timestamp=100)
    store.add("u1", "a", 5, timestamp=100)
    assert [event.item_id for event in store.for_user("u1")] == ["c", "b", "d", "a"]
    store.close()


# ---------------------------------------------------------------------------------------------
# An unreachable database: a clear 503, never the password

SECRET = "s3cret pa/ss@word%"  # with characters a URL must escape


@pytest.fixture
def unreachable_url(closed_port: int) -> str:
    """A PostgreSQL URL with SECRET as its password, on a port nothing listens on."""
    return f"postgresql://movies:{quote(SECRET, safe='')}@127.0.0.1:{closed_port}/movies"


def assert_no_secret(text: str, secret: str = SECRET) -> None:
    for form in (secret, quote(secret, safe=""), quote(secret)):
        assert form not in text


def everything_said_about(problem: StoreUnavailable) -> str:
    return "".join(traceback.format_exception(problem)) + problem.reason + problem.hint


def test_an_unreachable_database_is_a_clear_error_that_never_shows_the_password(
    tmp_path, unreachable_url, caplog
):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreUnavailable) as raised:
        RatingStore(tmp_path / "unused", unreachable_url)
    problem = raised.value
    assert "cannot be reached" in problem.reason
    assert "DATABASE_URL" in problem.hint
    assert "127.0.0.1" not in problem.reason  # pages name no host either
    assert "movies:***@127.0.0.1" in caplog.text  # the log says which database, and why
    assert_no_secret(everything_said_about(problem) + caplog.text)


def test_a_wrong_password_is_refused_without_being_shown(postgres_server, tmp_path, caplog):
    wrong = "wrong-" + SECRET
    with pytest.raises(StoreUnavailable) as raised:
        RatingStore(tmp_path / "unused", postgres_server.url(password=wrong))
    assert "password authentication failed" in caplog.text
    assert_no_secret(everything_said_about(raised.value) + caplog.text, wrong)


def test_a_database_lost_after_start_fails_each_call_clearly_and_recovers(
    postgres_server, postgres_url, tmp_path, caplog
):
    name = postgres_url.rsplit("/", 1)[1]
    store = RatingStore(tmp_path / "unused", postgres_url)
    try:
        store.add("u1", "1", 4, timestamp=1)
        refuse_connections(postgres_server, name, True)
        with pytest.raises(StoreUnavailable, match="Your rating was not saved"):
            store.add("u1", "2", 5)
        with pytest.raises(StoreUnavailable, match="cannot be reached"):
            store.for_user("u1")
        refuse_connections(postgres_server, name, False)
        assert store.for_user("u1") == [Interaction("1", 4.0, 1)]
    finally:
        store.close()
    assert_no_secret(caplog.text, postgres_server.password)


def refuse_connections(server: PostgresServer, database: str, refuse: bool) -> None:
    """The database stops (or starts again) taking connections, and drops those it has."""
    with server.admin() as admin:
        allow = "false" if refuse else "true"
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {allow}')
    if refuse:
        disconnect_everyone(server, database)


# ---------------------------------------------------------------------------------------------
# The app: DATABASE_URL chooses the database; a database failure is a 503 saying so


def test_the_app_keeps_ratings_in_postgresql_when_database_url_is_set(
    make_app, postgres_url, tmp_path
):
    client = make_app({"DATABASE_URL": postgres_url}).test_client()
    response = client.post("/api/ratings", json={"user_id": "3", "item_id": "h4", "rating": 5})
    assert response.status_code == 201
    store = RatingStore(tmp_path / "unused", postgres_url)
    assert [event.item_id for event in store.for_user("3")] == ["h4"]
    store.close()
    assert not (tmp_path / "instance" / "ratings.sqlite").exists()


def test_without_database_url_the_app_keeps_ratings_in_sqlite_under_instance(make_app, tmp_path):
    client = make_app().test_client()
    response = client.post("/api/ratings", json={"user_id": "3", "item_id": "h4", "rating": 5})
    assert response.status_code == 201
    store = RatingStore(tmp_path / "instance" / "ratings.sqlite")
    assert [event.item_id for event in store.for_user("3")] == ["h4"]
    store.close()


def post_rating_form(client) -> object:
    with client.session_transaction() as session:
        session["csrf"] = "token"
    return client.post(
        "/ratings",
        data={"user_id": "3", "item_id": "h4", "rating": "4", "csrf_token": "token"},
    )


def test_an_unreachable_database_gives_503s_that_say_so_without_the_password(
    make_app, unreachable_url, caplog
):
    client = make_app({"DATABASE_URL": unreachable_url}).test_client()

    api = client.post("/api/ratings", json={"user_id": "3", "item_id": "h4", "rating": 5})
    assert api.status_code == 503
    assert "cannot be reached" in api.get_json()["error"]
    form = post_rating_form(client)
    assert form.status_code == 503
    assert "can be neither saved nor read" in form.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 503
    for response in (api, form, health):
        assert_no_secret(response.get_data(as_text=True))
    assert_no_secret(caplog.text)


def test_a_rating_the_database_cannot_take_is_a_503_saying_it_was_not_saved(
    make_app, postgres_server, postgres_url
):
    client = make_app({"DATABASE_URL": postgres_url}).test_client()
    assert client.get("/recommendations?user_id=3").status_code == 200
    refuse_connections(postgres_server, postgres_url.rsplit("/", 1)[1], True)

    api = client.post("/api/ratings", json={"user_id": "3", "item_id": "h4", "rating": 5})
    assert api.status_code == 503
    assert api.get_json()["error"].startswith("Your rating was not saved")
    form = post_rating_form(client)
    assert form.status_code == 503
    assert "Your rating was not saved" in form.get_data(as_text=True)
    for response in (api, form):
        assert_no_secret(response.get_data(as_text=True), postgres_server.password)


# ---------------------------------------------------------------------------------------------
# The setting


def test_database_url_is_blank_by_default_and_takes_postgresql_urls():
    assert config.from_environment({})["DATABASE_URL"] == ""
    for url in ("postgresql://u:p@db:5432/movies", "postgres://u:p@db/movies",
                "postgresql+psycopg://u:p@db/movies"):
        assert config.from_environment({"DATABASE_URL": url})["DATABASE_URL"] == url


@pytest.mark.parametrize(
    "url", ["mysql://u:topsecret@db/movies", "postgresql://u:topsecret@db:port/movies", "db"]
)
def test_a_database_url_the_app_cannot_use_is_refused_without_quoting_it(url):
    with pytest.raises(config.ConfigError, match="DATABASE_URL") as raised:
        config.from_environment({"DATABASE_URL": url})
    assert "topsecret" not in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Who made each rating


def test_each_rating_records_its_source_and_a_re_rating_replaces_it(open_store):
    store = open_store()
    store.add("u1", "a", 4, timestamp=100, source="session:abc")
    store.add("u2", "a", 3, timestamp=101, source="token:ci")
    store.add("u1", "a", 5, timestamp=102, source="proxy:u1")

    assert store.export() == [
        ("u2", "a", 3.0, 101, "token:ci"), ("u1", "a", 5.0, 102, "proxy:u1")
    ]
    assert store.export(since=102) == [("u1", "a", 5.0, 102, "proxy:u1")]


def test_a_table_from_before_sources_is_upgraded_in_place(database: Database, open_store):
    from sqlalchemy import (
        BigInteger,
        Column,
        Float,
        Identity,
        Integer,
        MetaData,
        Table,
        Text,
        UniqueConstraint,
    )

    import store as store_module

    before = MetaData()  # the schema of the previous version: seq, but no source
    Table(
        "ratings", before,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True),
        Column("user_id", Text, nullable=False), Column("item_id", Text, nullable=False),
        Column("rating", Float, nullable=False), Column("timestamp", BigInteger, nullable=False),
        UniqueConstraint("user_id", "item_id", name="ratings_user_item"),
    )
    engine = store_module._make_engine(database.path, database.url)
    with engine.begin() as connection:
        before.create_all(connection)
        connection.exec_driver_sql(
            "INSERT INTO ratings (user_id, item_id, rating, timestamp) VALUES ('old', 'a', 4, 100)"
        )
    engine.dispose()

    store = open_store()
    store.add("new", "b", 5, timestamp=200, source="token:ci")
    assert store.export() == [("old", "a", 4.0, 100, None), ("new", "b", 5.0, 200, "token:ci")]
    assert open_store().export()[0] == ("old", "a", 4.0, 100, None)  # a second start: no change
