"""The embedded recommender and its training, on small data: horror fans and comedy fans."""

from __future__ import annotations

import csv
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from commands import train_command
from dataset import Interaction, Interactions
from recommender.base import EmbeddedRecommender
from recommender.model_files import ModelParams, StaleModelError, model_path
from recommender.recipes import RECIPES, normalize_recipe
from recommender.sequence import sequence_matrix
from recommender.users import recent_items

HORROR = [f"Horror {number}" for number in range(12)]
COMEDY = [f"Comedy {number}" for number in range(12)]
# Two tastes need two factors; more would fit the noise of who picked which film.
SMALL = ModelParams(factors=2, iterations=10, regularization=0.1)


def taste_rows(users_per_group: int = 20, seed: int = 7) -> list[tuple[str, str, float, int]]:
    """Each fan rates 6 of their genre's 12 films highly; every fifth also tried one other film."""
    rng = np.random.default_rng(seed)
    rows = []
    timestamp = 1_500_000_000
    for group, liked, other in (("h", HORROR, COMEDY), ("c", COMEDY, HORROR)):
        for number in range(users_per_group):
            picks = rng.choice(len(liked), size=6, replace=False)
            for pick in picks:
                timestamp += 60
                rows.append((f"{group}{number}", liked[pick], float(rng.integers(4, 6)), timestamp))
            if number % 5 == 0:
                timestamp += 60
                rows.append((f"{group}{number}", other[rng.integers(len(other))], 1.0, timestamp))
    return rows


@pytest.fixture(scope="module")
def interactions() -> Interactions:
    return Interactions.from_rows(taste_rows(), source="data/ratings.csv")


@pytest.fixture(scope="module")
def models(interactions: Interactions) -> dict[str, EmbeddedRecommender]:
    return {
        recipe: EmbeddedRecommender.train(interactions, recipe=recipe, params=SMALL)
        for recipe in RECIPES
    }


def rated_by(interactions: Interactions, user_id: str) -> set[str]:
    return {row.item_id for row in interactions.history(user_id)}


def ids(recommendations) -> list[str]:
    items = getattr(recommendations, "items", recommendations)
    return [recommendation.item_id for recommendation in items]


# --- recommend -------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["user-personalization", "sims"])
def test_recommendations_follow_the_users_taste(models, interactions, recipe):
    model = models[recipe]
    for user_id in interactions.user_ids:
        genre = HORROR if user_id.startswith("h") else COMEDY
        top = ids(model.recommend(user_id, 3))
        assert len(top) == 3 and all(item in genre for item in top), (user_id, top)


@pytest.mark.parametrize("recipe", RECIPES)
def test_rated_items_are_never_recommended(models, interactions, recipe):
    model = models[recipe]
    for user_id in interactions.user_ids:
        result = model.recommend(user_id, 100)
        assert not result.cold_start
        assert not set(ids(result)) & rated_by(interactions, user_id)


# trending-now answers everyone with its own list (tests/test_trending.py).
@pytest.mark.parametrize("recipe", [recipe for recipe in RECIPES if recipe != "trending-now"])
def test_unknown_user_gets_popular_items_flagged_cold_start(models, recipe):
    model = models[recipe]
    result = model.recommend("never-seen", 5)
    assert result.cold_start
    assert ids(result) == ids(model.popular(5))
    assert all(item.reason == "popular" for item in result.items)


def test_known_user_is_not_cold_start(models):
    assert not models["user-personalization"].recommend("h0", 5).cold_start


def test_n_is_respected_and_may_exceed_the_catalogue(models, interactions):
    model = models["user-personalization"]
    assert len(model.recommend("h1", 3).items) == 3
    everything = model.recommend("h1", 1000).items
    unrated = interactions.n_items - len(rated_by(interactions, "h1"))
    assert len(everything) == unrated
    assert len(set(ids(everything))) == unrated
    scores = [item.score for item in everything]
    assert scores == sorted(scores, reverse=True)
    assert model.recommend("h1", 0).items == []


