"""The data files: interactions (the workshop's ratings.csv) and the items catalogue.

Both follow Amazon Personalize's CSV shapes, so the same files can be uploaded to it.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import click
import numpy as np
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

# "Matrix, The (1999)" -> title "Matrix, The", year 1999 (MovieLens and the workshop's file).
_TITLE_WITH_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
# A trailing article moved behind a comma, optionally followed by an alternative title.
_TRAILING_ARTICLE = re.compile(
    r"^(?P<main>.+?), (?P<article>The|A|An|Les|La|Le|L'|Il|Die|Der|Das|El|Los|Las)"
    r"(?P<alt>\s*\(.*\))?$"
)


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


def _open_csv(path: str | Path) -> tuple[Iterator[list[str]], dict[str, int]]:
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


def _require(columns: dict[str, int], names: Iterable[str], path: str | Path) -> None:
    missing = [name for name in names if name not in columns]
    if missing:
        raise DataFileError(f"{path}: missing column(s) {', '.join(missing)} in the header")


def read_items(path: str | Path) -> list[Movie]:
    """Read an items file: ITEM_ID, TITLE, YEAR, GENRES (|-separated), optional IMDB_ID."""
    rows, columns = _open_csv(path)
    _require(columns, ("ITEM_ID", "TITLE"), path)
    optional = {name: columns.get(name) for name in ("YEAR", "GENRES", "IMDB_ID")}
    movies = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            year_text = _cell(row, optional["YEAR"])
            genres = _cell(row, optional["GENRES"])
            movies.append(
                Movie(
                    item_id=row[columns["ITEM_ID"]],
                    title=row[columns["TITLE"]],
                    year=int(year_text) if year_text else None,
                    genres=tuple(g for g in genres.split("|") if g and g != "(no genres listed)"),
                    imdb_id=_cell(row, optional["IMDB_ID"]) or None,
                )
            )
        except (IndexError, ValueError) as error:
            raise DataFileError(f"{path}:{line}: cannot read this row ({error})") from None
    return movies


def _cell(row: list[str], position: int | None) -> str:
    return row[position].strip() if position is not None and position < len(row) else ""


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
        users, items, ratings, timestamps = [], [], [], []
        for user_id, item_id, rating, timestamp in rows:
            users.append(user_codes.setdefault(user_id, len(user_codes)))
            items.append(item_codes.setdefault(item_id, len(item_codes)))
            ratings.append(np.nan if rating is None else rating)
            timestamps.append(timestamp)
        return cls(
            user_ids=list(user_codes),
            item_ids=list(item_codes),
            users=np.asarray(users, dtype=np.int32),
            items=np.asarray(items, dtype=np.int32),
            ratings=np.asarray(ratings, dtype=np.float32),
            timestamps=np.asarray(timestamps, dtype=np.int64),
            source=source,
            fingerprint=fingerprint,
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


def read_interactions(path: str | Path) -> Interactions:
    """Read USER_ID, ITEM_ID, TIMESTAMP and optional RATING / EVENT_VALUE columns."""
    rows, columns = _open_csv(path)
    _require(columns, ("USER_ID", "ITEM_ID", "TIMESTAMP"), path)
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

    try:
        return Interactions.from_rows(
            parsed(), source=str(path), fingerprint=file_fingerprint(path)
        )
    except UnicodeDecodeError as error:
        raise DataFileError(f"{path}: not valid UTF-8 ({error.reason})") from None


# --- Validating an interactions file against Personalize's import rules -----------------

# Personalize's reserved names for the columns this app uses; RATING is the workshop's own.
REQUIRED_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP")
OPTIONAL_COLUMNS = ("RATING", "EVENT_TYPE", "EVENT_VALUE")
MAX_ID_LENGTH = 256
MIN_INTERACTIONS = 1000
MIN_ACTIVE_USERS = 25  # users with two or more interactions
MAX_LISTED_PROBLEMS = 20
# Unix seconds pass 1e11 only in the year 5138; such values are milliseconds.
_MILLISECONDS_THRESHOLD = 100_000_000_000
# MovieLens and other common spellings, so a wrong header can still be checked row by row.
_COLUMN_ALIASES = {"USERID": "USER_ID", "MOVIEID": "ITEM_ID", "MOVIE_ID": "ITEM_ID",
                   "ITEMID": "ITEM_ID", "EVENTTYPE": "EVENT_TYPE", "EVENTVALUE": "EVENT_VALUE"}
_IMPORT_HINT = "run `flask --app app data import-movielens DIR` to convert a MovieLens download"


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based line number in the file; None for file-wide problems
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


@dataclass
class ValidationReport:
    """What validate_interactions found; `problems` lists at most the first 20 per-line ones."""

    path: str
    rows: int = 0
    users: int = 0
    items: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0  # every problem found, listed or not

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def unlisted_problems(self) -> int:
        """Problems counted but not kept in `problems` (the "… and N more")."""
        return self.problem_count - len(self.problems)

    def add(self, line: int | None, message: str) -> None:
        self.problem_count += 1
        if line is None or len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(Problem(line, message))


def validate_interactions(path: str | Path) -> ValidationReport:
    """Check an interactions CSV against Amazon Personalize's import rules, streaming it."""
    report = ValidationReport(path=str(path))
    with open(path, "rb") as handle:
        lines = _DecodedLines(handle, report)
        records = _records(lines, report)
        first = next(records, None)
        if first is None:
            report.add(None, "the file is empty; it needs the header USER_ID,ITEM_ID,TIMESTAMP")
            return report
        header = first[1]
        columns = _check_header(header, lines.quoted_header, report)
        per_user = _check_rows(records, lines, header, columns, report)
    report.users = len(per_user)
    _check_volume(report, per_user, has_users="USER_ID" in columns)
    # File-wide problems first (a stable sort keeps the lines in order): they matter most.
    report.problems.sort(key=lambda problem: problem.line is not None)
    return report


