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
    weights = np.ones(len(users), dtype=np.float32)
    if params.rating_weight:
        low, high = rating_range
        scaled = (ratings - low) / (high - low) if high > low else np.ones_like(ratings)
        # A missing rating counts as a middling one rather than as no interaction at all.
        scaled = np.clip(np.nan_to_num(scaled, nan=0.5), 0.0, 1.0)
        weights *= 1.0 + params.rating_weight * scaled
    if params.recency_half_life > 0:
        age = _ranks_from_newest(users, timestamps, order)
        decay = 0.5 ** (age / params.recency_half_life)
        weights *= params.recency_floor + (1.0 - params.recency_floor) * decay
    return weights.astype(np.float32)


def _ranks_from_newest(
    users: np.ndarray, timestamps: np.ndarray, order: np.ndarray | None
) -> np.ndarray:
    """0 for each user's newest interaction, 1 for the one before, and so on (ties by row)."""
    rows = np.arange(len(users))
    if order is None:
        order = time_order(users, timestamps)
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    sorted_users = users[order]
    ranks = np.empty(len(users), dtype=np.float32)
    ranks[order] = counts[sorted_users] - 1 - (rows - starts[sorted_users])
    return ranks


def rating_range(ratings: np.ndarray) -> tuple[float, float]:
    """The lowest and highest rating given (0..1 when there are none), to scale ratings by."""
    present = ratings[~np.isnan(ratings)]
    return (float(present.min()), float(present.max())) if present.size else (0.0, 1.0)


def user_item_matrix(
    interactions: Interactions, params: ModelParams, rating_range: tuple[float, float]
) -> sp.csr_matrix:
    """Users x items confidence matrix; repeated interactions add up."""
    weights = interaction_weights(
        interactions.users,
        interactions.ratings,
        interactions.timestamps,
        params,
        rating_range,
        interactions.time_order,
    )
    shape = (interactions.n_users, interactions.n_items)
    matrix = sp.csr_matrix((weights, (interactions.users, interactions.items)), shape=shape)
    matrix.sum_duplicates()
    return matrix