def test_exclude_removes_items_as_well(models):
    model = models["user-personalization"]
    first = ids(model.recommend("h2", 3))
    again = ids(model.recommend("h2", 3, exclude=first[:2]))
    assert not set(first[:2]) & set(again)
    assert again[0] == first[2]


def genre_of_title(item_id: str) -> tuple[str, ...]:
    """The test films' genre is the first word of their ID: "Comedy 3" is a comedy."""
    return (item_id.split()[0],)


def test_the_genre_filter_runs_before_the_cut(interactions):
    """A horror fan asking for comedies only still gets n of them, and nothing else."""
    model = EmbeddedRecommender.train(interactions, params=SMALL, item_genres=genre_of_title)
    assert model.can_filter_by_genre
    result = model.recommend("h4", 8, genre="Comedy")
    assert len(result.items) == 8
    assert all(item.startswith("Comedy") for item in ids(result))
    assert model.recommend("h4", 8, genre="Western").items == []
    most_popular_horror = [item for item in ids(model.popular(24)) if item.startswith("Horror")]
    assert ids(model.popular(3, genre="Horror")) == most_popular_horror[:3]


def test_without_item_genres_there_is_no_genre_filter(models):
    model = models["user-personalization"]
    assert not model.can_filter_by_genre
    with pytest.raises(ValueError, match="item_genres"):
        model.recommend("h4", 8, genre="Comedy")


def test_training_is_deterministic(interactions, models):
    again = EmbeddedRecommender.train(interactions, params=SMALL)
    for user_id in ("h0", "c0", "c7"):
        assert again.recommend(user_id, 10) == models["user-personalization"].recommend(user_id, 10)


# --- the sequence score ("rated next") ---------------------------------------------------

STEPS = [f"Step {number}" for number in range(12)]
# ALS recency off, so without the sequence score the order of a history cannot matter.
ORDERLESS_ALS = ModelParams(factors=2, iterations=10, regularization=0.1, recency_half_life=0.0)


def chain_rows(users: int = 60, seed: int = 3) -> list[tuple[str, str, float, int]]:
    """Everyone rates four consecutive steps of one chain, in order (a series watched in turn)."""
    rng = np.random.default_rng(seed)
    rows = []
    timestamp = 1_500_000_000
    for number in range(users):
        first = int(rng.integers(0, len(STEPS) - 3))
        for step in STEPS[first : first + 4]:
            timestamp += 60
            rows.append((f"u{number}", step, 4.0, timestamp))
    return rows


def test_sequence_matrix_holds_shares_of_what_followed_each_item():
    rows = [("u", "A", 5.0, 1), ("u", "B", 5.0, 2), ("u", "C", 5.0, 3)]
    rows += [("v", "A", 5.0, 1), ("v", "A", 5.0, 2), ("v", "C", 5.0, 3)]
    interactions = Interactions.from_rows(rows)
    params = ModelParams(sequence_window=2, sequence_decay=0.5)
    follows = sequence_matrix(interactions, params).toarray()
    a, b, c = (interactions.item_index[item] for item in "ABC")
    # A is followed by B (u, next: 1), by C (u, two later: 0.5; v, next and two later: 1.5);
    # v's A after A is no pair. Shares of A's total 3: B 1/3, C 2/3.
    assert follows[a, b] == pytest.approx(1 / 3) and follows[a, c] == pytest.approx(2 / 3)
    assert follows[b, c] == pytest.approx(1.0)
    assert follows[c].sum() == 0 and follows[a, a] == 0
    strongest = sequence_matrix(interactions, replace(params, sequence_neighbours=1)).toarray()
    assert strongest[a, b] == 0 and strongest[a, c] == pytest.approx(2 / 3)


