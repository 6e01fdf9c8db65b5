"""trending-now: what rose in the data's latest window, the same list for everyone."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

import commands
from app import create_app
from commands import evaluate_command, train_command
from dataset import Interactions
from recommender.base import EmbeddedRecommender
from recommender.evaluation import evaluate_interactions as real_evaluate
from recommender.metrics import OFFLINE_METRICS
from recommender.model_files import ModelParams, StaleModelError, model_path
from shelves import TRENDING
from wiring import current_wiring

DAY = 86_400
# The data ends in 2001: with the clock's "now" nothing would be recent.
END = 978_307_200  # 2001-01-01


def rows_for(item: str, days_ago: list[float], first_user: int, end: int) -> list[tuple]:
    """One interaction per entry of `days_ago`, each by a user of its own."""
    return [(f"u{first_user + number}", item, 4.0, int(end - ago * DAY))
            for number, ago in enumerate(days_ago)]


def trend_data(end: int = END) -> Interactions:
    """An old hit (most interactions, all months ago), a burst (6 in the last two days, none
    before), a riser (20 in the last month, 4 the month before: less growth than the burst, on
    more interactions) and a fading title (more in the last month than the burst, but fewer
    than the month before)."""
    rows = (
        rows_for("old hit", list(np.linspace(100, 200, 40)), 0, end)
        + rows_for("old flop", list(np.linspace(100, 200, 10)), 100, end)
        + rows_for("burst", [0, 0.5, 1, 1, 1.5, 2], 200, end)
        + rows_for("riser", [*np.linspace(4, 25, 20), 40, 45, 50, 55], 300, end)
        + rows_for("fading", [*np.linspace(5, 28, 8), *np.linspace(31, 59, 14)], 400, end)
    )
    return Interactions.from_rows(rows, source="data/ratings.csv")


def trending(window_days: float, data: Interactions | None = None) -> EmbeddedRecommender:
    return EmbeddedRecommender.train(
        data or trend_data(), recipe="trending-now",
        params=ModelParams(trending_window_days=window_days),
    )


def ids(listing) -> list[str]:
    return [item.item_id for item in listing.items]


def test_items_rising_now_come_before_an_item_with_more_but_older_interactions():
    model = trending(30)

    top = ids(model.recommend("nobody", 5))

    # 4 -> 20 beats 0 -> 6: growth counts with the volume it is seen on. The fading title,
    # busier than the burst this month but falling, is not trending.
    assert top[:2] == ["riser", "burst"]
    assert model.popular(1)[0].item_id == "old hit"  # all-time popularity is unchanged
    # Then what is not rising: what was watched this month, then by all-time count.
    assert top[2:] == ["fading", "old hit", "old flop"]


def test_now_is_the_newest_timestamp_in_the_data_not_the_clock():
    twenty_years_later = END + 20 * 365 * DAY

    assert ids(trending(30).recommend("nobody", 1)) == ["riser"]  # the data ends in 2001
    assert ids(trending(30, trend_data(twenty_years_later)).recommend("nobody", 5)) == ids(
        trending(30).recommend("nobody", 5))


def test_the_window_decides_what_counts_as_rising():
    assert ids(trending(3).recommend("nobody", 1)) == ["burst"]  # the riser was quiet lately
    assert ids(trending(30).recommend("nobody", 1)) == ["riser"]


def test_every_user_gets_the_same_list_without_what_they_rated():
    model = trending(30)
    everyone = ids(model.recommend("nobody", 5))

    mine = model.recommend("u300", 5)  # rated the riser

    assert "riser" not in ids(mine)
    assert ids(mine) == [item for item in everyone if item != "riser"]
    assert ids(model.recommend("nobody", 5, exclude=["burst"])) == [
        item for item in everyone if item != "burst"]


def test_a_user_it_has_never_seen_gets_the_trending_list_not_the_popular_one():
    result = trending(30).recommend("never-seen", 2)

    assert ids(result) == ["riser", "burst"]
    assert not result.cold_start  # the popular-movies fallback is not what they got


def test_saving_and_loading_keeps_the_list_and_a_new_window_retrains(tmp_path):
    data = trend_data()
    model = trending(3, data)
    model.save(model_path(tmp_path, "trending-now"))

    loaded = EmbeddedRecommender.load(
        model_path(tmp_path, "trending-now"), data, params=ModelParams(trending_window_days=3))
    assert loaded.recommend("nobody", 5) == model.recommend("nobody", 5)
    with pytest.raises(StaleModelError):
        EmbeddedRecommender.load(model_path(tmp_path, "trending-now"), data,
                                 params=ModelParams(trending_window_days=30))
    retrained = EmbeddedRecommender.load_or_train(
        data, tmp_path, recipe="trending-now", params=ModelParams(trending_window_days=30))
    assert ids(retrained.recommend("nobody", 1)) == ["riser"]


# --- in the app: the setting, the shelf, train and evaluate ----------------------------------


def write_trend_data(folder: Path) -> Path:
    data = trend_data()
    path = folder / "ratings.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        for user_id in data.user_ids:
            for row in data.history(user_id):
                writer.writerow([user_id, row.item_id, row.rating, row.timestamp])
    return path


def trending_app(tmp_path: Path, window: float) -> Flask:
    ratings = write_trend_data(tmp_path)
    return create_app({"RATINGS_PATH": str(ratings), "ITEMS_PATH": str(tmp_path / "none.csv"),
                       "SECRET_KEY": "test", "TRENDING_WINDOW_DAYS": window},
                      instance_path=str(tmp_path / "instance"))


@pytest.mark.parametrize(("window", "first"), [(3, "burst"), (30, "riser")])
def test_the_trending_shelf_follows_the_window_setting_and_names_its_recipe(
        tmp_path, window, first):
    body = trending_app(tmp_path, window).test_client().get("/api/home").get_json()

    shelf = next(shelf for shelf in body["shelves"] if shelf["name"] == TRENDING)
    assert shelf["served_by"] == "Embedded recommender · trending-now"
    assert shelf["items"][0]["item_id"] == first


def test_flask_train_saves_the_model_the_app_then_loads(tmp_path):
    app = trending_app(tmp_path, 3)
    result = app.test_cli_runner().invoke(train_command, ["--recipe", "trending-now"])
    assert result.exit_code == 0, result.output

    with app.app_context():
        model = current_wiring().embedded_recipe("trending-now")
    assert model.health()["model"] == "loaded"  # same window: no retraining at start
    assert model.params.trending_window_days == 3


def test_evaluate_reports_personalizes_metrics_for_trending_now_with_the_window_setting(
        tmp_path, monkeypatch):
    app = trending_app(tmp_path, 3)
    asked: dict = {}

    def evaluate(interactions, recipes, seeds, params=None, progress=False):
        asked.update(recipes=recipes, params=params)
        return real_evaluate(interactions, recipes, seeds, params, progress)

    monkeypatch.setattr(commands, "evaluate_interactions", evaluate)
    ratings = tmp_path / "histories.csv"
    write_rows(ratings, histories())
    result = app.test_cli_runner().invoke(
        evaluate_command, ["--ratings", str(ratings), "--recipe", "trending-now", "--seeds", "2",
                           "--json"])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)["trending-now"]
    assert set(OFFLINE_METRICS) <= set(figures)
    assert all(0 <= figures[name]["mean"] <= 1 for name in OFFLINE_METRICS)
    assert asked["params"]["trending-now"].trending_window_days == 3


def histories() -> list[tuple]:
    """40 users with 8 ratings each over a month, so held-out users have a past and a future."""
    rng = np.random.default_rng(5)
    return [(f"v{user}", f"film {item}", 4.0, END - int(rng.integers(0, 30 * DAY)))
            for user in range(40) for item in rng.choice(16, size=8, replace=False)]


def write_rows(path: Path, rows: list[tuple]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        writer.writerows(rows)
