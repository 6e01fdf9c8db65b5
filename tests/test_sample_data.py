"""The shipped sample data: reproducible from its script, valid for Personalize, and tasteful."""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from dataset import Catalog, Interactions, read_interactions, validate_interactions

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
MAJOR_GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Drama", "Fantasy",
    "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
MOVIELENS_GENRES = {*MAJOR_GENRES, "Documentary", "Film-Noir"}


def load_script() -> ModuleType:
    path = PROJECT_DIR / "scripts" / "make_sample_data.py"
    spec = importlib.util.spec_from_file_location("make_sample_data", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the script is executing.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    assert load_script().main(["--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def ratings() -> Interactions:
    return read_interactions(DATA_DIR / "ratings.csv")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_csv(DATA_DIR / "items.csv")


@pytest.mark.parametrize("name", ["items.csv", "ratings.csv"])
def test_script_reproduces_the_committed_file_byte_for_byte(regenerated: Path, name: str):
    assert (regenerated / name).read_bytes() == (DATA_DIR / name).read_bytes()


def test_script_options_set_the_users_and_the_seed(tmp_path: Path):
    script = load_script()
    for seed in ("1", "2"):
        assert script.main(["--out", str(tmp_path / seed), "--users", "60", "--seed", seed]) == 0
    first, second = (read_interactions(tmp_path / seed / "ratings.csv") for seed in ("1", "2"))
    assert first.n_users == second.n_users == 60
    assert first.fingerprint != second.fingerprint


def test_script_fails_when_its_output_would_not_pass_validation(tmp_path: Path):
    assert load_script().main(["--out", str(tmp_path), "--users", "10"]) == 1


def test_sample_is_big_enough_for_personalize(ratings: Interactions, catalog: Catalog):
    assert ratings.n_users >= 1000 and len(ratings) >= 50_000 and len(catalog) >= 300
    report = validate_interactions(DATA_DIR / "ratings.csv")
    assert report.ok, [str(problem) for problem in report.problems]


def test_every_rated_film_is_in_the_catalogue(ratings: Interactions, catalog: Catalog):
    assert set(ratings.item_ids) <= {movie.item_id for movie in catalog}


def test_catalogue_has_years_and_movielens_genres(catalog: Catalog):
    movies = list(catalog)
    assert all(movie.year and 1900 < movie.year <= 2023 for movie in movies)
    assert all(movie.genres and set(movie.genres) <= MOVIELENS_GENRES for movie in movies)
    assert all(movie.imdb_id is None for movie in movies)  # never invented
    assert len({(movie.title, movie.year) for movie in movies}) == len(movies)
    for genre in MAJOR_GENRES:
        assert sum(genre in movie.genres for movie in movies) >= 15, genre


def test_ratings_are_half_stars_from_one_to_five(ratings: Interactions):
    assert set(np.unique(ratings.ratings).tolist()) <= {n / 2 for n in range(2, 11)}


def test_films_are_rated_after_release_within_2015_to_2023(
    ratings: Interactions, catalog: Catalog
):
    years = [datetime.fromtimestamp(int(t), timezone.utc).year for t in ratings.timestamps]
    assert 2015 <= min(years) and max(years) <= 2023
    released = np.array([catalog.get(item_id).year for item_id in ratings.item_ids])
    assert (np.array(years) > released[ratings.items]).all()


def test_users_rate_their_favourite_genre_higher(ratings: Interactions, catalog: Catalog):
    """A user's most over-represented genre (vs all ratings) gets their higher ratings."""
    genres = catalog.genres
    in_genre = np.array(
        [[genre in catalog.get(item_id).genres for genre in genres] for item_id in ratings.item_ids]
    )[ratings.items]  # one row per rating
    base_rate = in_genre.mean(axis=0)
    differences = []
    for user_id in ratings.user_ids:
        rows = ratings.rows_of(user_id)
        favourite = np.argmax(in_genre[rows].mean(axis=0) / base_rate)
        liked = in_genre[rows, favourite]
        if liked.all():
            continue
        stars = ratings.ratings[rows]
        differences.append(stars[liked].mean() - stars[~liked].mean())
    differences = np.array(differences)
    assert len(differences) > 900
    assert differences.mean() > 0.3  # about half a star in the committed data
    assert (differences > 0).mean() > 0.8
