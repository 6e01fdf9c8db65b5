"""Helpers shared by the bench scripts: import path, MovieLens conversion, timing."""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

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
