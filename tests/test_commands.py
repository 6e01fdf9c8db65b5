"""The CLI: usage errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from engine import RECIPES, model_path

HEADER = "USER_ID,ITEM_ID,RATING,TIMESTAMP"


def write_ratings(path: Path, users: int, per_user: int) -> Path:
    """A file Personalize accepts when users x per_user >= 1,000 and users >= 25."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"u{user},m{(user * 7 + n) % 97},{1 + (user + n) % 5}.0,{1_500_000_000 + user * 1000 + n}"
        for user in range(1, users + 1)
        for n in range(per_user)
    ]
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    ratings = write_ratings(tmp_path / "ratings.csv", users=30, per_user=40)
    return create_app({"SECRET_KEY": "test", "RATINGS_PATH": str(ratings)},
                      instance_path=str(tmp_path / "instance"))


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


# --- flask train --recipe ------------------------------------------------------------------


def test_train_with_an_unknown_recipe_is_a_usage_error_listing_the_recipes(app: Flask):
    result = run(app, "train", "--recipe", "nope")
    assert result.exit_code == 2
    assert "Invalid value for '--recipe': 'nope' is not one of" in result.output
    assert all(repr(recipe) in result.output for recipe in RECIPES)
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_train_accepts_personalizes_spelling_of_a_recipe(app: Flask):
    result = run(app, "train", "--recipe", "aws-popularity-count")
    assert result.exit_code == 0, result.output
    assert model_path(app.instance_path, "popularity-count").exists()
