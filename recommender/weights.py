"""How much each interaction counts: confidence weights, and the users x items matrix of them.

Training and fold-in weigh interactions with the same code, so a folded-in user is scored as a
training user with the same history would be.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dataset import Interactions
from dataset.interactions import time_order
from recommender.model_files import ModelParams


def interaction_weights(
    users: np.ndarray,
    ratings: np.ndarray,
    timestamps: np.ndarray,
    params: ModelParams,
    rating_range: tuple[float, float],
    order: np.ndarray | None = None,
) -> np.ndarray:
    """Confidence of each interaction, from its rating and its recency in its user's history.

    `order`: the rows' `time_order`, when the caller has it already.
    """
    return confidence(ratings, _ranks_from_newest(users, timestamps, order), params, rating_range)


def confidence(
    ratings: np.ndarray,
    age: np.ndarray,
    params: ModelParams,
    rating_range: tuple[float, float],
) -> np.ndarray:
    """Confidence per interaction from its rating and `age` (0 for its user's newest, 1 for the
    one before...); element by element, so any order of the interactions gives the same values."""
    weights = np.ones(len(ratings), dtype=np.float32)
    if params.rating_weight:
        low, high = rating_range
        scaled = (ratings - low) / (high - low) if high > low else np.ones_like(ratings)
        # A missing rating counts as a middling one rather than as no interaction at all.
        scaled = np.clip(np.nan_to_num(scaled, nan=0.5), 0.0, 1.0)
        weights *= 1.0 + params.rating_weight * scaled
    if params.recency_half_life > 0:
        decay = 0.5 ** (age / params.recency_half_life)
        weights *= params.recency_floor + (1.0 - params.recency_floor) * decay
    return weights.astype(np.float32, copy=False)


def _ranks_from_newest(
    users: np.ndarray, timestamps: np.ndarray, order: np.ndarray | None
) -> np.ndarray:
    """0 for each user's newest interaction, 1 for the one before, and so on (ties by row)."""
    if order is None:
        order = time_order(users, timestamps)
    indptr = row_starts(np.bincount(users))
    ranks = np.empty(len(users), dtype=np.float32)
    ranks[order] = positions_from_newest(indptr)
    return ranks


def row_starts(counts: np.ndarray) -> np.ndarray:
    """CSR's indptr for rows of these lengths."""
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr


def positions_from_newest(indptr: np.ndarray) -> np.ndarray:
    """For positions grouped by user, oldest first (`indptr` bounding each user's run), each
    position's distance from its user's newest, without looking at the users again."""
    newest = np.repeat(indptr[1:] - 1, np.diff(indptr))
    return newest - np.arange(indptr[-1])


def rating_range(ratings: np.ndarray) -> tuple[float, float]:
    """The lowest and highest rating given (0..1 when there are none), to scale ratings by."""
    present = ratings[~np.isnan(ratings)]
    return (float(present.min()), float(present.max())) if present.size else (0.0, 1.0)


def user_item_matrix(
    interactions: Interactions, params: ModelParams, rating_range: tuple[float, float]
) -> sp.csr_matrix:
    """Users x items confidence matrix, columns in order; repeated interactions add up.

    Built in CSR directly from the time order (rows are users, each oldest first), so a
    position's age is its distance from its row's end: no scatter back to file order and no
    conversion from coordinates.
    """
    order = interactions.time_order
    indptr = row_starts(np.bincount(interactions.users, minlength=interactions.n_users))
    age = positions_from_newest(indptr).astype(np.float32)
    weights = confidence(interactions.ratings[order], age, params, rating_range)
    shape = (interactions.n_users, interactions.n_items)
    # A copy of the items: the matrix sorts them in place.
    by_time = sp.csr_matrix((weights, interactions.items_by_time.copy(), indptr), shape=shape)
    by_time.sum_duplicates()  # sorts each row's columns, then adds up repeated items
    return by_time
