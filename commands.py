"""The `flask data validate|import-movielens`, `train`, `evaluate`, `recommend`, `ratings` and
`tokens` commands.

(`flask personalize …` is in provisioning/cli.py.) The commands parse options, call the data,
engine and evaluation modules, and print; they hold no domain logic.

One rule finds the data files, for these commands, the personalize ones and the app alike: a
path typed on the command line is taken as typed (relative to the working directory, as for
any command-line tool); RATINGS_PATH and ITEMS_PATH are relative to the project
(`config.resolve_path`), wherever the command is run from.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from tqdm import tqdm

import batch
from access import new_token
from config import TOKEN_NAME, defaults, model_dir, model_params, resolve_path
from dataset import (
    DataFileError,
    Interactions,
    import_movielens,
    read_interactions,
    validate_interactions,
)
from inputs import MAX_RESULTS
from metrics_cache import save_evaluation
from recommender.base import EmbeddedRecommender
from recommender.evaluation import HOLDOUT_FRACTION, LIST_LENGTH, evaluate_interactions
from recommender.interface import RecommenderUnavailable
from recommender.metrics import OFFLINE_METRICS, TIMINGS, Figure, metrics_table
from recommender.model_files import model_path
from recommender.recipes import DEFAULT_RECIPE, RECIPES, normalize_recipe
from wiring import current_wiring

DATA_DIR = "data"  # where `data import-movielens` writes by default, inside the project


def setting_path(name: str) -> Path:
    """The file a path setting (RATINGS_PATH, ITEMS_PATH) names, relative to the project."""
    # An app built without the settings (a bare Flask app in tests) gets the defaults.
    return resolve_path(current_app.config.get(name) or defaults()[name])


def ratings_file(given: str | Path | None) -> Path:
    """The ratings file a command reads: the one given on the command line, else RATINGS_PATH."""
    return Path(given) if given else setting_path("RATINGS_PATH")


def _read_ratings(path: Path) -> Interactions:
    try:
        return read_interactions(path)
    except (OSError, DataFileError) as error:
        raise click.ClickException(str(error)) from error


# --- flask data ------------------------------------------------------------------------------

data_cli = AppGroup("data", help="Check and prepare the ratings and items files.")


@data_cli.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def validate_command(path: Path | None) -> None:
    """Check a ratings file (default: RATINGS_PATH) against Amazon Personalize's import rules."""
    path = ratings_file(path)
    if not path.is_file():
        raise click.ClickException(f"{path}: no such file")
    report = validate_interactions(path)
    for problem in report.problems:
        click.echo(str(problem))
    if report.unlisted_problems:
        click.echo(f"… and {report.unlisted_problems:,} more problems")
    rejected = f"; {report.rejected:,} rows rejected" if report.rejected else ""
    click.echo(f"{path}: {report.accepted:,} interactions, {report.users:,} users, "
               f"{report.items:,} items{rejected}")
    if not report.ok:
        click.echo(f"FAILED: {report.problem_count:,} problem(s); Amazon Personalize would "
                   "reject this file.", err=True)
        raise SystemExit(1)
    click.echo("OK: the file meets Amazon Personalize's import rules.")


