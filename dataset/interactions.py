"""Interactions (the workshop's ratings.csv): `Interactions`, `Interaction`, `read_interactions`.

USER_ID, ITEM_ID, TIMESTAMP (Unix seconds) and an optional RATING or Personalize's EVENT_VALUE,
held as parallel arrays of codes. `read_interactions` parses with pandas' C reader where that reads
as the row-by-row reader would (see `columnar`), and can keep the parsed arrays in an .npz cache
keyed by the file's fingerprint.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from dataset.columnar import ColumnLayout, read_columns
from dataset.csvfiles import DataFileError, file_fingerprint, open_csv, require_columns
from files import atomic_write

logger = logging.getLogger(__name__)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


def _encode(
    rows: Iterable[tuple[str, str, float | None, int]],
    user_codes: dict[str, int],
    item_codes: dict[str, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows as code and value arrays; new IDs get the next codes in the given dicts."""
    users, items, ratings, timestamps = [], [], [], []
    for user_id, item_id, rating, timestamp in rows:
        users.append(user_codes.setdefault(user_id, len(user_codes)))
        items.append(item_codes.setdefault(item_id, len(item_codes)))
        ratings.append(np.nan if rating is None else rating)
        timestamps.append(timestamp)
    return (
        np.asarray(users, dtype=np.int32),
        np.asarray(items, dtype=np.int32),
        np.asarray(ratings, dtype=np.float32),
        np.asarray(timestamps, dtype=np.int64),
    )


def grouped_order(codes: np.ndarray, count: int) -> np.ndarray:
    """Row numbers grouped by code (0 first), file order within a code, in linear time."""
    rows = len(codes)
    # A counting sort: scipy's CSR-to-CSC conversion buckets each row's one entry by column,
    # rows in order, so each column keeps its rows in file order.
    one_per_row = sp.csr_matrix(
        (np.ones(rows, dtype=np.int8), codes, np.arange(rows + 1)), shape=(rows, count)
    )
    return one_per_row.tocsc().indices.astype(np.int64, copy=False)


def time_order(users: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Row order by user, then time; equal timestamps keep file order."""
    if len(users) == 0:
        return np.empty(0, dtype=np.int64)
    count = int(users.max()) + 1
    if np.all(timestamps[1:] >= timestamps[:-1]):  # a file in time order: one linear pass
        return grouped_order(users, count)
    low = int(timestamps.min())
    span = int(timestamps.max()) - low + 1
    if count * span >= 2**63:  # too wide for one integer key
        return np.lexsort((np.arange(len(users)), timestamps, users))
    # One stable sort of one key instead of lexsort's three (timsort is about linear on a
    # file already in user order).
    return np.argsort(users.astype(np.int64) * span + (timestamps - low), kind="stable")


@dataclass(frozen=True)
class Interaction:
    item_id: str
    rating: float | None
    timestamp: int


@dataclass
class Interactions:
    """Interactions as parallel arrays of user and item codes, with the codes' IDs.

    RATING (or Personalize's EVENT_VALUE) is optional; rows without one get NaN.
    """

    user_ids: list[str]
    item_ids: list[str]
    users: np.ndarray  # int32 code into user_ids, one per interaction
    items: np.ndarray  # int32 code into item_ids
    ratings: np.ndarray  # float32, NaN when the file has no rating
    timestamps: np.ndarray  # int64, Unix seconds
    source: str = ""
    fingerprint: str = ""
    _user_offsets: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[tuple[str, str, float | None, int]],
        source: str = "",
        fingerprint: str = "",
    ) -> Interactions:
        """Build from (USER_ID, ITEM_ID, RATING or None, TIMESTAMP) tuples."""
        user_codes: dict[str, int] = {}
        item_codes: dict[str, int] = {}
        users, items, ratings, timestamps = _encode(rows, user_codes, item_codes)
        return cls(
            list(user_codes), list(item_codes), users, items, ratings, timestamps,
            source=source, fingerprint=fingerprint,
        )

    def with_rows(
        self, rows: Iterable[tuple[str, str, float | None, int]], fingerprint: str
    ) -> Interactions:
        """These interactions followed by more; known IDs keep their codes."""
        user_codes, item_codes = dict(self.user_index), dict(self.item_index)
        extra = _encode(rows, user_codes, item_codes)
        old = (self.users, self.items, self.ratings, self.timestamps)
        users, items, ratings, timestamps = (
            np.concatenate([before, after]) for before, after in zip(old, extra, strict=True)
        )
        return Interactions(
            list(user_codes), list(item_codes), users, items, ratings, timestamps,
            source=self.source, fingerprint=fingerprint,
        )

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {user_id: code for code, user_id in enumerate(self.user_ids)}

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {item_id: code for code, item_id in enumerate(self.item_ids)}

    @cached_property
    def time_order(self) -> np.ndarray:
        """Row numbers by user, then time (file order for equal times); training's one sort."""
        return time_order(self.users, self.timestamps)

    @cached_property
    def items_by_time(self) -> np.ndarray:
        """Item codes in `time_order`: each user's items, oldest first (training reads them
        three times)."""
        return self.items[self.time_order]

    @cached_property
    def _rows_by_user(self) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers grouped by user, and each user's start offset into them."""
        order = np.argsort(self.users, kind="stable")
        offsets = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users, minlength=self.n_users), out=offsets[1:])
        return order, offsets

    def rows_of(self, user_id: str) -> np.ndarray:
        """Row numbers of one user's interactions (empty for an unknown user)."""
        code = self.user_index.get(user_id)
        if code is None:
            return np.empty(0, dtype=np.int64)
        order, offsets = self._rows_by_user
        return order[offsets[code] : offsets[code + 1]]

    def history(self, user_id: str) -> list[Interaction]:
        """One user's interactions, oldest first."""
        rows = self.rows_of(user_id)
        rows = rows[np.argsort(self.timestamps[rows], kind="stable")]
        return [
            Interaction(
                item_id=self.item_ids[self.items[row]],
                rating=None if np.isnan(self.ratings[row]) else float(self.ratings[row]),
                timestamp=int(self.timestamps[row]),
            )
            for row in rows
        ]

    def has_user(self, user_id: str) -> bool:
        return user_id in self.user_index


