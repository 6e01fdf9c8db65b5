"""The items catalogue: `Movie`, `Catalog` and reading items.csv.

Items follow Amazon Personalize's CSV shape: ITEM_ID, TITLE, YEAR, GENRES (`|`-separated),
optional IMDB_ID. An ITEM_ID missing from the file is titled from the ID itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from dataset.csvfiles import DataFileError, cell_text, open_csv, require_columns

# "Matrix, The (1999)" -> title "Matrix, The", year 1999 (MovieLens and the workshop's file).
_TITLE_WITH_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
# A trailing article moved behind a comma, optionally followed by an alternative title.
_TRAILING_ARTICLE = re.compile(
    r"^(?P<main>.+?), (?P<article>The|A|An|Les|La|Le|L'|Il|Die|Der|Das|El|Los|Las)"
    r"(?P<alt>\s*\(.*\))?$"
)


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
