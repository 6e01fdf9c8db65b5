"""The `flask data validate|import-movielens`, `flask train` and `flask evaluate` commands.

(`flask personalize …` is in provisioning/cli.py.) The commands parse options, call the data,
engine and evaluation modules, and print; they hold no domain logic.

One rule finds the data files, for these commands, the personalize ones and the app alike: a
path typed on the command line is taken as typed (relative to the working directory, as for
any command-line tool); RATINGS_PATH and ITEMS_PATH are relative to the project
(`config.resolve_path`), wherever the command is run from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from tqdm import tqdm

from config import defaults, model_dir, resolve_path
from dataset import (
    DataFileError,
    Interactions,
    import_movielens,
    read_interactions,
    validate_interactions,
)
from engine import DEFAULT_RECIPE, RECIPES, EmbeddedRecommender, model_path, normalize_recipe
from evaluate import HOLDOUT_FRACTION, LIST_LENGTH, METRICS, TIMINGS, evaluate_interactions

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
    """Train the embedded recommender on RATINGS_PATH and save it in MODEL_DIR (or instance/)."""
    recipe = recipe or normalize_recipe(current_app.config.get("RECIPE") or DEFAULT_RECIPE)
    path = ratings_file(None)
    click.echo(f"Reading {path} …")
    interactions = _read_ratings(path)
    click.echo(
        f"Training {recipe} on {len(interactions):,} interactions "
        f"({interactions.n_users:,} users, {interactions.n_items:,} items)"
    )
    model = EmbeddedRecommender.train(interactions, recipe=recipe, progress=True)
    saved = model_path(model_dir(current_app.config, current_app.instance_path), recipe)
    model.save(saved)
    click.echo(f"Saved {saved} (trained in {model.train_seconds:.1f} s)")


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
    results = evaluate_interactions(interactions, recipes, seeds, progress=not as_json)
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
    recipes = list(results)
    names = [name for name in (*METRICS, *TIMINGS) if name in results[recipes[0]]]
    width = max(len(name) for name in names)
    cells = {
        recipe: [_cell(results[recipe][name], name, seeds) for name in names]
        for recipe in recipes
    }
    widths = {recipe: max(len(recipe), *map(len, cells[recipe])) for recipe in recipes}
    lines = ["  ".join([" " * width, *(recipe.rjust(widths[recipe]) for recipe in recipes)])]
    for row, name in enumerate(names):
        values = (cells[recipe][row].rjust(widths[recipe]) for recipe in recipes)
        lines.append("  ".join([name.ljust(width), *values]))
    return "\n".join(lines)


def _cell(figure: Mapping[str, float], name: str, seeds: int) -> str:
    digits = 2 if name in TIMINGS else 4
    mean = f"{figure['mean']:.{digits}f}"
    # One split has no spread to show: a "± 0.0000" would claim a certainty it does not have.
    return mean if seeds == 1 else f"{mean} ± {figure['std']:.{digits}f}"