class _DecodedLines:
    """Yield a binary file's lines as text, reporting (not raising on) invalid UTF-8."""

    def __init__(self, handle: Iterable[bytes], report: ValidationReport) -> None:
        self._handle = handle
        self._report = report
        self.line = 0  # number of the last line yielded
        self.bad_lines: set[int] = set()
        self.quoted_header = False

    def __iter__(self) -> Iterator[str]:
        for raw in self._handle:
            self.line += 1
            if self.line == 1:
                raw = self._check_first_line(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                self.bad_lines.add(self.line)
                self._report.add(
                    self.line,
                    f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at position "
                    f"{error.start + 1}); save the file with UTF-8 encoding",
                )
                yield raw.decode("utf-8", errors="replace")

    def _check_first_line(self, raw: bytes) -> bytes:
        if raw.startswith(b"\xef\xbb\xbf"):
            self._report.add(1, "the file starts with a byte-order mark, which becomes part of "
                                "the first column's name; save it as UTF-8 without BOM")
            raw = raw[3:]
        self.quoted_header = b'"' in raw
        return raw


def _records(
    lines: _DecodedLines, report: ValidationReport
) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on; unparsable ones are reported."""
    reader = csv.reader(lines)
    last_line = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            report.add(last_line + 1, f"cannot parse this line ({error})")
            row = []
        first_line, last_line = last_line + 1, lines.line
        if row:
            yield first_line, row


def _check_header(header: list[str], quoted: bool, report: ValidationReport) -> dict[str, int]:
    """Report header problems; return the positions of the columns the rows can be checked by."""
    if quoted:
        report.add(1, "header names must not be enclosed in quotation marks")
    columns: dict[str, int] = {}
    renames = []
    for position, name in enumerate(header):
        canonical = _canonical_column(name)
        if canonical is None:
            continue  # other metadata columns are allowed by Personalize
        if canonical in columns:
            report.add(1, f"column {canonical} appears twice in the header")
            continue
        columns[canonical] = position
        if name != canonical:
            renames.append(f"{name!r} -> {canonical}")
    if renames:
        movielens = any(name.strip() in ("userId", "movieId") for name in header)
        hint = f"; {_IMPORT_HINT}" if movielens else ""
        report.add(1, f"column names must be exactly as Personalize expects: rename "
                      f"{', '.join(renames)}{hint}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        looks_like_data = any(_is_number(cell) for cell in header)
        why = "; the first line looks like data, not a header" if looks_like_data else ""
        report.add(1, f"missing column(s) {', '.join(missing)} in the header{why}")
    return columns


def _canonical_column(name: str) -> str | None:
    upper = name.strip().upper()
    if upper in REQUIRED_COLUMNS or upper in OPTIONAL_COLUMNS:
        return upper
    return _COLUMN_ALIASES.get(upper)


def _check_rows(
    records: Iterator[tuple[int, list[str]]],
    lines: _DecodedLines,
    header: list[str],
    columns: dict[str, int],
    report: ValidationReport,
) -> dict[str, int]:
    """Check every data row; return how many interactions each user has."""
    per_user: dict[str, int] = {}
    items: set[str] = set()
    user_col, item_col = columns.get("USER_ID"), columns.get("ITEM_ID")
    cell_checks = [
        (position, _CELL_CHECKS[name]) for name, position in columns.items() if name in _CELL_CHECKS
    ]
    for first_line, row in records:
        report.rows += 1
        if lines.bad_lines:
            spanned = range(first_line, lines.line + 1)
            if any(line in lines.bad_lines for line in spanned):
                lines.bad_lines.difference_update(spanned)
                continue  # already reported as bad bytes; its fields are unreliable
        if len(row) != len(header):
            report.add(first_line, f"expected {len(header)} fields ({','.join(header)}), "
                                   f"found {len(row)}")
            continue
        for position, check in cell_checks:
            message = check(row[position])
            if message:
                report.add(first_line, message)
        if user_col is not None and row[user_col]:
            per_user[row[user_col]] = per_user.get(row[user_col], 0) + 1
        if item_col is not None and row[item_col]:
            items.add(row[item_col])
    report.items = len(items)
    return per_user


def _check_id(name: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value.strip():
            return f"{name} is empty"
        if len(value) > MAX_ID_LENGTH:
            return f"{name} is {len(value)} characters long; Personalize allows {MAX_ID_LENGTH}"
        return None

    return check


def _check_timestamp(value: str) -> str | None:
    if not value.strip():
        return "TIMESTAMP is empty"
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()):
        if _is_number(value) and abs(float(value)) >= _MILLISECONDS_THRESHOLD:
            return (f"TIMESTAMP {value!r} is not an integer and looks like milliseconds; "
                    "write whole Unix seconds (divide by 1000)")
        return f"TIMESTAMP {value!r} is not an integer; write Unix seconds, e.g. 1577836800"
    if abs(int(value)) >= _MILLISECONDS_THRESHOLD:
        return (f"TIMESTAMP {value} looks like milliseconds; Personalize wants Unix seconds "
                "(divide by 1000)")
    return None


def _check_number(name: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        # An empty value is a missing rating, which read_interactions accepts.
        if value.strip() and not _is_number(value):
            return f"{name} {value!r} is not a number"
        return None

    return check


def _check_event_type(value: str) -> str | None:
    return None if value.strip() else "EVENT_TYPE is empty"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


_CELL_CHECKS: dict[str, Callable[[str], str | None]] = {
    "USER_ID": _check_id("USER_ID"),
    "ITEM_ID": _check_id("ITEM_ID"),
    "TIMESTAMP": _check_timestamp,
    "RATING": _check_number("RATING"),
    "EVENT_VALUE": _check_number("EVENT_VALUE"),
    "EVENT_TYPE": _check_event_type,
}


def _check_volume(report: ValidationReport, per_user: dict[str, int], has_users: bool) -> None:
    if report.rows < MIN_INTERACTIONS:
        report.add(None, f"only {report.rows:,} interactions; Personalize needs at least "
                         f"{MIN_INTERACTIONS:,} to train")
    active = sum(1 for count in per_user.values() if count >= 2)
    if has_users and active < MIN_ACTIVE_USERS:
        users = "1 user has" if active == 1 else f"{active} users have"
        report.add(None, f"only {users} two or more interactions; Personalize needs at least "
                         f"{MIN_ACTIVE_USERS} such users")


# --- Importing a MovieLens download ----------------------------------------------------

# ml-100k's u.item genre flags, in file order, named as the newer MovieLens files name them.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
RATINGS_HEADER = ("USER_ID", "ITEM_ID", "RATING", "TIMESTAMP")
ITEMS_HEADER = ("ITEM_ID", "TITLE", "YEAR", "GENRES", "IMDB_ID")
_NO_GENRES = {"(no genres listed)", "unknown"}
_PROGRESS_EVERY = 100_000


@dataclass(frozen=True)
class ImportSummary:
    layout: str  # "ml-latest" (ratings.csv, movies.csv, links.csv) or "ml-100k" (u.data, u.item)
    ratings_path: Path
    items_path: Path
    ratings: int
    users: int
    movies: int
    imdb_ids: int  # movies written with an IMDb ID


def import_movielens(
    src_dir: str | Path,
    out_dir: str | Path,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Convert a MovieLens download into OUT/ratings.csv and OUT/items.csv in this app's columns.

    Understands ml-latest / ml-latest-small / ml-25m (ratings.csv, movies.csv, links.csv) and
    ml-100k (u.data, u.item). `progress` is called with the number of ratings written since its
    last call. Existing outputs are replaced only with `force`.
    """
    src, out = Path(src_dir), Path(out_dir)
    if (src / "ratings.csv").is_file() and (src / "movies.csv").is_file():
        layout, ratings, movies = "ml-latest", _latest_ratings(src), _latest_movies(src)
    elif (src / "u.data").is_file() and (src / "u.item").is_file():
        layout, ratings, movies = "ml-100k", _ml100k_ratings(src), _ml100k_movies(src)
    else:
        raise DataFileError(
            f"{src}: not a MovieLens directory; expected ratings.csv and movies.csv "
            "(ml-latest-small, ml-25m) or u.data and u.item (ml-100k)"
        )
    ratings_path, items_path = out / "ratings.csv", out / "items.csv"
    existing = [str(path) for path in (ratings_path, items_path) if path.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise DataFileError(f"{' and '.join(existing)} already {verb}; use --force to replace")
    out.mkdir(parents=True, exist_ok=True)

    # Both files are written beside their targets and moved into place only when both are
    # complete, so a failed import leaves the previous pair untouched.
    partial_ratings = ratings_path.with_name(".ratings.csv.partial")
    partial_items = items_path.with_name(".items.csv.partial")
    try:
        item_rows = list(movies)  # tens of thousands at most, unlike the ratings
        _write_csv(partial_items, ITEMS_HEADER, item_rows)
        users: set[str] = set()
        n_ratings = _write_csv(partial_ratings, RATINGS_HEADER,
                               _tally_ratings(ratings, users, progress))
        os.replace(partial_items, items_path)
        os.replace(partial_ratings, ratings_path)
    finally:
        partial_items.unlink(missing_ok=True)
        partial_ratings.unlink(missing_ok=True)
    return ImportSummary(
        layout=layout,
        ratings_path=ratings_path,
        items_path=items_path,
        ratings=n_ratings,
        users=len(users),
        movies=len(item_rows),
        imdb_ids=sum(1 for row in item_rows if row[-1]),
    )


def _tally_ratings(
    ratings: Iterable[tuple[str, str, str, str]],
    users: set[str],
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[str, str, str, str]]:
    """Pass the ratings through, collecting the users and reporting progress."""
    pending = 0
    for rating in ratings:
        users.add(rating[0])
        yield rating
        pending += 1
        if progress and pending == _PROGRESS_EVERY:
            progress(pending)
            pending = 0
    if progress and pending:
        progress(pending)


def _write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[str]]) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _latest_ratings(src: Path) -> Iterator[tuple[str, str, str, str]]:
    path = src / "ratings.csv"
    rows, columns = _open_csv(path)
    _require(columns, ("USERID", "MOVIEID", "RATING", "TIMESTAMP"), path)
    positions = [columns[name] for name in ("USERID", "MOVIEID", "RATING", "TIMESTAMP")]
    for line, row in enumerate(rows, start=2):
        if row:
            yield _checked_rating(path, line, [row[i] for i in positions if i < len(row)])


