"""Ratings people make in the app: SQLite under instance/ by default, PostgreSQL via DATABASE_URL.

Every request reads the user's from here, so every process's answer follows them (the embedded
engine folds them in); `flask train` takes them into the saved model. Both
databases go through one SQLAlchemy Core code path and a pooled engine, so a request borrows an
open connection instead of opening one (issue 11: two new SQLite connections per request cost
more than the model's recommend).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from dataset import Interaction
from recommender.interface import RecommenderUnavailable

logger = logging.getLogger(__name__)

# IDs sort by code point on both databases: SQLite's default, and PostgreSQL's "C" collation
# (its default follows the server's locale, which would make all()'s order depend on the host).
_ID = Text(collation="C").with_variant(Text(), "sqlite")

metadata = MetaData()
ratings = Table(
    "ratings",
    metadata,
    # Insertion order, the tiebreak between ratings made in the same second. On SQLite an
    # INTEGER PRIMARY KEY is the rowid that the old schema ordered by.
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True),
    Column("user_id", _ID, nullable=False),
    Column("item_id", _ID, nullable=False),
    Column("rating", Float, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    # Who made it: "session:…", "token:NAME", "proxy:USER" or "api:ADDRESS" (access.py).
    # NULL for ratings stored before the app recorded it.
    Column("source", Text, nullable=True),
    UniqueConstraint("user_id", "item_id", name="ratings_user_item"),
)

# Built once: every page reads one user's ratings, and building the statement cost more than
# running it.
_USER_RATINGS = (
    select(ratings.c.item_id, ratings.c.rating, ratings.c.timestamp)
    .where(ratings.c.user_id == bindparam("user_id"))
    .order_by(ratings.c.timestamp, ratings.c.seq)
)

# Any constant works: it only has to be the same in every process creating the schema.
_SCHEMA_LOCK = 0x4D6F766965526174  # "MovieRat"
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
SQLITE_TIMEOUT = 10  # seconds a writer waits for another to finish before giving up
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_UNREACHABLE = "the ratings database cannot be reached right now."
_UNREADABLE = f"Ratings made in this app can be neither saved nor read: {_UNREACHABLE}"
_UNSAVED = f"Your rating was not saved: {_UNREACHABLE}"
_HINT = (
    "Try again in a moment. The app's log says what failed (check DATABASE_URL and that the "
    "database server is running)."
)


class StoreUnavailable(RecommenderUnavailable):
    """The ratings database cannot be reached; pages answer 503 as for any backend that is down.

    The reason is for anyone: it names no host and no password. The details go to the log.
    """


class RatingStore:
    """One row per (user, item): rating a movie again replaces the earlier rating."""

    def __init__(self, path: str | Path, database_url: str = "") -> None:
        """SQLite at `path`, or the PostgreSQL database at `database_url` when that is set."""
        self.engine = _make_engine(path, database_url)
        self._where = self.engine.url.render_as_string(hide_password=True)
        self._password = self.engine.url.password or ""
        _forget_connections_after_fork(self.engine)
        try:
            with self._transaction("preparing the ratings table", write=True) as connection:
                _create_schema(connection)
        except StoreUnavailable:
            self.close()
            raise

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        self.engine.dispose()

    def add(
        self,
        user_id: str,
        item_id: str,
        rating: float,
        timestamp: int | None = None,
        source: str | None = None,
    ) -> int:
        """Record a rating and who made it; returns its timestamp (Unix seconds)."""
        when = int(time.time()) if timestamp is None else timestamp
        insert = _INSERT[self.engine.dialect.name](ratings).values(
            user_id=user_id, item_id=item_id, rating=float(rating), timestamp=when, source=source
        )
        # A re-rating takes the new row's place in the insertion order, as the old
        # INSERT OR REPLACE did: it is the latest thing the user did.
        upsert = insert.on_conflict_do_update(
            index_elements=["user_id", "item_id"],
            set_={
                "rating": insert.excluded.rating,
                "timestamp": insert.excluded.timestamp,
                "source": insert.excluded.source,
                "seq": insert.excluded.seq,
            },
        )
        with self._transaction("saving a rating", _UNSAVED, write=True) as connection:
            connection.execute(upsert)
        return when

    def for_user(self, user_id: str) -> list[Interaction]:
        """One user's ratings, oldest first; ratings made in the same second in the order made."""
        with self._transaction("reading a user's ratings") as connection:
            rows = connection.execute(_USER_RATINGS, {"user_id": user_id}).all()
        return [Interaction(item_id, rating, timestamp) for item_id, rating, timestamp in rows]

    def all(self) -> list[tuple[str, str, float, int]]:
        """Every rating as (USER_ID, ITEM_ID, RATING, TIMESTAMP), in a stable order."""
        columns = ratings.c
        query = select(columns.user_id, columns.item_id, columns.rating, columns.timestamp)
        query = query.order_by(columns.timestamp, columns.user_id, columns.item_id)
        with self._transaction("reading the ratings") as connection:
            return [tuple(row) for row in connection.execute(query)]

    def export(self, since: int | None = None) -> list[tuple[str, str, float, int, str | None]]:
        """(USER_ID, ITEM_ID, RATING, TIMESTAMP, source) from `since` on, in the order made."""
        columns = ratings.c
        query = select(
            columns.user_id, columns.item_id, columns.rating, columns.timestamp, columns.source
        ).order_by(columns.timestamp, columns.seq)
        if since is not None:
            query = query.where(columns.timestamp >= since)
        with self._transaction("exporting the ratings") as connection:
            return [tuple(row) for row in connection.execute(query)]

    def __len__(self) -> int:
        with self._transaction("counting the ratings") as connection:
            return connection.execute(select(func.count()).select_from(ratings)).scalar_one()

    @contextmanager
    def _transaction(
        self, doing: str, reason: str = _UNREADABLE, write: bool = False
    ) -> Iterator[Connection]:
        """A pooled connection in a transaction: committed on success, rolled back otherwise.

        `doing` names the operation in the log; `reason` is what a page says when it fails.
        """
        try:
            with self.engine.connect().execution_options(store_write=write) as connection:
                with connection.begin():
                    yield connection
        except (OperationalError, InterfaceError, PoolTimeoutError) as error:
            detail = redact(str(getattr(error, "orig", None) or error).strip(), self._password)
            logger.error(
                "The ratings database %s failed while %s: %s", self._where, doing, detail
            )
            # Not chained: the cause's message may quote the URL.
            raise StoreUnavailable(reason, _HINT) from None


