"""The engine's fast paths give the results of the plain computations they replace.

Training sorts interactions once, in linear time where it can, and builds the sequence matrix
in blocks of items; a query runs BLAS on one thread, blends the sequence votes only where they
are, and finds the best items without partitioning the whole catalogue. Each is checked here
against the straightforward version on random data with ties. (How fast they are is measured
by bench/bench_scale.py, never asserted here.)
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from dataset import Interactions
from dataset.interactions import grouped_order, time_order
from recommender import bounded, ranking, sequence, user_personalization
from recommender.base import EmbeddedRecommender
from recommender.blas import one_blas_thread
from recommender.model_files import ModelParams
from recommender.ranking import top_items
from recommender.sequence import sequence_matrix, sequence_votes
from recommender.user_personalization import UserPersonalization
from recommender.weights import rating_range, user_item_matrix


def random_interactions(seed: int, rows: int = 3000, users: int = 60, items: int = 80):
    """Random ratings with repeated items and repeated timestamps, in no particular order."""
    rng = np.random.default_rng(seed)
    return Interactions.from_rows(
        (f"u{rng.integers(users)}", f"i{rng.integers(items)}", float(rng.integers(1, 6)),
         int(rng.integers(0, 50)))
        for _ in range(rows)
    )


# --- training: the order of interactions -------------------------------------------------


@pytest.mark.parametrize("layout", ["shuffled", "time-sorted", "user-sorted", "huge span"])
def test_time_order_is_by_user_then_time_with_ties_in_file_order(layout: str):
    rng = np.random.default_rng(5)
    users = rng.integers(0, 40, 2000).astype(np.int32)
    timestamps = rng.integers(0, 30, 2000).astype(np.int64)  # many ties
    if layout == "time-sorted":
        timestamps.sort()
    elif layout == "user-sorted":
        users.sort()
    elif layout == "huge span":  # too wide for one integer key
        timestamps[0], timestamps[1] = -(2**62), 2**62
    expected = np.lexsort((np.arange(len(users)), timestamps, users))
    assert np.array_equal(time_order(users, timestamps), expected)


def test_grouped_order_keeps_file_order_within_each_code():
    codes = np.random.default_rng(2).integers(0, 7, 500).astype(np.int32)
    assert np.array_equal(grouped_order(codes, 9), np.argsort(codes, kind="stable"))


# --- training: the sequence matrix ------------------------------------------------------


def reference_sequence(interactions: Interactions, params: ModelParams) -> np.ndarray:
    """The definition, by loops: decayed counts of who followed whom, as row shares, pruned."""
    n = interactions.n_items
    follows = np.zeros((n, n))
    for user in range(interactions.n_users):
        rows = np.flatnonzero(interactions.users == user)
        rows = rows[np.lexsort((rows, interactions.timestamps[rows]))]
        items = interactions.items[rows]
        for position, item in enumerate(items):
            for distance in range(1, params.sequence_window + 1):
                later = position + distance
                if later < len(items) and items[later] != item:
                    follows[item, items[later]] += params.sequence_decay ** (distance - 1)
    totals = follows.sum(axis=1, keepdims=True)
    shares = np.divide(follows, totals, out=np.zeros_like(follows), where=totals > 0)
    for row in shares:  # keep the strongest; ties go to the lower column
        weakest = np.argsort(-row, kind="stable")[params.sequence_neighbours :]
        row[weakest] = 0
    return shares


@pytest.mark.parametrize("seed", [0, 1])
def test_the_sequence_matrix_matches_its_definition_whatever_the_blocks(monkeypatch, seed):
    interactions = random_interactions(seed)
    params = ModelParams(sequence_window=5, sequence_decay=0.8, sequence_neighbours=6)
    expected = reference_sequence(interactions, params)
    for block in (10**9, 97):  # one block, and many blocks of items
        monkeypatch.setattr(sequence, "_INTERACTIONS_PER_BLOCK", block)
        built = sequence_matrix(interactions, params)
        assert built.has_sorted_indices and built.dtype == np.float32
        assert np.array_equal(built.toarray() != 0, expected != 0)
        assert built.toarray() == pytest.approx(expected, rel=1e-6)


# --- a query ----------------------------------------------------------------------------


def test_sequence_votes_are_the_recent_items_decayed_votes_per_item():
    interactions = random_interactions(3)
    matrix = sequence_matrix(interactions, ModelParams(sequence_window=4))
    recent = np.asarray([5, 9, 5, 12, 30], dtype=np.int32)  # oldest first; 5 twice
    items, votes = sequence_votes(matrix, recent, half_life=2.0)
    recency = 0.5 ** (np.arange(recent.size - 1, -1, -1) / 2.0)
    rows = matrix[recent].toarray()
    dense = (recency[:, None] * rows).sum(axis=0)
    assert np.array_equal(items, np.flatnonzero(dense))
    assert votes == pytest.approx(dense[items], rel=1e-12)


def standardised(scores: np.ndarray) -> np.ndarray:
    """Mean 0, standard deviation 1, as user-personalization has always computed it."""
    mean = float(scores.sum()) / scores.size
    variance = float(scores @ scores) / scores.size - mean * mean
    scale = 1.0 / math.sqrt(variance) if variance > 1e-12 else 1.0
    return ((scores - mean) * scale).astype(np.float32, copy=False)


@pytest.fixture(scope="module")
def wide_model() -> UserPersonalization:
    """A model of 400 items, enough for hundreds of voted ones."""
    interactions = random_interactions(6, rows=8000, users=80, items=400)
    return EmbeddedRecommender.train(interactions, params=ModelParams(factors=8, iterations=3))


def plain_scores(model: UserPersonalization, state) -> np.ndarray:  # noqa: ANN001
    """Scores by the plain computation: dense votes, each part standardised over every item."""
    scores = model._item_factors @ state.factors
    params = model.params
    if state.recent is not None and state.recent.size:
        items, votes = sequence_votes(model._sequence, state.recent, params.sequence_half_life)
        dense = np.zeros(len(scores))
        dense[items] = votes
        scores = standardised(scores) + params.sequence_weight * standardised(dense)
    return scores


def plain_top(model: UserPersonalization, state, n: int) -> list[str]:  # noqa: ANN001
    """The list by the plain computation and a full sort."""
    scores = plain_scores(model, state)
    scores[state.rated] = -np.inf
    best = reference_best(scores, n, model._tie_rank)
    return [model._model.item_ids[code] for code in best if np.isfinite(scores[code])]


def test_the_scores_are_the_standardised_als_scores_plus_the_weighted_standardised_votes(
    wide_model,
):
    for user_id in wide_model._model.user_ids:
        state = wide_model._users.state(user_id)
        # The moments come from the factors' sums and Gram matrix, in float64: equal to
        # float32's precision, not to the last bit.
        scores = wide_model._scores(state)
        assert scores.dtype == np.float32
        assert scores == pytest.approx(plain_scores(wide_model, state), rel=1e-5, abs=1e-5)


# Every item scored; searched by norm in one block; searched in many blocks, with early stops.
@pytest.mark.parametrize(("search_from", "first_block"), [(10**9, 1024), (0, 1024), (0, 16)])
def test_every_users_list_is_the_plain_computations_list(
    monkeypatch, wide_model, search_from: int, first_block: int
):
    monkeypatch.setattr(user_personalization, "BOUNDED_SEARCH_FROM", search_from)
    monkeypatch.setattr(bounded, "_FIRST_BLOCK", first_block)
    for user_id in wide_model._model.user_ids:
        for n in (1, 10, 500):
            listed = [found.item_id for found in wide_model.recommend(user_id, n).items]
            assert listed == plain_top(wide_model, wide_model._users.state(user_id), n)


def long_tailed(seed: int, items: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Item factors whose norms fall off as ALS's do with popularity, and a user vector."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((items, 16)) / (1 + np.arange(items))[:, None] ** 0.7
    factors[rng.integers(0, items, 200)] = factors[0]  # some items score exactly alike
    return factors.astype(np.float32), rng.standard_normal(16).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_the_bounded_search_lists_what_top_items_lists_from_every_score(seed: int):
    factors, user = long_tailed(seed)
    rng = np.random.default_rng(seed)
    search = bounded.NormOrder(factors)
    tie_rank = rng.permutation(len(factors))
    item_ids = [f"i{code}" for code in range(len(factors))]
    voted = np.sort(rng.choice(len(factors), 40, replace=False)).astype(np.int32)
    bonus = rng.random(40).astype(np.float32)
    excluded = rng.choice(len(factors), 30).astype(np.int64)  # some voted, some twice
    shift = float(rng.normal())
    for n in (1, 10, 100, len(factors)):
        scores = factors @ user
        scores += np.float32(shift)
        scores[voted] += bonus
        expected = top_items(scores, n, excluded, item_ids=item_ids, tie_rank=tie_rank)
        found = search.best(user, shift, n, excluded, (voted, bonus),
                            item_ids=item_ids, tie_rank=tie_rank)
        assert found == expected


def test_the_bounded_search_stops_before_the_short_factors():
    factors, user = long_tailed(0, items=20_000)
    search = bounded.NormOrder(factors)
    search.factors[4096:] = np.nan  # read, they would make the scores NaN
    item_ids = [f"i{code}" for code in range(len(factors))]
    found = search.best(user, 0.0, 10, np.empty(0, dtype=np.int64),
                        (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)),
                        item_ids=item_ids, tie_rank=np.arange(len(factors)))
    best = reference_best(factors @ user, 10, np.arange(len(factors)))
    assert [hit.item_id for hit in found] == [item_ids[code] for code in best]


def reference_best(scores: np.ndarray, k: int, tie_rank: np.ndarray) -> np.ndarray:
    return np.lexsort((tie_rank, -scores))[:k]


@pytest.mark.parametrize("size", [50, 3000, 70_000])
def test_the_best_items_are_found_as_a_full_sort_would_rank_them(size: int):
    rng = np.random.default_rng(size)
    tie_rank = rng.permutation(size)
    for trial in range(30):
        # Half the trials with few distinct scores, so ties cross the cut; some excluded.
        scores = rng.standard_normal(size).astype(np.float32)
        if trial % 2:
            scores = np.round(scores * 2).astype(np.float32)
        scores[rng.integers(0, size, size // 10)] = -np.inf
        k = int(rng.choice([1, 10, 64, size // 3, size]))
        expected = reference_best(scores, k, tie_rank)
        assert np.array_equal(ranking._best(scores.copy(), k, tie_rank), expected)


def blas_threads() -> list[int]:
    """BLAS's thread count as the calling thread sees it."""
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def in_a_thread(work):  # noqa: ANN001, ANN201
    """Run `work` in another thread, as a gunicorn or Flask request runs, and return its result."""
    result = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


