"""Offline evaluation: Personalize's metrics, its user/time split, and the evaluate command."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from commands import evaluate_command, format_table
from dataset import Interactions, read_interactions
from recommender.evaluation import (
    evaluate_interactions,
    evaluate_split,
    split_users,
    subset,
    summarize,
    train_for,
)
from recommender.metrics import (
    OFFLINE_METRICS,
    TIMINGS,
    coverage,
    metrics_table,
    ndcg_at,
    precision_at,
    query_metrics,
    reciprocal_rank,
)
from recommender.recipes import RECIPES

MOVIELENS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-latest-small"

# --- metrics, against hand-computed values -------------------------------------------------


def test_precision_divides_hits_by_k():
    recommended = ["a", "b", "c", "d", "e"]
    assert precision_at(recommended, {"b", "e", "z"}, 5) == pytest.approx(2 / 5)
    assert precision_at(recommended, {"b", "e", "z"}, 2) == pytest.approx(1 / 2)
    assert precision_at(["a"], {"a"}, 5) == pytest.approx(1 / 5)  # a short list is not excused
    assert precision_at(recommended, {"z"}, 5) == 0.0


def test_reciprocal_rank_is_one_over_the_first_hit():
    assert reciprocal_rank(["a", "b", "c"], {"c", "b"}, 25) == pytest.approx(1 / 2)
    assert reciprocal_rank(["a", "b", "c"], {"a"}, 25) == 1.0
    assert reciprocal_rank(["a", "b", "c"], {"z"}, 25) == 0.0
    assert reciprocal_rank(["a", "b", "c"], {"c"}, 2) == 0.0  # beyond the cut-off


def test_ndcg_worked_example():
    # List a b c d e; the truth is {b, d, x}; K = 5.
    #   Hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606.
    #   Ideal: min(|truth|, K) = 3 hits at ranks 1..3: 1/log2(2) + 1/log2(3) + 1/log2(4)
    #          = 1 + 0.630930 + 0.5 = 2.130930.
    #   NDCG@5 = 1.061606 / 2.130930 = 0.498190.
    # With K = 2 only b counts: 0.630930 / (1 + 0.630930) = 0.386853.
    recommended, truth = ["a", "b", "c", "d", "e"], {"b", "d", "x"}
    assert ndcg_at(recommended, truth, 5) == pytest.approx(0.498190, abs=1e-6)
    assert ndcg_at(recommended, truth, 2) == pytest.approx(0.386853, abs=1e-6)


def test_ndcg_bounds():
    assert ndcg_at(["b", "d", "x"], {"b", "d", "x"}, 5) == pytest.approx(1.0)
    assert ndcg_at(["b", "a"], {"b"}, 10) == pytest.approx(1.0)
    assert ndcg_at(["a", "b"], {"z"}, 10) == 0.0
    assert ndcg_at(["a", "b"], set(), 10) == 0.0
    # More truth than K: the ideal list is K hits long, so a list of K hits scores 1.
    assert ndcg_at(["a", "b"], {"a", "b", "c", "d"}, 2) == pytest.approx(1.0)


def test_coverage_counts_distinct_recommended_items_over_all_items():
    assert coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(0.3)
    assert coverage([], 10) == 0.0


def test_query_metrics_names_match_personalize():
    names = set(query_metrics(["a"], {"a"}))
    assert names == set(OFFLINE_METRICS) - {"coverage"}
    assert all(name.startswith(("precision", "mean_reciprocal", "normalized")) for name in names)


def test_summarize_takes_mean_and_sample_std_across_seeds():
    summary = summarize([{"x": 1.0}, {"x": 3.0}])
    assert summary["x"]["mean"] == pytest.approx(2.0)
    assert summary["x"]["std"] == pytest.approx(math.sqrt(2))
    assert summarize([{"x": 1.0}])["x"]["std"] == 0.0


# --- the split -----------------------------------------------------------------------------


def synthetic(users: int = 40, items: int = 30, per_user: int = 12, seed: int = 3) -> Interactions:
    """Users in two tastes (even users like the low item numbers), times increasing per user."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        pool = np.arange(items // 2) if user % 2 == 0 else np.arange(items // 2, items)
        picks = rng.choice(pool, size=min(per_user, len(pool)), replace=False)
        for step, item in enumerate(picks):
            rows.append((f"u{user}", f"i{item}", float(rng.integers(1, 6)), 1_000_000 + step * 10))
    return Interactions.from_rows(rows)