def test_recent_items_are_each_users_newest_oldest_first():
    rows = [("u", "A", None, 30), ("u", "B", None, 10), ("u", "C", None, 20), ("v", "A", None, 5)]
    rows += [("u", "D", None, 30)]  # same time as A: file order decides, so D is newer
    interactions = Interactions.from_rows(rows)
    indptr, codes = recent_items(interactions, 3)
    items = np.asarray(interactions.item_ids)
    user = interactions.user_index
    assert items[codes[indptr[user["u"]] : indptr[user["u"] + 1]]].tolist() == ["C", "A", "D"]
    assert items[codes[indptr[user["v"]] : indptr[user["v"] + 1]]].tolist() == ["A"]


def test_the_sequence_score_favours_what_follows_the_newest_item():
    interactions = Interactions.from_rows(chain_rows())
    model = EmbeddedRecommender.train(
        interactions, params=replace(ORDERLESS_ALS, sequence_weight=2)
    )
    two_then_seven = [Interaction("Step 2", 4.0, 1), Interaction("Step 7", 4.0, 2)]
    seven_then_two = [Interaction("Step 7", 4.0, 1), Interaction("Step 2", 4.0, 2)]
    assert ids(model.recommend("2 then 7", 1, history=two_then_seven)) == ["Step 8"]
    assert ids(model.recommend("7 then 2", 1, history=seven_then_two)) == ["Step 3"]
    # A new interaction becomes the newest: the list turns to what follows it.
    newer = [*seven_then_two, Interaction("Step 10", 4.0, 3)]
    assert ids(model.recommend("7 then 2", 1, history=newer)) == ["Step 11"]


def test_without_the_sequence_score_the_order_of_a_history_does_not_matter():
    interactions = Interactions.from_rows(chain_rows())
    model = EmbeddedRecommender.train(
        interactions, params=replace(ORDERLESS_ALS, sequence_weight=0)
    )
    two_then_seven = [Interaction("Step 2", 4.0, 1), Interaction("Step 7", 4.0, 2)]
    seven_then_two = [Interaction("Step 7", 4.0, 1), Interaction("Step 2", 4.0, 2)]
    assert model.recommend("2 then 7", 5, history=two_then_seven) == model.recommend(
        "7 then 2", 5, history=seven_then_two
    )


def test_training_users_get_the_sequence_score_from_their_own_newest_items():
    interactions = Interactions.from_rows(chain_rows())
    model = EmbeddedRecommender.train(
        interactions, params=replace(ORDERLESS_ALS, sequence_weight=2)
    )
    for user_id in interactions.user_ids[:10]:
        newest = interactions.history(user_id)[-1].item_id
        if newest != STEPS[-1]:  # the chain's end is followed by nothing
            assert ids(model.recommend(user_id, 1)) == [STEPS[STEPS.index(newest) + 1]]


# --- popular and similar -----------------------------------------------------------------


def test_popular_orders_by_interaction_count_then_item_id():
    rows = [("u1", "B", 5.0, 1), ("u2", "B", 1.0, 2), ("u1", "C", 3.0, 3), ("u3", "A", 2.0, 4)]
    rows += [("u4", "D", 4.0, 5), ("u4", "D", 4.0, 6), ("u5", "D", 2.0, 7)]
    model = EmbeddedRecommender.train(Interactions.from_rows(rows), recipe="popularity-count")
    assert ids(model.popular(10)) == ["D", "B", "A", "C"]
    assert [item.score for item in model.popular(2)] == [3.0, 2.0]
    assert ids(model.popular(2, exclude={"D"})) == ["B", "A"]
    # A known user gets the same order, minus what they rated.
    assert ids(model.recommend("u1", 10)) == ["D", "A"]


@pytest.mark.parametrize("recipe", ["user-personalization", "sims"])
def test_similar_items_share_the_genre_and_exclude_the_item(models, recipe):
    similar = ids(models[recipe].similar("Horror 3", 5))
    assert len(similar) == 5
    assert "Horror 3" not in similar
    assert all(item in HORROR for item in similar), similar


