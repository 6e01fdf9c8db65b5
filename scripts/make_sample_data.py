"""Generate the shipped sample data: real films, synthetic ratings from a seeded taste model.

    python scripts/make_sample_data.py [--out data] [--seed 7] [--users 1000]

The films are data/items.csv, kept as data; the script writes them to OUT/items.csv beside
the ratings. The defaults reproduce the committed data/items.csv and data/ratings.csv byte for
byte.
Each synthetic user has one to three favourite genres and a couple of disliked ones; they
mostly watch (and rate highly) films in their favourite genres, with a long-tailed popularity
curve on top, so collaborative filtering has a clear taste signal to find.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent

GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)

# The film list is the shipped items file itself (ITEM_ID, TITLE, YEAR, GENRES): the ratings are
# drawn over it. Add films at the end, with the next ITEM_ID, so existing IDs stay stable.
FILMS_PATH = PROJECT_DIR / "data" / "items.csv"
DEFAULT_OUT = PROJECT_DIR / "data"
DEFAULT_SEED = 7
DEFAULT_USERS = 1000
FIRST_DAY = datetime(2015, 1, 1, tzinfo=timezone.utc)
LAST_DAY = datetime(2023, 12, 31, tzinfo=timezone.utc)
DAY = 86_400

# The taste model. Favourite genres add FAVOURITE to a user's liking of a film, disliked ones
# subtract DISLIKE; CHOICE_STRENGTH turns liking into how much more often such films are picked.
FAVOURITE = 2.0
DISLIKE = 1.5
CHOICE_STRENGTH = 2.2
POPULARITY_EXPONENT = 0.7  # Zipf-like: the k-th most popular film is watched ~1/k^0.7 as often
MEDIAN_RATINGS_PER_USER = 40
MIN_RATINGS_PER_USER = 8
MAX_RATINGS_PER_USER = 250


@dataclass(frozen=True)
class SampleMovie:
    item_id: str
    title: str
    year: int
    genres: tuple[str, ...]

    @property
    def available_from(self) -> int:
        """Unix time from which the film can be rated: 1 January after its release year."""
        return int(datetime(self.year + 1, 1, 1, tzinfo=timezone.utc).timestamp())


def sample_movies(path: Path = FILMS_PATH) -> list[SampleMovie]:
    """The films to rate, read with the app's own items reader."""
    _project_importable()
    from dataset import read_items

    movies = []
    for movie in read_items(path):
        if movie.year is None or not movie.genres:
            raise SystemExit(f"{path}: film {movie.item_id} needs a YEAR and GENRES")
        movies.append(SampleMovie(movie.item_id, movie.title, movie.year, movie.genres))
    return movies


def _project_importable() -> None:
    # Run as a script, only scripts/ is on sys.path; the dataset package is one level up.
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))


def generate_ratings(
    movies: Sequence[SampleMovie], n_users: int, seed: int
) -> list[tuple[str, str, str, int]]:
    """(USER_ID, ITEM_ID, RATING, TIMESTAMP) rows, sorted by user, time and item."""
    rng = np.random.default_rng(seed)
    genre_matrix = np.array(
        [[genre in movie.genres for genre in GENRES] for movie in movies], dtype=np.float64
    )
    quality = rng.normal(0.0, 0.4, len(movies))
    # Better films tend to be more popular, but not strictly.
    popularity_rank = np.argsort(np.argsort(-(quality + rng.normal(0.0, 0.8, len(movies)))))
    popularity = 1.0 / (popularity_rank + 5.0) ** POPULARITY_EXPONENT
    available_from = np.array([movie.available_from for movie in movies])

    rows = []
    for user in range(1, n_users + 1):
        liking = _liking(rng, genre_matrix)
        start, end = _activity_window(rng)
        weights = popularity * np.exp(CHOICE_STRENGTH * liking) * (available_from < end)
        count = _ratings_count(rng, int(np.count_nonzero(weights)))
        chosen = rng.choice(len(movies), size=count, replace=False, p=weights / weights.sum())
        bias = rng.normal(0.0, 0.3)
        noise = rng.normal(0.0, 0.55, count)
        stars = 2.9 + 0.75 * liking[chosen] + quality[chosen] + bias + noise
        stars = np.clip(np.round(stars * 2) / 2, 1.0, 5.0)  # half stars, as MovieLens
        earliest = np.maximum(start, available_from[chosen])
        times = earliest + (rng.random(count) * (end - earliest)).astype(np.int64)
        rows.extend(
            (str(user), movies[index].item_id, f"{rating:.1f}", int(time))
            for index, rating, time in zip(chosen, stars, times, strict=True)
        )
    rows.sort(key=lambda row: (int(row[0]), row[3], int(row[1])))
    return rows


def _liking(rng: np.random.Generator, genre_matrix: np.ndarray) -> np.ndarray:
    """How much one new user likes each film, from 1-3 favourite and 1-2 disliked genres."""
    preference = rng.normal(0.0, 0.3, len(GENRES))
    order = rng.permutation(len(GENRES))
    n_favourites = rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2])
    n_disliked = rng.choice([1, 2])
    preference[order[:n_favourites]] += FAVOURITE
    preference[order[n_favourites : n_favourites + n_disliked]] -= DISLIKE
    # A film is liked for its best genre, tempered by the rest of its genres.
    per_genre = np.where(genre_matrix > 0, preference, np.nan)
    return 0.6 * np.nanmax(per_genre, axis=1) + 0.4 * np.nanmean(per_genre, axis=1)


def _activity_window(rng: np.random.Generator) -> tuple[int, int]:
    """When one user was active: a few days to a few years inside 2015-2023."""
    first, last = int(FIRST_DAY.timestamp()), int(LAST_DAY.timestamp())
    length = int(np.clip(rng.exponential(365) * DAY, 7 * DAY, last - first))
    start = int(rng.integers(first, last - length + 1))
    return start, start + length


def _ratings_count(rng: np.random.Generator, available: int) -> int:
    count = round(rng.lognormal(np.log(MEDIAN_RATINGS_PER_USER), 0.8))
    return int(min(max(count, MIN_RATINGS_PER_USER), MAX_RATINGS_PER_USER, available))


def write_items(path: Path, movies: Sequence[SampleMovie]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("ITEM_ID", "TITLE", "YEAR", "GENRES"))
        for movie in movies:
            writer.writerow((movie.item_id, movie.title, movie.year, "|".join(movie.genres)))


def write_ratings(path: Path, rows: Sequence[tuple[str, str, str, int]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"))
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    args = parser.parse_args(argv)

    movies = sample_movies()
    rows = generate_ratings(movies, args.users, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_items(args.out / "items.csv", movies)
    write_ratings(args.out / "ratings.csv", rows)
    print(f"Wrote {len(movies)} films to {args.out / 'items.csv'} and {len(rows):,} ratings "
          f"by {args.users:,} users to {args.out / 'ratings.csv'}")

    return 0 if passes_validation(args.out / "ratings.csv") else 1


def passes_validation(path: Path) -> bool:
    """Run the app's Personalize validator on the written file, printing any problems."""
    _project_importable()
    from dataset import validate_interactions

    report = validate_interactions(path)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    return report.ok


if __name__ == "__main__":
    sys.exit(main())
