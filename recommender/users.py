"""Each user's state, and fold-in: how a user the model was not trained on gets one.

A training user's state comes from the model; any other user's is computed from their history
(`state_from_history`) the way training computes it, without retraining. `Users` keeps the
folded-in states (the app's own ratings, evaluation's held-out users) under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dataset import Interaction, Interactions
from recommender.model_files import TrainedModel
from recommender.weights import interaction_weights

# A recipe's latent vector for a user: from their row in training, or from a weighted history
# row (1 x items) when folding in. None: the recipe has no user vectors.
TrainedVector = Callable[[int], np.ndarray | None]
FoldedVector = Callable[[sp.csr_matrix], np.ndarray | None]


@dataclass(frozen=True)
class UserState:
    rated: np.ndarray  # item codes the user has interacted with (never recommended)
    weights: np.ndarray  # their confidence weights (sims scores with them)
    factors: np.ndarray | None = None  # the recipe's user vector (ALS)
    recent: np.ndarray | None = None  # newest item codes, oldest first (the sequence score)


def recent_items(interactions: Interactions, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's newest `count` item codes, oldest first, as (indptr, codes) by user code."""
    order = interactions.time_order
    users = interactions.users[order]
    ends = np.cumsum(np.bincount(users, minlength=interactions.n_users))
    from_newest = ends[users] - 1 - np.arange(len(order))
    kept = order[from_newest < count]
    counts = np.bincount(interactions.users[kept], minlength=interactions.n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, interactions.items[kept].astype(np.int32)


def state_from_history(
    history: Sequence[Interaction],
    model: TrainedModel,
    item_index: Mapping[str, int],
    folded_vector: FoldedVector,
) -> UserState:
    """Weights, user vector and recent items for a history, computed as training computes them."""
    known = [
        (item_index[row.item_id], np.nan if row.rating is None else row.rating, row.timestamp)
        for row in history
        if row.item_id in item_index  # items new since training cannot be scored yet
    ]
    codes, ratings, timestamps = (
        np.asarray(column) for column in (zip(*known, strict=True) if known else ([], [], []))
    )
    weights = interaction_weights(
        np.zeros(len(codes), dtype=np.int32),
        ratings.astype(np.float32),
        timestamps.astype(np.int64),
        model.params,
        model.rating_range,
    )
    row = sp.csr_matrix(
        (weights, (np.zeros(len(codes), dtype=np.int32), codes.astype(np.int32))),
        shape=(1, len(model.item_ids)),
    )
    row.sum_duplicates()
    # Newest last; a stable sort keeps equal timestamps in history order, as training does.
    by_time = codes[np.argsort(timestamps, kind="stable")].astype(np.int32)
    recent = by_time[-model.params.recent_count :]
    return UserState(
        row.indices.astype(np.int32), row.data.astype(np.float32), folded_vector(row), recent
    )


class Users:
    """Every user's state: a training user's from the model, others' from a folded-in history."""

    def __init__(
        self,
        model: TrainedModel,
        interactions: Interactions,
        item_index: Mapping[str, int],
        rated: sp.csr_matrix,
        *,
        recent_count: int | None,
        trained_vector: TrainedVector,
        folded_vector: FoldedVector,
    ) -> None:
        """`rated`: each training user's weighted row; `recent_count`: how many of their newest
        items to keep for their state (None: none, the recipe has no use for them)."""
        self._model = model
        self._interactions = interactions
        self._item_index = item_index
        self._user_index = {user_id: code for code, user_id in enumerate(model.user_ids)}
        self._rated = rated
        self._recent = recent_items(interactions, recent_count) if recent_count else None
        self._trained_vector = trained_vector
        self._folded_vector = folded_vector
        self._folded: dict[str, tuple[tuple[Interaction, ...], UserState]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many users the model was trained on."""
        return len(self._user_index)

    def in_training(self, user_id: str) -> bool:
        return user_id in self._user_index

    def state(self, user_id: str) -> UserState | None:
        """The user's state; None for a user the model has never heard of."""
        folded = self._folded.get(user_id)
        if folded is not None:
            return folded[1]
        code = self._user_index.get(user_id)
        if code is None:
            return None
        start, end = self._rated.indptr[code], self._rated.indptr[code + 1]
        recent = None
        if self._recent is not None:
            indptr, codes = self._recent
            recent = codes[indptr[code] : indptr[code + 1]]
        return UserState(
            self._rated.indices[start:end],
            self._rated.data[start:end],
            self._trained_vector(code),
            recent,
        )

    def from_history(self, history: Sequence[Interaction]) -> UserState:
        return state_from_history(history, self._model, self._item_index, self._folded_vector)

    def fold_in(self, user_id: str, history: Iterable[Interaction]) -> None:
        """Set a user's whole history and recompute their state, without retraining."""
        history = tuple(history)
        state = self.from_history(history)
        with self._lock:
            self._folded[user_id] = (history, state)

    def add_interaction(self, user_id: str, interaction: Interaction) -> None:
        """Fold one new interaction into the user's history (a new user starts one)."""
        with self._lock:
            folded = self._folded.get(user_id)
            history = (
                folded[0] if folded is not None else tuple(self._interactions.history(user_id))
            )
            history = (*history, interaction)
            self._folded[user_id] = (history, self.from_history(history))
