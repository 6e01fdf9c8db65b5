"""The data files: interactions (the workshop's ratings.csv) and the items catalogue.

Both follow Amazon Personalize's CSV shapes, so the same files can be uploaded to it. Checking a
file against Personalize's import rules is validation.py's job, importing a MovieLens download
movielens.py's; the `flask data …` commands here run them.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import click
import numpy as np
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

from validation import validate_interactions

# "Matrix, The (1999)" -> title "Matrix, The", year 1999 (MovieLens and the workshop's file).
_TITLE_WITH_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
# A trailing article moved behind a comma, optionally followed by an alternative title.
_TRAILING_ARTICLE = re.compile(
    r"^(?P<main>.+?), (?P<article>The|A|An|Les|La|Le|L'|Il|Die|Der|Das|El|Los|Las)"
    r"(?P<alt>\s*\(.*\))?$"
)


logger = logging.getLogger(__name__)


class DataFileError(ValueError):
    """A ratings or items file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Movie:
    item_id: str
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    imdb_id: str | None = None

    @property
    def label(self) -> str:
        """Title with the year, as people write it: "The Matrix (1999)"."""
        return f"{self.title} ({self.year})" if self.year else self.title


def parse_title(text: str) -> tuple[str, int | None]:
    """Split a MovieLens-style title into a readable title and year.

    "Matrix, The (1999)" -> ("The Matrix", 1999); "Heat" -> ("Heat", None).
    """
    text = text.strip()
    year = None
    match = _TITLE_WITH_YEAR.match(text)
    if match:
        text, year = match["title"], int(match["year"])
    article = _TRAILING_ARTICLE.match(text)
    if article:
        joiner = "" if article["article"].endswith("'") else " "
        text = f"{article['article']}{joiner}{article['main']}{article['alt'] or ''}"
    return text, year


class Catalog:
    """Movies by ITEM_ID; an unknown ID still yields a Movie, titled from the ID itself."""

    def __init__(self, movies: Iterable[Movie] = ()) -> None:
        self._movies = {movie.item_id: movie for movie in movies}

    @classmethod
    def from_csv(cls, path: str | Path) -> Catalog:
        return cls(read_items(path))

    def get(self, item_id: str) -> Movie:
        movie = self._movies.get(item_id)
        if movie is None:
            title, year = parse_title(item_id)
            movie = Movie(item_id=item_id, title=title, year=year)
        return movie

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._movies

    def __len__(self) -> int:
        return len(self._movies)

    def __iter__(self) -> Iterator[Movie]:
        return iter(self._movies.values())

    @cached_property
    def genres(self) -> list[str]:
        """Every genre in the catalogue, sorted."""
        return sorted({genre for movie in self._movies.values() for genre in movie.genres})


def open_csv(path: str | Path) -> tuple[Iterator[list[str]], dict[str, int]]:
    """Open a CSV file and map its upper-cased header names to column positions."""
    handle = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed by the generator
    reader = csv.reader(handle)

    def rows() -> Iterator[list[str]]:
        with handle:
            try:
                yield from reader
            except UnicodeDecodeError as error:
                # Also covers the header: the first read decodes a whole buffer at once.
                raise DataFileError(
                    f"{path}: not valid UTF-8 ({error.reason}); save it with UTF-8 encoding"
                ) from None

    iterator = rows()
    header = next(iterator, None)
    if header is None:
        handle.close()
        raise DataFileError(f"{path}: the file is empty; it needs a header row")
    columns = {name.strip().upper(): position for position, name in enumerate(header)}
    return iterator, columns


def require_columns(
    columns: dict[str, int], names: Iterable[str], path: str | Path
) -> None:
    """Raise DataFileError naming every one of these columns the header lacks."""
    missing = [name for name in names if name not in columns]
    if missing:
        raise DataFileError(f"{path}: missing column(s) {', '.join(missing)} in the header")


def read_items(path: str | Path) -> list[Movie]:
    """Read an items file: ITEM_ID, TITLE, YEAR, GENRES (|-separated), optional IMDB_ID."""
    rows, columns = open_csv(path)
    require_columns(columns, ("ITEM_ID", "TITLE"), path)
    optional = {name: columns.get(name) for name in ("YEAR", "GENRES", "IMDB_ID")}
    movies = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            year_text = cell_text(row, optional["YEAR"])
            genres = cell_text(row, optional["GENRES"])
            movies.append(
                Movie(
                    item_id=row[columns["ITEM_ID"]],
                    title=row[columns["TITLE"]],
                    year=int(year_text) if year_text else None,
                    genres=tuple(g for g in genres.split("|") if g and g != "(no genres listed)"),
                    imdb_id=cell_text(row, optional["IMDB_ID"]) or None,
                )
            )
        except (IndexError, ValueError) as error:
            raise DataFileError(f"{path}:{line}: cannot read this row ({error})") from None
    return movies


