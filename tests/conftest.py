"""Fixtures shared by the web tests: small data files and an app built on them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app import create_app

# Two tastes the recommender should tell apart: horror fans and comedy fans.
HORROR = [
    ("h1", "Alien", 1979), ("h2", "Halloween", 1978), ("h3", "The Shining", 1980),
    ("h4", "Psycho", 1960), ("h5", "The Thing", 1982), ("h6", "Scream", 1996),
]
COMEDY = [
    ("c1", "Airplane!", 1980), ("c2", "Groundhog Day", 1993), ("c3", "The Big Lebowski", 1998),
    ("c4", "Annie Hall", 1977), ("c5", "Some Like It Hot", 1959), ("c6", "Tootsie", 1982),
]


def write_small_data(folder: Path) -> tuple[Path, Path]:
    """40 users: 0-19 watch horror, 20-39 comedy; each skips a different film of their genre."""
    ratings, items = folder / "ratings.csv", folder / "items.csv"
    with items.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ITEM_ID", "TITLE", "YEAR", "GENRES"])
        for genre, films in (("Horror", HORROR), ("Comedy", COMEDY)):
            for item_id, title, year in films:
                writer.writerow([item_id, title, year, genre])
    with ratings.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        for user in range(40):
            films = HORROR if user < 20 else COMEDY
            for position, (item_id, _title, _year) in enumerate(films):
                if position != user % len(films):
                    when = 1_600_000_000 + position
                    writer.writerow([str(user), item_id, 4 + position % 2, when])
        # One comedy a horror fan once tried, so popularity is not a tie everywhere.
        writer.writerow(["0", "c1", 2, 1_600_000_100])
    return ratings, items


@pytest.fixture
def data_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_small_data(tmp_path)


@pytest.fixture
def make_app(tmp_path: Path, data_files):
    """Build an app on the small data; keyword arguments become services or settings."""

    def build(settings: dict | None = None, **services):
        ratings, items = data_files
        config = {"RATINGS_PATH": str(ratings), "ITEMS_PATH": str(items), "SECRET_KEY": "test"}
        config.update(settings or {})
        return create_app(config, instance_path=str(tmp_path / "instance"), **services)

    return build


@pytest.fixture
def client(make_app):
    return make_app().test_client()
