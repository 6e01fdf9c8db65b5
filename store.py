"""Ratings people make in the app, kept in SQLite under instance/ so they survive restarts.

They are folded into the embedded model at once and included when it is retrained.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from dataset import Interaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    user_id   TEXT    NOT NULL,
    item_id   TEXT    NOT NULL,
    rating    REAL    NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (user_id, item_id)
)
"""


class RatingStore:
    """One row per (user, item): rating a movie again replaces the earlier rating."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            # WAL lets readers carry on while another request writes.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # A connection per use: Flask serves requests on several threads, and sqlite3
        # connections must not be shared between them.
        with closing(sqlite3.connect(self.path, timeout=10)) as connection:
            with connection:  # commits, or rolls back on an exception
                yield connection

    def add(self, user_id: str, item_id: str, rating: float, timestamp: int | None = None) -> int:
        """Record a rating; returns its timestamp (Unix seconds)."""
        when = int(time.time()) if timestamp is None else timestamp
        with self._connection() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?)",
                (user_id, item_id, float(rating), when),
            )
        return when

    def for_user(self, user_id: str) -> list[Interaction]:
        """One user's ratings, oldest first."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT item_id, rating, timestamp FROM ratings WHERE user_id = ? "
                "ORDER BY timestamp, rowid",
                (user_id,),
            ).fetchall()
        return [Interaction(item_id, rating, timestamp) for item_id, rating, timestamp in rows]

    def all(self) -> list[tuple[str, str, float, int]]:
        """Every rating as (USER_ID, ITEM_ID, RATING, TIMESTAMP), in a stable order."""
        with self._connection() as connection:
            return connection.execute(
                "SELECT user_id, item_id, rating, timestamp FROM ratings "
                "ORDER BY timestamp, user_id, item_id"
            ).fetchall()

    def __len__(self) -> int:
        with self._connection() as connection:
            return connection.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]
