"""The CLI: usage errors instead of tracebacks, and one rule for finding the data files.

The rule: RATINGS_PATH (and ITEMS_PATH) is relative to the project, wherever a command is run
from; a path typed on the command line is relative to the working directory.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

import config
from app import create_app
from metrics_cache import read_evaluation
from provisioning.cli import EXTENSION_KEY, ProvisioningHooks
from provisioning.errors import ProvisionError
from provisioning.provisioner import Provisioner
from provisioning.resources import AwsClients
from recommender.model_files import model_path
from recommender.recipes import RECIPES

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
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with the sample at the default RATINGS_PATH, data/ratings.csv."""
    folder = tmp_path / "project"
    write_ratings(folder / "data" / "ratings.csv", users=30, per_user=40)  # 1,200 ratings
    monkeypatch.setattr(config, "PROJECT_DIR", folder)
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory: another folder, with a data/ratings.csv of its own (1,250)."""
    folder = tmp_path / "elsewhere"
    write_ratings(folder / "data" / "ratings.csv", users=50, per_user=25)
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def app(project: Path, tmp_path: Path) -> Flask:
    app = create_app({"SECRET_KEY": "test"}, instance_path=str(tmp_path / "instance"))
    app.extensions[EXTENSION_KEY] = ProvisioningHooks(clients=_offline_clients)
    return app


def _offline_clients(region: str | None) -> AwsClients:
    """Enough of AWS for deploy to read and check the ratings; its first AWS call stops it."""

    def get_caller_identity() -> dict[str, Any]:
        raise ProvisionError("offline: stopped after reading the ratings")

    personalize = SimpleNamespace(meta=SimpleNamespace(region_name=region or "eu-west-1"))
    return AwsClients(s3=None, iam=None, sts=SimpleNamespace(
        get_caller_identity=get_caller_identity), personalize=personalize)


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


# --- flask train --recipe ------------------------------------------------------------------


def test_train_with_an_unknown_recipe_is_a_usage_error_listing_the_recipes(app: Flask):
    result = run(app, "train", "--recipe", "nope")
    assert result.exit_code == 2
    assert "Invalid value for '--recipe': 'nope' is not one of" in result.output
    assert all(repr(recipe) in result.output for recipe in RECIPES)
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_train_accepts_personalizes_spelling_of_a_recipe(app: Flask, elsewhere: Path):
    result = run(app, "train", "--recipe", "aws-popularity-count")
    assert result.exit_code == 0, result.output
    assert model_path(app.instance_path, "popularity-count").exists()


# --- one rule for finding the ratings file ---------------------------------------------------


def test_every_command_reads_ratings_path_relative_to_the_project(
    app: Flask, project: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
):
    ratings = project / "data" / "ratings.csv"
    evaluated: list[str] = []  # what `personalize metrics` evaluates the embedded engine on
    monkeypatch.setattr(Provisioner, "solution_metrics", lambda self, prefix: ("arn", {}))
    monkeypatch.setitem(sys.modules, "recommender.evaluation", types.SimpleNamespace(
        evaluate_embedded=lambda path: evaluated.append(path) or {}))

    outputs = {
        "data validate": run(app, "data", "validate"),
        "train": run(app, "train", "--recipe", "popularity-count"),
        "evaluate": run(app, "evaluate", "--recipe", "popularity-count", "--seeds", "1"),
        "personalize deploy": run(app, "personalize", "deploy", "--dry-run"),
        "personalize metrics": run(app, "personalize", "metrics"),
    }

    said = {
        "data validate": f"{ratings}: 1,200 interactions",
        "train": f"Reading {ratings} …\nTraining popularity-count on 1,200 interactions",
        "evaluate": f"{ratings}: 1,200 interactions",
        "personalize deploy": f"{ratings}: valid; 1,200 interactions to upload",
        "personalize metrics": f"evaluating the embedded engine on {ratings} ",
    }
    assert [name for name, text in said.items() if text not in outputs[name].stdout] == []
    assert evaluated == [str(ratings)]
    assert "offline: stopped after reading the ratings" in outputs["personalize deploy"].output
    failed = [name for name, result in outputs.items() if result.exit_code != 0]
    assert failed == ["personalize deploy"]  # stopped by the offline AWS, as intended


def test_a_path_typed_on_the_command_line_is_relative_to_the_working_directory(
    app: Flask, elsewhere: Path
):
    typed = Path("data") / "ratings.csv"
    validate = run(app, "data", "validate", str(typed))
    assert validate.exit_code == 0, validate.output
    assert f"{typed}: 1,250 interactions" in validate.stdout

    evaluate = run(app, "evaluate", "--ratings", str(typed), "--recipe", "popularity-count",
                   "--seeds", "1")
    assert evaluate.exit_code == 0, evaluate.output
    assert f"{typed}: 1,250 interactions" in evaluate.stdout


def test_import_movielens_writes_into_the_projects_data_folder_by_default(
    app: Flask, project: Path, elsewhere: Path, tmp_path: Path
):
    source = tmp_path / "ml-latest-small"
    source.mkdir()
    (source / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action|Crime\n")
    (source / "ratings.csv").write_text("userId,movieId,rating,timestamp\n7,1,4.5,964982703\n")

    result = run(app, "data", "import-movielens", str(source), "--force")

    assert result.exit_code == 0, result.output
    assert f"to {project / 'data' / 'ratings.csv'}" in result.stdout
    assert (project / "data" / "ratings.csv").read_text().splitlines()[1] == "7,1,4.5,964982703"
    assert (elsewhere / "data" / "ratings.csv").read_text().count("\n") == 1251  # untouched


# --- figures kept for the compare page -------------------------------------------------------


def test_evaluate_keeps_its_figures_for_the_compare_page_only_for_the_apps_ratings(
    app: Flask, project: Path, elsewhere: Path
):
    typed = Path("data") / "ratings.csv"  # the working directory's: not what the app serves
    run(app, "evaluate", "--ratings", str(typed), "--recipe", "popularity-count", "--seeds", "1")
    assert read_evaluation(app.instance_path) is None

    result = run(app, "evaluate", "--recipe", "popularity-count", "--seeds", "1")

    assert result.exit_code == 0, result.output
    cached = read_evaluation(app.instance_path)
    assert cached["ratings"] == "data/ratings.csv" and cached["seeds"] == 1
    assert set(cached["results"]) == {"popularity-count"}
    assert "precision_at_10" in cached["results"]["popularity-count"]