def read_interactions(path: str | Path, cache_dir: str | Path | None = None) -> Interactions:
    """Read USER_ID, ITEM_ID, TIMESTAMP and optional RATING / EVENT_VALUE columns.

    With `cache_dir`, the parsed arrays are kept there keyed by the file's fingerprint: loading
    them is faster still than parsing the CSV again.
    """
    fingerprint = file_fingerprint(path)
    cache = Path(cache_dir) / f"interactions-{fingerprint[:24]}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        try:
            return _load_parsed(cache, str(path), fingerprint)
        except (OSError, ValueError, KeyError):
            logger.warning("Ignoring the unreadable cache %s; parsing %s again", cache, path)
    interactions = _parse_interactions(path, fingerprint)
    if cache is not None:
        _save_parsed(interactions, cache)
    return interactions


def _parse_interactions(path: str | Path, fingerprint: str) -> Interactions:
    rows, columns = open_csv(path)
    rows.close()  # the header is all this pass needs
    require_columns(columns, ("USER_ID", "ITEM_ID", "TIMESTAMP"), path)
    layout = ColumnLayout(
        columns["USER_ID"], columns["ITEM_ID"], columns["TIMESTAMP"],
        columns.get("RATING", columns.get("EVENT_VALUE")),
        width=max(columns.values()) + 1,  # a repeated name is mapped once, the last cell always
    )
    parsed = read_columns(path, layout)
    if parsed is None:
        # Something pandas reads differently from the rules below (an empty ID, a short row,
        # a timestamp such as "1.0", a broken line): the exact reader decides, naming the line.
        return _parse_rows(path, layout, fingerprint)
    return Interactions(*parsed, source=str(path), fingerprint=fingerprint)


def _parse_rows(path: str | Path, layout: ColumnLayout, fingerprint: str) -> Interactions:
    """The reference reader, row by row: slow, exact, and the one that names a bad line."""
    rows, _ = open_csv(path)
    user_col, item_col, time_col, rating_col = layout.user, layout.item, layout.time, layout.rating

    def parsed() -> Iterator[tuple[str, str, float | None, int]]:
        line = 1
        try:
            for line, row in enumerate(rows, start=2):  # noqa: B007 - the error names it
                if not row:
                    continue
                rating_text = row[rating_col].strip() if rating_col is not None else ""
                timestamp = int(row[time_col])
                if not _INT64_MIN <= timestamp <= _INT64_MAX:
                    raise OverflowError  # no Unix time; it would fail later, without a line
                yield (
                    row[user_col],
                    row[item_col],
                    float(rating_text) if rating_text else None,
                    timestamp,
                )
        except (IndexError, ValueError, OverflowError):
            raise _bad_line(path, line) from None
        except csv.Error:  # raised while reading the next row, before `line` counts it
            raise _bad_line(path, line + 1) from None

    return Interactions.from_rows(parsed(), source=str(path), fingerprint=fingerprint)


def _bad_line(path: str | Path, line: int) -> DataFileError:
    return DataFileError(
        f"{path}:{line}: expected USER_ID, ITEM_ID, numeric RATING and an integer "
        f"TIMESTAMP; run `flask --app app data validate {path}` for details"
    )


def _save_parsed(interactions: Interactions, cache: Path) -> None:
    """Write the arrays atomically, and drop caches of earlier versions of the data."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for stale in cache.parent.glob("interactions-*.npz"):
            stale.unlink()
        with atomic_write(cache, "wb") as handle:
            np.savez(
                handle,
                user_ids=np.asarray(interactions.user_ids, dtype=str),
                item_ids=np.asarray(interactions.item_ids, dtype=str),
                users=interactions.users,
                items=interactions.items,
                ratings=interactions.ratings,
                timestamps=interactions.timestamps,
            )
    except OSError as error:
        # A cache that cannot be written costs start-up time, nothing else.
        logger.warning("Could not cache the parsed ratings in %s (%s)", cache.parent, error)


def _load_parsed(cache: Path, source: str, fingerprint: str) -> Interactions:
    with np.load(cache, allow_pickle=False) as arrays:
        return Interactions(
            user_ids=arrays["user_ids"].tolist(),
            item_ids=arrays["item_ids"].tolist(),
            users=arrays["users"],
            items=arrays["items"],
            ratings=arrays["ratings"],
            timestamps=arrays["timestamps"],
            source=source,
            fingerprint=fingerprint,
        )