@pytest.mark.parametrize("recipe", RECIPES)
def test_similar_to_an_unknown_item_is_empty(models, recipe):
    assert models[recipe].similar("Not A Film", 5) == []


def test_similar_on_popularity_count_answers_with_popular_items(models):
    model = models["popularity-count"]
    popular = ids(model.popular(6))
    assert ids(model.similar(popular[0], 5)) == popular[1:6]


@pytest.mark.parametrize("recipe", ["user-personalization", "sims"])
def test_explain_names_a_rated_item_of_the_same_taste(models, interactions, recipe):
    model = models[recipe]
    recommended = ids(model.recommend("h3", 3))
    because = model.explain("h3", recommended)
    assert set(because) == set(recommended)
    rated = rated_by(interactions, "h3")
    assert all(reason in rated and reason in HORROR for reason in because.values())
    liked = sorted(rated & set(HORROR))[:1]
    assert set(model.explain("h3", recommended, among=liked).values()) == set(liked)


def test_explain_has_nothing_to_say_without_history_or_similarity(models):
    assert models["user-personalization"].explain("never-seen", ["Horror 1"]) == {}
    assert models["popularity-count"].explain("h3", ["Horror 1"]) == {}


# --- fold-in ---------------------------------------------------------------------------------


def test_a_new_users_history_is_folded_in_without_retraining(interactions):
    model = EmbeddedRecommender.train(interactions, params=SMALL)
    before = model.recommend("h0", 10)
    history = [Interaction(film, 5.0, 1_600_000_000 + offset)
               for offset, film in enumerate(("Comedy 1", "Comedy 2", "Comedy 3"))]
    result = model.recommend("newcomer", 4, history=history)
    assert not result.cold_start
    assert all(item in COMEDY for item in ids(result))
    everything = set(ids(model.recommend("newcomer", 50, history=history)))
    assert not {"Comedy 1", "Comedy 2", "Comedy 3"} & everything
    assert model.recommend("newcomer", 4).cold_start  # without the history: nothing known
    assert model.recommend("h0", 10) == before  # other users keep their trained factors


def test_a_known_users_new_rating_changes_their_list(interactions):
    model = EmbeddedRecommender.train(interactions, params=SMALL)
    trained = interactions.history("h5")
    before = ids(model.recommend("h5", 30, history=trained))
    assert before == ids(model.recommend("h5", 30))  # their history as trained: as trained
    newly_rated = before[0]
    history = [*trained, Interaction(newly_rated, 5.0, 1_700_000_000)]
    after = ids(model.recommend("h5", 30, history=history))
    assert newly_rated not in after
    assert not rated_by(interactions, "h5") & set(after)
    assert after != before


def test_a_history_of_items_new_since_training_is_still_cold_start(interactions):
    model = EmbeddedRecommender.train(interactions, params=SMALL)
    history = [Interaction("Brand New Film", 5.0, 1)]
    most_popular = ids(model.popular(1))[0]
    result = model.recommend("someone", 3, exclude=[most_popular], history=history)
    assert result.cold_start
    assert ids(result) == ids(model.popular(3, exclude=[most_popular]))
    assert most_popular not in ids(result)


def test_an_unchanged_history_gets_the_trained_state_and_any_change_a_folded_in_one(
    interactions,
):
    # Fold-in approximates the trained user vector; a user whose ratings are as trained gets
    # exactly what training computed for them.
    model = EmbeddedRecommender.train(interactions, params=SMALL)
    users = model._users
    trained = interactions.history("h5")
    as_trained = users.state("h5")
    unchanged = users.state("h5", list(reversed(trained)))
    np.testing.assert_array_equal(unchanged.factors, as_trained.factors)
    np.testing.assert_array_equal(unchanged.weights, as_trained.weights)
    rerated = [replace(trained[0], rating=1.0), *trained[1:]]  # same length, one rating changed
    assert not np.array_equal(users.state("h5", rerated).factors, as_trained.factors)


