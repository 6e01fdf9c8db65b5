"""A user's state comes from the shared store on every request: every process gives the same
answer, whoever took the last rating, and what a process keeps per user is bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_small_data

import recommender.users
from app import create_app
from dataset import Interaction, read_interactions
from recommender.base import EmbeddedRecommender
from recommender.model_files import ModelParams
from recommender.users import USERS_KEPT

SMALL = ModelParams(factors=8, iterations=5)
PAGE = "/api/recommendations?user_id=3&n=6"


def listed(client, page: str = PAGE) -> list[str]:
    response = client.get(page)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["item_id"] for item in response.get_json()["items"]]


@pytest.fixture
def two_apps(tmp_path: Path):
    """Two app instances on one instance folder (one store, one model), as two workers are."""
    ratings, items = write_small_data(tmp_path)
    settings = {"RATINGS_PATH": str(ratings), "ITEMS_PATH": str(items), "SECRET_KEY": "test",
                "RATE_LIMIT_WRITES": "", "RATE_LIMIT_READS": ""}
    instance = str(tmp_path / "instance")
    first = create_app(settings, instance_path=instance).test_client()
    second = create_app(settings, instance_path=instance).test_client()
    return first, second


def test_a_rating_through_one_app_moves_the_other_apps_list_as_its_own(two_apps):
    first, second = two_apps
    before = listed(second)
    assert before == listed(first)
    for item_id in ("c1", "c2", "c3"):  # a horror fan turns to comedy
        response = first.post("/api/ratings", json={"user_id": "3", "item_id": item_id,
                                                     "rating": 5})
        assert response.status_code == 201
    after = listed(second)
    assert after == listed(first)
    # More than the rated movies left out: the list follows the new taste.
    assert after != [item for item in before if item not in ("c1", "c2", "c3")][: len(after)]


def test_the_because_line_follows_the_new_rating_in_every_app(two_apps):
    first, second = two_apps
    first.post("/api/ratings", json={"user_id": "newcomer", "item_id": "c2", "rating": 5})
    page = "/api/recommendations?user_id=newcomer&n=3"
    assert listed(second, page) == listed(first, page)
    because = [item["because"] for item in second.get(page).get_json()["items"]]
    assert set(because) == {"c2"}  # the only movie they rated, wherever they rated it


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedRecommender:
    ratings, _items = write_small_data(tmp_path_factory.mktemp("data"))
    return EmbeddedRecommender.train(read_interactions(ratings), params=SMALL)


def test_a_repeated_history_is_folded_in_once_and_a_changed_one_again(model, monkeypatch):
    computed = []
    fold_in = recommender.users.state_from_history
    monkeypatch.setattr(recommender.users, "state_from_history",
                        lambda history, *args: computed.append(len(history)) or
                        fold_in(history, *args))
    history = [Interaction("c1", 5.0, 1), Interaction("c2", 4.0, 2)]
    first = model.recommend("repeat", 5, history=history)
    assert model.recommend("repeat", 5, history=list(history)) == first
    assert computed == [2]
    changed = model.recommend("repeat", 5, history=[*history, Interaction("h1", 5.0, 3)])
    assert computed == [2, 3] and changed != first


def test_a_history_as_trained_is_served_from_the_model_without_folding_in(model, monkeypatch):
    monkeypatch.setattr(recommender.users, "state_from_history", pytest.fail)
    trained = model._interactions.history("3")
    assert model.recommend("3", 5, history=trained) == model.recommend("3", 5)


def test_the_states_kept_are_bounded_the_least_recently_asked_out(model):
    for user in range(USERS_KEPT + 1):
        model.recommend(f"new-{user}", 3, history=[Interaction("c1", 5.0, user)])
    assert model.health()["users_kept"] == USERS_KEPT
    assert model.recommend("nobody yet", 3, history=[]).cold_start  # nothing kept for that
    assert model.health()["users_kept"] == USERS_KEPT