def _ml100k_ratings(src: Path) -> Iterator[tuple[str, str, str, str]]:
    path = src / "u.data"
    with open(path, encoding="latin-1") as handle:
        for line, text in enumerate(handle, start=1):
            if text.strip():
                yield _checked_rating(path, line, text.split())


def _checked_rating(path: Path, line: int, fields: list[str]) -> tuple[str, str, str, str]:
    """USER_ID, ITEM_ID, RATING, TIMESTAMP, after checking the shapes Personalize needs."""
    if len(fields) != 4 or not all(fields) or not _is_number(fields[2]):
        raise DataFileError(f"{path}:{line}: expected user, movie, rating and timestamp")
    if not (fields[3].isascii() and fields[3].isdigit()):
        raise DataFileError(f"{path}:{line}: timestamp {fields[3]!r} is not Unix seconds")
    return fields[0], fields[1], fields[2], fields[3]


def _latest_movies(src: Path) -> Iterator[tuple[str, str, str, str, str]]:
    imdb_ids = _latest_imdb_ids(src / "links.csv")
    path = src / "movies.csv"
    rows, columns = _open_csv(path)
    _require(columns, ("MOVIEID", "TITLE", "GENRES"), path)
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        try:
            movie_id, title, genres = (row[columns[n]] for n in ("MOVIEID", "TITLE", "GENRES"))
        except IndexError:
            raise DataFileError(f"{path}:{line}: expected movieId, title and genres") from None
        yield _item_row(movie_id, title, genres.split("|"), imdb_ids.get(movie_id, ""))