def test_split_holds_out_ten_percent_of_users_chosen_by_the_seed():
    data = synthetic(users=50)
    first, again, other = split_users(data, 0), split_users(data, 0), split_users(data, 1)
    held = {query.user_id for query in first.queries}
    assert len(held) == 5
    assert held == {query.user_id for query in again.queries}
    assert held != {query.user_id for query in other.queries}
    assert first.n_items == data.n_items


@pytest.mark.parametrize("recipe", RECIPES)
def test_split_has_no_leakage_into_training(recipe):
    data = synthetic()
    split = split_users(data, 4)
    model = train_for(split, recipe)  # what evaluate_split scores
    assert split.queries
    for query in split.queries:
        assert not model.in_training(query.user_id)
    training = split.training
    pairs = {
        (training.user_ids[user], training.item_ids[item])
        for user, item in zip(training.users, training.items, strict=True)
    }
    held_out = {query.user_id for query in split.queries}
    assert not {user for user, _item in pairs} & held_out
    # Every row lands in exactly one place: training, a query's input or a query's truth.
    assert len(training) + sum(
        len(query.history) + len(query.truth) for query in split.queries
    ) == len(data)
    assert model.health()["interactions"] == len(training)


def test_split_puts_each_held_out_users_newest_tenth_in_the_truth():
    data = synthetic(per_user=12)
    for query in split_users(data, 2).queries:
        history = data.history(query.user_id)
        assert len(query.truth) == 1  # floor(12 / 10), at least one
        assert query.truth == {history[-1].item_id}
        assert [row.item_id for row in query.history] == [row.item_id for row in history[:-1]]
        newest_input = max(row.timestamp for row in query.history)
        assert newest_input <= history[-1].timestamp


def test_split_skips_held_out_users_with_a_single_interaction():
    rows = [(f"u{user}", "only", 3.0, user) for user in range(20)]
    split = split_users(Interactions.from_rows(rows), 0)
    assert split.queries == []
    assert split.training.n_users == 18  # still held out of training


def test_subset_recodes_users_and_items_consistently():
    data = synthetic(users=6)
    keep = np.asarray([user % 2 == 0 for user in data.users])
    part = subset(data, keep)
    original = [
        (data.user_ids[u], data.item_ids[i], t)
        for u, i, t, k in zip(data.users, data.items, data.timestamps, keep, strict=True)
        if k
    ]
    recoded = [
        (part.user_ids[u], part.item_ids[i], t)
        for u, i, t in zip(part.users, part.items, part.timestamps, strict=True)
    ]
    assert recoded == original
    assert part.n_users == 3 and set(part.item_ids) == {row[1] for row in original}


# --- running evaluations -------------------------------------------------------------------


def test_evaluate_returns_every_metric_for_every_recipe():
    results = evaluate_interactions(synthetic(), RECIPES, seeds=2)
    assert set(results) == set(RECIPES)
    for figures in results.values():
        assert set(figures) == set(OFFLINE_METRICS) | set(TIMINGS)
        for name in OFFLINE_METRICS:
            assert 0.0 <= figures[name]["mean"] <= 1.0
            assert figures[name]["std"] >= 0.0


def test_evaluate_uses_the_taste_structure():
    """On two clean tastes, ALS beats popularity on the held-out users' newest items."""
    split = split_users(synthetic(users=200, per_user=12), 0)
    personal = evaluate_split(split, "user-personalization")
    popular = evaluate_split(split, "popularity-count")
    name = "normalized_discounted_cumulative_gain_at_10"
    assert personal[name] > popular[name]


def test_the_metrics_table_aligns_its_columns_and_marks_a_missing_figure():
    columns = {
        "Personalize": {"coverage": 0.25},
        "sims": {"coverage": (0.5, 0.01), "training_seconds": 1.234},
    }
    table = metrics_table(columns, ["coverage", "precision_at_5", "training_seconds"])
    assert table.splitlines() == [
        "metric            Personalize             sims",
        "coverage               0.2500  0.5000 ± 0.0100",
        "precision_at_5              —                —",
        "training_seconds            —             1.23",
    ]


def test_format_table_puts_recipes_side_by_side_with_mean_and_spread():
    results = evaluate_interactions(synthetic(), ["popularity-count", "sims"], seeds=2)
    header, *rows = format_table(results, seeds=2).splitlines()
    assert header.split() == ["metric", "popularity-count", "sims"]
    assert [row.split()[0] for row in rows] == [*OFFLINE_METRICS, *TIMINGS]
    coverage_row = rows[0].split()
    mean, std = results["sims"]["coverage"]["mean"], results["sims"]["coverage"]["std"]
    assert coverage_row[-3:] == [f"{mean:.4f}", "±", f"{std:.4f}"]