def cell_text(row: list[str], position: int | None) -> str:
    """The cell, stripped; "" when the column is absent or the row too short."""
    return row[position].strip() if position is not None and position < len(row) else ""


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


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of the file's bytes: a saved model is reused only for the same data."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_interactions(path: str | Path, cache_dir: str | Path | None = None) -> Interactions:
    """Read USER_ID, ITEM_ID, TIMESTAMP and optional RATING / EVENT_VALUE columns.

    With `cache_dir`, the parsed arrays are kept there keyed by the file's fingerprint: parsing
    a large CSV in Python takes seconds, loading the arrays a fraction of that.
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
    require_columns(columns, ("USER_ID", "ITEM_ID", "TIMESTAMP"), path)
    user_col, item_col, time_col = columns["USER_ID"], columns["ITEM_ID"], columns["TIMESTAMP"]
    rating_col = columns.get("RATING", columns.get("EVENT_VALUE"))

    def parsed() -> Iterator[tuple[str, str, float | None, int]]:
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            try:
                rating_text = row[rating_col].strip() if rating_col is not None else ""
                yield (
                    row[user_col],
                    row[item_col],
                    float(rating_text) if rating_text else None,
                    int(row[time_col]),
                )
            except (IndexError, ValueError):
                raise DataFileError(
                    f"{path}:{line}: expected USER_ID, ITEM_ID, numeric RATING and an integer "
                    f"TIMESTAMP; run `flask --app app data validate {path}` for details"
                ) from None

    return Interactions.from_rows(parsed(), source=str(path), fingerprint=fingerprint)


def _save_parsed(interactions: Interactions, cache: Path) -> None:
    """Write the arrays atomically, and drop caches of earlier versions of the data."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for stale in cache.parent.glob("interactions-*.npz"):
            stale.unlink()
        partial = cache.with_suffix(".partial.npz")
        np.savez(
            partial,
            user_ids=np.asarray(interactions.user_ids, dtype=str),
            item_ids=np.asarray(interactions.item_ids, dtype=str),
            users=interactions.users,
            items=interactions.items,
            ratings=interactions.ratings,
            timestamps=interactions.timestamps,
        )
        partial.replace(cache)
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


# --- The `flask data …` commands -------------------------------------------------------

data_cli = AppGroup("data", help="Check and prepare the ratings and items files.")


@data_cli.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(path: Path | None) -> None:
    """Check a ratings file (default: RATINGS_PATH) against Amazon Personalize's import rules."""
    path = path or Path(current_app.config["RATINGS_PATH"])
    if not path.is_file():
        raise click.ClickException(f"{path}: no such file")
    report = validate_interactions(path)
    for problem in report.problems:
        click.echo(str(problem))
    if report.unlisted_problems:
        click.echo(f"… and {report.unlisted_problems:,} more problems")
    click.echo(f"{path}: {report.rows:,} interactions, {report.users:,} users, "
               f"{report.items:,} items")
    if not report.ok:
        click.echo(f"FAILED: {report.problem_count:,} problem(s); Amazon Personalize would "
                   "reject this file.", err=True)
        raise SystemExit(1)
    click.echo("OK: the file meets Amazon Personalize's import rules.")


@data_cli.command("import-movielens")
@click.argument("src_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", default="data", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write ratings.csv and items.csv into.")
@click.option("--force", is_flag=True, help="Replace existing ratings.csv and items.csv.")
def import_movielens_command(src_dir: Path, out_dir: Path, force: bool) -> None:
    """Convert a MovieLens download (ml-latest-small, ml-25m, ml-100k) into this app's files."""
    # Imported here, not at the top: movielens.py reads files with this module's helpers.
    from movielens import import_movielens

    started = time.perf_counter()
    try:
        with tqdm(unit=" ratings", unit_scale=True, leave=False) as bar:
            summary = import_movielens(src_dir, out_dir, force=force, progress=bar.update)
    except DataFileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Read {summary.layout} from {src_dir} in {time.perf_counter() - started:.1f} s")
    click.echo(f"Wrote {summary.ratings:,} ratings by {summary.users:,} users "
               f"to {summary.ratings_path}")
    click.echo(f"Wrote {summary.movies:,} movies ({summary.imdb_ids:,} with IMDb IDs) "
               f"to {summary.items_path}")