@data_cli.command("import-movielens")
@click.argument("src_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help=f"Directory to write ratings.csv and items.csv into [default: the project's "
                   f"{DATA_DIR}/].")
@click.option("--force", is_flag=True, help="Replace existing ratings.csv and items.csv.")
def import_movielens_command(src_dir: Path, out_dir: Path | None, force: bool) -> None:
    """Convert a MovieLens download (ml-latest-small, ml-25m, ml-1m, ml-10m, ml-100k) into this
    app's files."""
    out_dir = out_dir or resolve_path(DATA_DIR)
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


# --- flask train -----------------------------------------------------------------------------


class RecipeChoice(click.Choice):
    """The engine's recipes; Personalize's spellings ("aws-sims", a recipe ARN) are accepted."""

    def __init__(self) -> None:
        super().__init__(RECIPES)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return normalize_recipe(value)
        except ValueError:
            return super().convert(value, param, ctx)  # a usage error listing the recipes


@click.command("train")
@click.option("--recipe", type=RecipeChoice(), default=None,
              help="Recipe to train (default: the RECIPE setting).")
@with_appcontext
def train_command(recipe: str | None) -> None:
    """Train the embedded recommender on RATINGS_PATH plus the ratings made in the app, and save
    it in MODEL_DIR (or instance/); a running app switches to it within MODEL_CHECK_SECONDS."""
    recipe = recipe or normalize_recipe(current_app.config.get("RECIPE") or DEFAULT_RECIPE)
    path = ratings_file(None)
    click.echo(f"Reading {path} …")
    interactions = _read_ratings(path)
    app_ratings = _app_ratings()
    click.echo(
        f"Training {recipe} on {len(interactions):,} interactions "
        f"({interactions.n_users:,} users, {interactions.n_items:,} items) and "
        f"{len(app_ratings):,} ratings made in the app"
    )
    model = EmbeddedRecommender.train(
        interactions, recipe=recipe, params=model_params(current_app.config), progress=True,
        app_ratings=app_ratings,
    )
    saved = model_path(model_dir(current_app.config, current_app.instance_path), recipe)
    model.save(saved)  # atomically: a running app reads the old file or the new, never half
    click.echo(f"Saved {saved} (trained in {model.train_seconds:.1f} s)")


def _app_ratings() -> list[tuple[str, str, float, int]]:
    """Every rating made in the app (none in an app without the wiring, as some tests make)."""
    wiring = current_app.extensions.get("movies")
    if wiring is None:
        return []
    try:
        return wiring.store.all()
    except RecommenderUnavailable as problem:  # e.g. DATABASE_URL's server is down
        raise click.ClickException(problem.reason) from None


# --- flask evaluate --------------------------------------------------------------------------


@click.command("evaluate")
@click.option("--ratings", "ratings_path", type=click.Path(dir_okay=False), default=None,
              help="Ratings file (default: the RATINGS_PATH setting).")
@click.option("--recipe", default="all", show_default=True, type=click.Choice([*RECIPES, "all"]),
              help="Recipe to evaluate, or all of them.")
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1),
              help="Random held-out splits to average over.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@with_appcontext
def evaluate_command(ratings_path: str | None, recipe: str, seeds: int, as_json: bool) -> None:
    """Offline metrics with Amazon Personalize's protocol (10% of users held out)."""
    path = ratings_file(ratings_path)
    recipes = list(RECIPES) if recipe == "all" else [recipe]
    interactions = _read_ratings(path)
    params = dict.fromkeys(recipes, model_params(current_app.config))
    results = evaluate_interactions(interactions, recipes, seeds, params, progress=not as_json)
    if path == setting_path("RATINGS_PATH"):  # figures for the data the app serves: /compare
        save_evaluation(current_app.instance_path, current_app.config.get("RATINGS_PATH") or
                        defaults()["RATINGS_PATH"], interactions.fingerprint, seeds, results)
    if as_json:
        click.echo(json.dumps(results, indent=2))
        return
    spread = "1 seed" if seeds == 1 else f"{seeds} seeds, mean ± std"
    click.echo(
        f"{path}: {len(interactions):,} interactions, {interactions.n_users:,} users, "
        f"{interactions.n_items:,} items; {spread}, "
        f"{HOLDOUT_FRACTION:.0%} of users held out, lists of {LIST_LENGTH}"
    )
    click.echo(format_table(results, seeds))


def format_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], seeds: int) -> str:
    """Recipes side by side, one row per figure: "mean ± std", or the value for one seed."""
    # One split has no spread to show: a "± 0.0000" would claim a certainty it does not have.
    columns: dict[str, dict[str, Figure]] = {
        recipe: {
            name: figure["mean"] if seeds == 1 else (figure["mean"], figure["std"])
            for name, figure in figures.items()
        }
        for recipe, figures in results.items()
    }
    first = next(iter(results.values()))
    return metrics_table(columns, [name for name in (*OFFLINE_METRICS, *TIMINGS) if name in first])


# --- flask recommend -------------------------------------------------------------------------