def redact(message: str, password: str) -> str:
    """The message with the password (as typed, and as written in a URL) replaced by ***."""
    for form in {password, quote(password, safe=""), quote(password)} - {""}:
        message = message.replace(form, "***")
    return message


def engine_url(database_url: str) -> URL:
    """The SQLAlchemy URL for DATABASE_URL, with the psycopg 3 driver named."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        # SQLAlchemy's message may quote the URL, password and all.
        raise ValueError("DATABASE_URL is not a database URL") from None
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return url.set(drivername="postgresql+psycopg")


def _make_engine(path: str | Path, database_url: str) -> Engine:
    if database_url:
        return create_engine(
            engine_url(database_url),
            # A connection the server dropped (restart, idle timeout) is replaced, not used.
            pool_pre_ping=True,
            pool_timeout=10,
            # An unreachable server fails the request in seconds rather than hanging it.
            connect_args={"connect_timeout": 5},
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A file database gets SQLAlchemy's QueuePool, with check_same_thread off: a connection
    # serves one thread at a time, handed between threads by the pool.
    engine = create_engine(
        URL.create("sqlite", database=str(path)), connect_args={"timeout": SQLITE_TIMEOUT}
    )
    event.listen(engine, "connect", _sqlite_connected)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy's recipe for real transactions on sqlite3: the driver emits no BEGIN of its
    # own (it would skip DDL), _sqlite_begin does.
    dbapi_connection.isolation_level = None
    # WAL lets readers carry on while another request writes. Switching a new file to it can
    # fail at once with "database is locked" while another process does the same (SQLite
    # does not wait here), so try again until the usual timeout.
    deadline = time.monotonic() + SQLITE_TIMEOUT
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the write lock at BEGIN, waiting up to the timeout for another writer;
    # a deferred transaction that read first could fail at once instead of waiting.
    write = connection.get_execution_options().get("store_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _forget_connections_after_fork(engine: Engine) -> None:
    """A forked worker (gunicorn --preload) opens its own connections, never its parent's."""
    engine_ref = weakref.ref(engine)

    def forget() -> None:
        forked = engine_ref()
        if forked is not None:
            forked.dispose(close=False)  # close=False: the parent still uses them

    os.register_at_fork(after_in_child=forget)


def _create_schema(connection: Connection) -> None:
    """Create the table, or bring an older one up to date; safe when two processes start at once."""
    if connection.dialect.name == "postgresql":
        # CREATE TABLE IF NOT EXISTS races with itself in PostgreSQL; SQLite's BEGIN IMMEDIATE
        # already serializes this transaction.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    found = inspect(connection)
    if found.has_table("ratings"):
        columns = {column["name"] for column in found.get_columns("ratings")}
        if "seq" not in columns:
            _upgrade_rowid_table(connection)  # makes the current table, source included
        elif "source" not in columns:
            # Ratings from before sources were recorded keep a NULL one; both databases add a
            # nullable column without rewriting the table.
            connection.exec_driver_sql("ALTER TABLE ratings ADD COLUMN source TEXT")
    metadata.create_all(connection, checkfirst=True)


def _upgrade_rowid_table(connection: Connection) -> None:
    """Copy a table from before `seq` (SQLite, ordered by rowid) into the current one."""
    connection.exec_driver_sql("ALTER TABLE ratings RENAME TO ratings_before_seq")
    metadata.create_all(connection)
    connection.exec_driver_sql(
        "INSERT INTO ratings (user_id, item_id, rating, timestamp) "
        "SELECT user_id, item_id, rating, timestamp FROM ratings_before_seq ORDER BY rowid"
    )
    connection.exec_driver_sql("DROP TABLE ratings_before_seq")
