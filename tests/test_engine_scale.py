"""The engine's fast paths give the results of the plain computations they replace.

Training sorts interactions once, in linear time where it can, and builds the sequence matrix
in blocks of items. Each is checked here against the straightforward version on random data
with ties. (How fast they are is measured by bench/bench_scale.py, never asserted here.)
"""

from __future__ import annotations

import numpy as np
import pytest

from dataset import Interactions
from dataset.interactions import grouped_order, time_order
from recommender import sequence
from recommender.model_files import ModelParams
from recommender.sequence import sequence_matrix


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