@pytest.mark.parametrize("where", ["main thread", "request thread"])
def test_a_query_runs_blas_on_one_thread_and_restores_it_after(monkeypatch, where: str):
    model = EmbeddedRecommender.train(random_interactions(4), params=ModelParams(factors=4))
    scored = UserPersonalization._query
    seen: list[list[int]] = []

    def spying(self, *args):  # noqa: ANN001, ANN002, ANN202
        seen.append(blas_threads())
        return scored(self, *args)

    monkeypatch.setattr(UserPersonalization, "_query", spying)

    def query() -> tuple[list[int], list[int]]:
        before = blas_threads()
        model.recommend("u1", 5)
        return before, blas_threads()

    with threadpool_limits(2, "blas"):  # as on any machine with two cores or more
        before, after = query() if where == "main thread" else in_a_thread(query)
    assert seen == [[1] * len(before)]
    assert after == before


@pytest.mark.parametrize("where", ["main thread", "request thread"])
def test_training_runs_blas_on_one_thread_from_any_thread(monkeypatch, where: str):
    """As when a model is retrained while the app serves (threadpoolctl's limit is ignored
    outside the main thread once the main thread has set one)."""
    build = user_personalization.sequence_matrix
    seen: list[list[int]] = []

    def spying(*args):  # noqa: ANN002, ANN202
        seen.append(blas_threads())
        return build(*args)

    monkeypatch.setattr(user_personalization, "sequence_matrix", spying)

    def train() -> list[int]:
        EmbeddedRecommender.train(random_interactions(4), params=ModelParams(factors=4))
        return blas_threads()

    with threadpool_limits(2, "blas"):
        before = blas_threads()
        after = train() if where == "main thread" else in_a_thread(train)
    assert seen == [[1] * len(before)]
    assert after == before