def test_folding_in_a_training_history_gives_the_trained_weights(interactions):
    # The same weighting as training, so a fold-in ranks and explains as training would.
    model = EmbeddedRecommender.train(interactions, params=SMALL)
    trained = interactions.history("h5")
    folded = model._users.state("not-in-training", trained)
    as_trained = model._users.state("h5")
    order = np.argsort(as_trained.rated)
    np.testing.assert_array_equal(folded.rated, as_trained.rated[order])
    np.testing.assert_allclose(folded.weights, as_trained.weights[order], rtol=1e-6)


def test_recommend_is_safe_alongside_fold_ins(interactions):
    model = EmbeddedRecommender.train(interactions, params=SMALL)
    errors: list[BaseException] = []
    trained = interactions.history("c1")

    def read() -> None:
        try:
            for _ in range(200):
                assert len(model.recommend("c1", 5, history=trained).items) == 5
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    history = list(trained)
    for offset in range(50):
        history.append(Interaction(HORROR[offset % 12], 3.0, 1_800_000_000 + offset))
        assert model.recommend("c1", 5, history=history).items
    for thread in readers:
        thread.join()
    assert errors == []


# --- saving and loading ------------------------------------------------------------------


@pytest.mark.parametrize("recipe", RECIPES)
def test_save_and_load_give_identical_recommendations(models, interactions, tmp_path, recipe):
    path = model_path(tmp_path, recipe)
    models[recipe].save(path)
    loaded = EmbeddedRecommender.load(path, interactions)
    assert loaded.recipe == recipe
    for user_id in ("h0", "c3", "nobody"):
        assert loaded.recommend(user_id, 10) == models[recipe].recommend(user_id, 10)
    assert loaded.similar("Comedy 4", 5) == models[recipe].similar("Comedy 4", 5)
    assert loaded.health()["model"] == "loaded"


def test_load_refuses_a_model_saved_by_an_older_engine(models, interactions, tmp_path):
    path = model_path(tmp_path)
    models["user-personalization"].save(path)
    with np.load(path) as saved:
        arrays = dict(saved)
    np.savez(path, **(arrays | {"format": np.asarray(1)}))  # before the sequence score
    with pytest.raises(StaleModelError, match="another version"):
        EmbeddedRecommender.load(path, interactions)
    retrained = EmbeddedRecommender.load_or_train(interactions, tmp_path, params=SMALL)
    assert retrained.health()["model"] == "trained"


def test_load_refuses_a_model_trained_on_other_data(models, tmp_path):
    path = model_path(tmp_path)
    models["user-personalization"].save(path)
    changed = Interactions.from_rows(taste_rows(seed=8))
    with pytest.raises(StaleModelError, match="retrain"):
        EmbeddedRecommender.load(path, changed)


def test_load_or_train_reuses_a_matching_model_and_retrains_otherwise(tmp_path):
    first_data = Interactions.from_rows(taste_rows(), fingerprint="file-v1")
    first = EmbeddedRecommender.load_or_train(first_data, tmp_path, params=SMALL)
    assert first.health()["model"] == "trained"
    assert model_path(tmp_path).exists()

    reused = EmbeddedRecommender.load_or_train(first_data, tmp_path, params=SMALL)
    assert reused.health()["model"] == "loaded"

    new_data = Interactions.from_rows(taste_rows(seed=9), fingerprint="file-v2")
    retrained = EmbeddedRecommender.load_or_train(new_data, tmp_path, params=SMALL)
    assert retrained.health()["model"] == "trained"
    assert ids(retrained.recommend("h0", 5)) != [] and not (
        set(ids(retrained.recommend("h0", 20))) & rated_by(new_data, "h0")
    )

    other_params = ModelParams(factors=4, iterations=5)
    assert (
        EmbeddedRecommender.load_or_train(new_data, tmp_path, params=other_params).health()["model"]
        == "trained"
    )