def test_format_table_shows_no_spread_for_one_seed():
    results = evaluate_interactions(synthetic(), ["popularity-count", "sims"], seeds=1)
    header, *rows = format_table(results, seeds=1).splitlines()
    assert "±" not in "\n".join(rows)
    assert rows[0].split() == [
        "coverage",
        f"{results['popularity-count']['coverage']['mean']:.4f}",
        f"{results['sims']['coverage']['mean']:.4f}",
    ]


def write_ratings(path: Path, data: Interactions) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        for user, item, rating, timestamp in zip(
            data.users, data.items, data.ratings, data.timestamps, strict=True
        ):
            writer.writerow([data.user_ids[user], data.item_ids[item], rating, timestamp])
    return path


def cli_app(tmp_path: Path, ratings: Path) -> Flask:
    app = Flask("evaluate-test", instance_path=str(tmp_path / "instance"))
    app.config.update(RATINGS_PATH=str(ratings))
    return app


def test_evaluate_command_prints_json_keyed_by_recipe_then_metric(tmp_path):
    ratings = write_ratings(tmp_path / "ratings.csv", synthetic())
    runner = cli_app(tmp_path, ratings).test_cli_runner()
    result = runner.invoke(evaluate_command, ["--recipe", "all", "--seeds", "1", "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert list(parsed) == list(RECIPES)
    assert set(parsed["sims"]["precision_at_10"]) == {"mean", "std"}


def test_evaluate_command_prints_a_table_for_one_recipe(tmp_path):
    ratings = write_ratings(tmp_path / "other.csv", synthetic())
    runner = cli_app(tmp_path, tmp_path / "unused.csv").test_cli_runner()
    args = ["--ratings", str(ratings), "--recipe", "popularity-count", "--seeds", "2"]
    result = runner.invoke(evaluate_command, args)
    assert result.exit_code == 0, result.output
    assert "2 seeds, mean ± std" in result.output
    assert "normalized_discounted_cumulative_gain_at_10" in result.output
    coverage_row = next(line for line in result.stdout.splitlines() if line.startswith("cov"))
    assert " ± " in coverage_row


def test_evaluate_command_with_one_seed_prints_no_spread(tmp_path):
    ratings = write_ratings(tmp_path / "ratings.csv", synthetic())
    runner = cli_app(tmp_path, ratings).test_cli_runner()
    result = runner.invoke(evaluate_command, ["--recipe", "popularity-count", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    assert "; 1 seed, 10% of users held out" in result.output
    assert "±" not in result.output


def test_evaluate_command_reports_a_missing_file(tmp_path):
    runner = cli_app(tmp_path, tmp_path / "missing.csv").test_cli_runner()
    result = runner.invoke(evaluate_command, ["--seeds", "1"])
    assert result.exit_code != 0
    assert "missing.csv" in result.output


def test_evaluate_command_rejects_an_unknown_recipe(tmp_path):
    runner = cli_app(tmp_path, tmp_path / "r.csv").test_cli_runner()
    result = runner.invoke(evaluate_command, ["--recipe", "hrnn"])
    assert result.exit_code == 2
    assert "hrnn" in result.output


# --- real data -----------------------------------------------------------------------------


@pytest.mark.skipif(not MOVIELENS.exists(), reason=f"no MovieLens data at {MOVIELENS}")
def test_movielens_small_gives_plausible_metrics(tmp_path):
    converted = tmp_path / "ratings.csv"  # a temporary copy: MovieLens never enters the project
    with open(MOVIELENS / "ratings.csv", newline="") as source, open(converted, "w") as target:
        rows = csv.reader(source)
        next(rows)
        writer = csv.writer(target)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        writer.writerows(rows)
    results = evaluate_interactions(
        read_interactions(converted), ["user-personalization", "popularity-count"], seeds=1
    )
    ndcg = "normalized_discounted_cumulative_gain_at_10"
    personal, popular = results["user-personalization"], results["popularity-count"]
    assert 0.01 < popular[ndcg]["mean"] < personal[ndcg]["mean"] < 0.5
    assert popular["coverage"]["mean"] < personal["coverage"]["mean"] <= 1.0
