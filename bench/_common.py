"""Helpers shared by the bench scripts: import path, MovieLens conversion, timing."""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
MOVIELENS_SMALL = PROJECT.parent / "shared" / "data" / "ml-latest-small"

if str(PROJECT) not in sys.path:  # the scripts run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(PROJECT))


def movielens_ratings(movielens_dir: Path = MOVIELENS_SMALL) -> Path:
    """MovieLens ratings.csv rewritten in the workshop's columns, in a temporary directory.

    The MovieLens licence forbids redistribution, so the copy never lives in the project.
    """
    target = Path(tempfile.mkdtemp(prefix="movielens-")) / "ratings.csv"
    with (
        open(movielens_dir / "ratings.csv", newline="") as source,
        open(target, "w", newline="") as output,
    ):
        rows = csv.reader(source)
        header = next(rows)
        expected = ["userId", "movieId", "rating", "timestamp"]
        if header != expected:
            raise SystemExit(f"{movielens_dir}/ratings.csv: expected columns {expected}")
        writer = csv.writer(output)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        writer.writerows(rows)
    return target


def taste_ratings(
    rng: np.random.Generator, interactions: int, items: int, per_user: int = 100, tastes: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Synthetic (user, item, rating) codes and the number of users.

    Users with one of `tastes` tastes pick mostly items of their taste, popular ones more.
    """
    users = max(1, interactions // per_user)
    user_taste = rng.integers(tastes, size=users)
    item_taste = rng.integers(tastes, size=items)
    user = rng.integers(users, size=interactions)
    rank = rng.zipf(1.3, size=interactions) - 1  # a few items very popular, most rarely rated
    own_taste = rng.random(interactions) < 0.8
    item = rank % items
    for taste in range(tastes):
        chosen = own_taste & (user_taste[user] == taste)
        pool = np.flatnonzero(item_taste == taste)
        item[chosen] = pool[rank[chosen] % len(pool)]
    rating = np.clip(np.where(own_taste, 4, 2) + rng.integers(-1, 2, size=interactions), 1, 5)
    return user, item, rating, users