def test_load_or_train_retrains_over_a_corrupt_file(interactions, tmp_path):
    model_path(tmp_path).write_bytes(b"not a model")
    model = EmbeddedRecommender.load_or_train(interactions, tmp_path, params=SMALL)
    assert model.health()["model"] == "trained"
    assert EmbeddedRecommender.load(model_path(tmp_path), interactions).recipe == model.recipe


# --- names and descriptions --------------------------------------------------------------


def test_recipes_accept_personalize_spellings():
    assert normalize_recipe("aws-user-personalization") == "user-personalization"
    assert normalize_recipe("arn:aws:personalize:::recipe/aws-popularity-count") == (
        "popularity-count"
    )
    assert model_path("instance", "aws-sims") == Path("instance/model-sims.npz")
    with pytest.raises(ValueError, match="user-personalization"):
        normalize_recipe("hrnn")


def test_description_names_the_file_and_the_user_count():
    rows = [(f"user {number}", "Heat (1995)", None, number) for number in range(1234)]
    model = EmbeddedRecommender.train(
        Interactions.from_rows(rows, source="data/ratings.csv"), recipe="popularity-count"
    )
    assert model.description == (
        "Embedded recommender · data/ratings.csv, 1,234 users · popularity-count"
    )
    assert model.health()["backend"] == "embedded" and model.health()["ready"] is True


def test_default_recipe_description(models):
    assert models["user-personalization"].description == (
        "Embedded recommender · data/ratings.csv, 40 users"
    )


def test_training_on_nothing_is_refused():
    with pytest.raises(ValueError, match="empty"):
        EmbeddedRecommender.train(Interactions.from_rows([]))


# --- flask train -------------------------------------------------------------------------


def flask_app(tmp_path: Path, ratings: Path) -> Flask:
    app = Flask("train-test", instance_path=str(tmp_path / "instance"))
    app.config.update(RATINGS_PATH=str(ratings), RECIPE="sims")
    return app


def test_train_command_writes_the_model(tmp_path):
    ratings = tmp_path / "ratings.csv"
    with open(ratings, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        writer.writerows(taste_rows())
    app = flask_app(tmp_path, ratings)
    result = app.test_cli_runner().invoke(train_command)
    assert result.exit_code == 0, result.output
    saved = model_path(app.instance_path, "sims")
    assert saved.exists() and str(saved) in result.output
    assert EmbeddedRecommender.load(saved, _read(ratings)).recipe == "sims"


def test_train_command_reports_a_missing_ratings_file(tmp_path):
    app = flask_app(tmp_path, tmp_path / "missing.csv")
    result = app.test_cli_runner().invoke(train_command)
    assert result.exit_code != 0
    assert "missing.csv" in result.output
    assert not model_path(app.instance_path, "sims").exists()


def _read(path: Path) -> Interactions:
    from dataset import read_interactions

    return read_interactions(path)


def test_a_folded_in_users_recent_movies_keep_the_order_of_ratings_made_in_the_same_second():
    from types import SimpleNamespace

    from recommender.model_files import ModelParams
    from recommender.users import state_from_history

    params = ModelParams()
    items = [f"m{number}" for number in range(100)]
    model = SimpleNamespace(params=params, rating_range=(1.0, 5.0), item_ids=items)
    rng = np.random.default_rng(0)
    # Many ratings share a second (a batch import does that), and the history comes in any
    # order: within a second, the later in the history is the newer, as in training.
    seconds = rng.integers(0, 3, len(items))
    history = [Interaction(item, 4.0, int(second)) for item, second in
               zip(items, seconds, strict=True)]
    state = state_from_history(history, model, {item: code for code, item in
                                                enumerate(items)}, lambda row: None)
    newest = sorted(range(len(items)), key=lambda code: seconds[code])[-params.recent_count:]
    assert state.recent.tolist() == newest