def test_concurrent_queries_share_one_limit_and_the_last_restores_it():
    started, finish = threading.Event(), threading.Event()

    def long_query() -> None:
        with one_blas_thread():
            started.set()
            finish.wait(timeout=10)

    with threadpool_limits(2, "blas"):
        before = blas_threads()
        thread = threading.Thread(target=long_query)
        thread.start()
        try:
            started.wait(timeout=10)
            with one_blas_thread(), one_blas_thread():  # a short query, nested blocks
                assert blas_threads() == [1] * len(before)
            assert blas_threads() == [1] * len(before)  # the long query still runs
        finally:
            finish.set()
            thread.join()
        assert blas_threads() == before


def test_building_the_confidence_matrix_leaves_the_interactions_as_they_were():
    interactions = random_interactions(7)
    items_by_time = interactions.items_by_time.copy()
    matrix = user_item_matrix(interactions, ModelParams(), rating_range(interactions.ratings))
    assert matrix.has_canonical_format
    assert np.array_equal(interactions.items_by_time, items_by_time)
    assert np.array_equal(interactions.items_by_time, interactions.items[interactions.time_order])


def test_asked_for_every_item_with_none_excluded_every_item_comes_back():
    from recommender.ranking import top_items

    scores = np.array([0.3, 0.9, 0.1, 0.5], dtype=np.float32)
    items = ["a", "b", "c", "d"]
    found = top_items(scores, 4, np.empty(0, dtype=np.int64), item_ids=items,
                      tie_rank=np.arange(4))
    assert [item.item_id for item in found] == ["b", "d", "a", "c"]