def _latest_imdb_ids(path: Path) -> dict[str, str]:
    """movieId -> "tt0114709"; empty when the download has no links.csv."""
    if not path.is_file():
        return {}
    rows, columns = _open_csv(path)
    _require(columns, ("MOVIEID", "IMDBID"), path)
    imdb_ids = {}
    for line, row in enumerate(rows, start=2):
        movie_id, imdb = _cell(row, columns["MOVIEID"]), _cell(row, columns["IMDBID"])
        if not imdb:
            continue
        if not (imdb.isascii() and imdb.isdigit()):
            raise DataFileError(f"{path}:{line}: imdbId {imdb!r} is not a number")
        # Read as text: the leading zeros are part of the ID ("0114709").
        imdb_ids[movie_id] = "tt" + imdb.zfill(7)
    return imdb_ids


def _ml100k_movies(src: Path) -> Iterator[tuple[str, str, str, str, str]]:
    path = src / "u.item"
    # ml-100k predates UTF-8 in MovieLens: its titles are Latin-1.
    with open(path, encoding="latin-1") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            fields = text.rstrip("\r\n").split("|")
            flags = fields[5:]
            if len(fields) < 5 or len(flags) != len(ML100K_GENRES):
                raise DataFileError(f"{path}:{line}: expected 5 fields and 19 genre flags")
            marked = zip(ML100K_GENRES, flags, strict=True)
            genres = [genre for genre, flag in marked if flag.strip() == "1"]
            release = fields[2].strip()  # "01-Jan-1995": the year when the title lacks one
            fallback_year = release[-4:] if release[-4:].isdigit() else ""
            yield _item_row(fields[0], fields[1], genres, "", fallback_year)


def _item_row(
    movie_id: str, raw_title: str, genres: Iterable[str], imdb_id: str, fallback_year: str = ""
) -> tuple[str, str, str, str, str]:
    title, year = parse_title(raw_title)
    kept = "|".join(genre for genre in genres if genre and genre not in _NO_GENRES)
    return movie_id, title, str(year) if year else fallback_year, kept, imdb_id


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