@click.command("recommend")
@click.option("--users", "users_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='User IDs: one per line, or Personalize\'s {"userId": "…"} lines.')
@click.option("--all", "every_user", is_flag=True, help="Every user in the ratings (file + app).")
@click.option("--n", "count", type=click.IntRange(1, MAX_RESULTS), default=batch.DEFAULT_COUNT,
              show_default=True, help="Recommendations per user.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="JSON-lines file to write (replaced when the run completes); default stdout.")
@with_appcontext
def recommend_command(users_file: Path | None, every_user: bool, count: int,
                      out: Path | None) -> None:
    """Recommendations for many users, in Personalize's batch-inference output format."""
    if (users_file is None) == (not every_user):
        raise click.UsageError("Give either --users FILE or --all.")
    services = current_wiring().services
    try:
        _ = services.recommender  # a backend that cannot start fails the run, not every line
        entries = (batch.read_users_file(users_file) if users_file is not None
                   else batch.inputs_for(batch.all_user_ids(services)))
    except RecommenderUnavailable as problem:
        raise click.ClickException(f"{problem.reason} {problem.hint}".strip()) from None
    except OSError as error:
        raise click.ClickException(f"{users_file}: {error.strerror or error}") from None
    if not entries:
        raise click.ClickException("No users to recommend for.")
    records = (batch.recommend_line(services, entry, count)
               for entry in tqdm(entries, unit=" users", leave=False))
    try:
        tally = batch.write_records(records, out, sys.stdout)
    except OSError as error:
        raise click.ClickException(f"{out}: {error.strerror or error}") from None
    click.echo(tally.summary(out), err=out is None)  # stdout may be the recommendations


# --- flask ratings ---------------------------------------------------------------------------

ratings_cli = AppGroup("ratings", help="Ratings made in the app.")
EXPORT_COLUMNS = ("USER_ID", "ITEM_ID", "RATING", "TIMESTAMP")


class SinceType(click.ParamType):
    """Unix seconds, or an ISO 8601 date or time (UTC unless it names a zone)."""

    name = "SECONDS|DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            self.fail("expected Unix seconds (1700000000) or a date such as 2024-05-01", param, ctx)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return int(when.timestamp())


@ratings_cli.command("export")
@click.option("--since", type=SinceType(), default=None,
              help="Only ratings made at or after this time (Unix seconds or an ISO date).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write [default: standard output].")
@click.option("--with-source", is_flag=True,
              help="Add a SOURCE column (who made each rating); not for a Personalize import.")
@with_appcontext
def export_command(since: int | None, out_path: Path | None, with_source: bool) -> None:
    """Write ratings made in the app as CSV in the interactions file's columns.

    The output passes `flask data validate` and imports into Amazon Personalize as it is.
    """
    from wiring import current_wiring  # builds the store only, never the model

    try:
        rows = current_wiring().store.export(since)
    except RecommenderUnavailable as problem:
        raise click.ClickException(f"{problem.reason} {problem.hint}") from None
    # User IDs hold no line breaks (inputs.py), so text mode cannot split a field.
    with click.open_file(str(out_path or "-"), "w", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*EXPORT_COLUMNS, *(["SOURCE"] if with_source else [])])
        for user_id, item_id, rating, timestamp, source in rows:
            row = [user_id, item_id, f"{rating:g}", timestamp]
            writer.writerow([*row, source or ""] if with_source else row)
    if out_path is not None:
        click.echo(f"Wrote {len(rows):,} ratings to {out_path}", err=True)


# --- flask tokens ----------------------------------------------------------------------------

tokens_cli = AppGroup("tokens", help="API tokens for writing through the JSON API.")


@tokens_cli.command("new")
@click.argument("name")
def new_token_command(name: str) -> None:
    """Make a random token for NAME, and the API_TOKENS entry that lets it in."""
    if not TOKEN_NAME.match(name):
        raise click.BadParameter("use 1-64 letters, digits, '.', '_' or '-'", param_hint="NAME")
    token, digest = new_token()
    click.echo(f"Token for {name} (give it to its user; it is not stored and not shown again):")
    click.echo(f"  {token}")
    click.echo("Add this entry to API_TOKENS (entries are separated by commas):")
    click.echo(f"  {name}:{digest}")
