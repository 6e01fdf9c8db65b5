"""Importing a MovieLens download into this app's ratings.csv and items.csv."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dataset.csvfiles import DataFileError, cell_text, is_number, open_csv, require_columns
from dataset.items import parse_title
from files import atomic_write

# ml-100k's u.item genre flags, in file order, named as the newer MovieLens files name them.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
RATINGS_HEADER = ("USER_ID", "ITEM_ID", "RATING", "TIMESTAMP")
ITEMS_HEADER = ("ITEM_ID", "TITLE", "YEAR", "GENRES", "IMDB_ID")
_NO_GENRES = {"(no genres listed)", "unknown"}
_GENRE_RENAMES = {"Children's": "Children"}  # ml-1m's spelling, as the newer files spell it
_PROGRESS_EVERY = 100_000


@dataclass(frozen=True)
class ImportSummary:
    # "ml-latest" (ratings.csv, movies.csv, links.csv), "ml-1m" or "ml-10m" (ratings.dat,
    # movies.dat), or "ml-100k" (u.data, u.item)
    layout: str
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

    Understands ml-latest / ml-latest-small / ml-25m (ratings.csv, movies.csv, links.csv),
    ml-1m and ml-10m (ratings.dat, movies.dat) and ml-100k (u.data, u.item). `progress` is
    called with the number of ratings written since its last call. Existing outputs are replaced
    only with `force`.
    """
    src, out = Path(src_dir), Path(out_dir)
    if (src / "ratings.csv").is_file() and (src / "movies.csv").is_file():
        layout, ratings, movies = "ml-latest", _latest_ratings(src), _latest_movies(src)
    elif (src / "ratings.dat").is_file() and (src / "movies.dat").is_file():
        layout = "ml-1m" if (src / "users.dat").is_file() else "ml-10m"
        ratings, movies = _dat_ratings(src), _dat_movies(src)
    elif (src / "u.data").is_file() and (src / "u.item").is_file():
        layout, ratings, movies = "ml-100k", _ml100k_ratings(src), _ml100k_movies(src)
    else:
        raise DataFileError(
            f"{src}: not a MovieLens directory; expected ratings.csv and movies.csv "
            "(ml-latest-small, ml-25m), ratings.dat and movies.dat (ml-1m, ml-10m) or u.data and "
            "u.item (ml-100k)"
        )
    ratings_path, items_path = out / "ratings.csv", out / "items.csv"
    existing = [str(path) for path in (ratings_path, items_path) if path.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise DataFileError(f"{' and '.join(existing)} already {verb}; use --force to replace")
    out.mkdir(parents=True, exist_ok=True)

    # Both files are written beside their targets and moved into place only when both are
    # complete, so a failed import leaves the previous pair untouched.
    with (
        atomic_write(ratings_path, newline="", encoding="utf-8") as ratings_file,
        atomic_write(items_path, newline="", encoding="utf-8") as items_file,
    ):
        item_rows = list(movies)  # tens of thousands at most, unlike the ratings
        _write_csv(items_file, ITEMS_HEADER, item_rows)
        users: set[str] = set()
        n_ratings = _write_csv(ratings_file, RATINGS_HEADER,
                               _tally_ratings(ratings, users, progress))
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


def _write_csv(handle: IO[str], header: Iterable[str], rows: Iterable[Iterable[str]]) -> int:
    count = 0
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def _latest_ratings(src: Path) -> Iterator[tuple[str, str, str, str]]:
    path = src / "ratings.csv"
    rows, columns = open_csv(path)
    require_columns(columns, ("USERID", "MOVIEID", "RATING", "TIMESTAMP"), path)
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


def _dat_ratings(src: Path) -> Iterator[tuple[str, str, str, str]]:
    """ml-1m and ml-10m: UserID::MovieID::Rating::Timestamp."""
    path = src / "ratings.dat"
    with open(path, encoding=_encoding(path)) as handle:
        for line, text in enumerate(handle, start=1):
            if text.strip():
                yield _checked_rating(path, line, text.strip().split("::"))


def _checked_rating(path: Path, line: int, fields: list[str]) -> tuple[str, str, str, str]:
    """USER_ID, ITEM_ID, RATING, TIMESTAMP, after checking the shapes Personalize needs."""
    if len(fields) != 4 or not all(fields) or not is_number(fields[2]):
        raise DataFileError(f"{path}:{line}: expected user, movie, rating and timestamp")
    if not (fields[3].isascii() and fields[3].isdigit()):
        raise DataFileError(f"{path}:{line}: timestamp {fields[3]!r} is not Unix seconds")
    return fields[0], fields[1], fields[2], fields[3]


def _latest_movies(src: Path) -> Iterator[tuple[str, str, str, str, str]]:
    imdb_ids = _latest_imdb_ids(src / "links.csv")
    path = src / "movies.csv"
    rows, columns = open_csv(path)
    require_columns(columns, ("MOVIEID", "TITLE", "GENRES"), path)
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
    rows, columns = open_csv(path)
    require_columns(columns, ("MOVIEID", "IMDBID"), path)
    imdb_ids = {}
    for line, row in enumerate(rows, start=2):
        movie_id = cell_text(row, columns["MOVIEID"])
        imdb = cell_text(row, columns["IMDBID"])
        if not imdb:
            continue
        if not (imdb.isascii() and imdb.isdigit()):
            raise DataFileError(f"{path}:{line}: imdbId {imdb!r} is not a number")
        # Read as text: the leading zeros are part of the ID ("0114709").
        imdb_ids[movie_id] = "tt" + imdb.zfill(7)
    return imdb_ids


def _dat_movies(src: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """ml-1m and ml-10m: MovieID::Title::Genres, in Latin-1 (ml-1m) or UTF-8 (ml-10m)."""
    path = src / "movies.dat"
    with open(path, encoding=_encoding(path)) as handle:
        for line, text in enumerate(handle, start=1):
            fields = text.rstrip("\r\n").split("::")
            if fields == [""]:
                continue
            if len(fields) < 3:
                raise DataFileError(f"{path}:{line}: expected MovieID::Title::Genres")
            title = "::".join(fields[1:-1])  # "::" is the separator, not expected in a title
            genres = (_GENRE_RENAMES.get(genre, genre) for genre in fields[-1].split("|"))
            yield _item_row(fields[0], title, genres, "")


def _encoding(path: Path) -> str:
    """UTF-8 when the whole file decodes as UTF-8, else Latin-1, which decodes any bytes."""
    # MovieLens does not say: ml-1m's titles are Latin-1, ml-10m's UTF-8.
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        try:
            for block in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


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
