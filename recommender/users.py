"""Each user's state, and fold-in: a user's state from the history the caller read.

The caller (the use cases, the offline evaluation) passes the user's whole history, read from
the shared files and store on every request, so every process gives the same answer. A history
equal to what the model was trained on gets the training user's state from the model; any other
is folded in: computed the way training computes it (`state_from_history`), without retraining.
`Users` keeps the states last computed in a bounded LRU keyed by the user and a digest of their
history, so a repeated request costs a lookup and memory stays bounded; it is never the source
of truth, since a changed history is a different key.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dataset import Interactions
from recommender.interface import Rated
from recommender.model_files import TrainedModel
from recommender.weights import interaction_weights, positions_from_newest, row_starts

# A recipe's latent vector for a user: from their row in training, or from a weighted history
# row (1 x items) when folding in. None: the recipe has no user vectors.
TrainedVector = Callable[[int], np.ndarray | None]
FoldedVector = Callable[[sp.csr_matrix], np.ndarray | None]
# Users whose state each process keeps (~2.5 kB each on MovieLens 100k); one more evicts the one
# asked for least recently, whose next request computes it again.
USERS_KEPT = 1024


@dataclass(frozen=True)
class UserState:
    rated: np.ndarray  # item codes the user has interacted with (never recommended)
    weights: np.ndarray  # their confidence weights (sims scores with them)
    factors: np.ndarray | None = None  # the recipe's user vector (ALS)
    recent: np.ndarray | None = None  # newest item codes, oldest first (the sequence score)


def recent_items(interactions: Interactions, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's newest `count` item codes, oldest first, as (indptr, codes) by user code."""
    counts = np.bincount(interactions.users, minlength=interactions.n_users)
    # Positions in time order are grouped by user: the newest are the last of each user's run.
    kept = np.flatnonzero(positions_from_newest(row_starts(counts)) < count)
    indptr = row_starts(np.minimum(counts, count))
    return indptr, interactions.items_by_time[kept].astype(np.int32)


def state_from_history(
    history: Sequence[Rated],
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
    """Every user's state: a training user's from the model, others' from their history."""

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
        kept: int = USERS_KEPT,
    ) -> None:
        """`interactions`: what the model was trained on; `rated`: each training user's weighted
        row; `recent_count`: how many of their newest items to keep for their state (None:
        none, the recipe has no use for them); `kept`: how many users' states to keep."""
        self._model = model
        self._interactions = interactions
        self._item_index = item_index
        self._user_index = {user_id: code for code, user_id in enumerate(model.user_ids)}
        self._rated = rated
        self._recent = recent_items(interactions, recent_count) if recent_count else None
        self._trained_vector = trained_vector
        self._folded_vector = folded_vector
        self._kept = kept
        self._states: OrderedDict[tuple[str, bytes], UserState | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many users the model was trained on."""
        return len(self._user_index)

    def in_training(self, user_id: str) -> bool:
        return user_id in self._user_index

    @property
    def cached(self) -> int:
        """How many users' states are kept right now (at most `kept`)."""
        return len(self._states)

    def state(self, user_id: str, history: Sequence[Rated] | None = None) -> UserState | None:
        """The user's state for this history (None: as trained); None for a user without one."""
        if history is None:
            return self._trained_state(user_id)
        if not history:
            return None  # cold start: nothing to compute, nothing to keep
        key = (user_id, history_digest(history))
        with self._lock:
            if key in self._states:
                self._states.move_to_end(key)
                return self._states[key]
        state = self._state_for(user_id, history)
        with self._lock:
            self._states[key] = state
            while len(self._states) > self._kept:
                self._states.popitem(last=False)
        return state

    def _state_for(self, user_id: str, history: Sequence[Rated]) -> UserState | None:
        if self._as_trained(user_id, history):
            return self._trained_state(user_id)
        return state_from_history(history, self._model, self._item_index, self._folded_vector)

    def _as_trained(self, user_id: str, history: Sequence[Rated]) -> bool:
        """Whether the history holds exactly the interactions the model was trained on."""
        if user_id not in self._user_index:
            return False
        trained = self._interactions.history(user_id)
        return len(trained) == len(history) and set(trained) == set(history)

    def _trained_state(self, user_id: str) -> UserState | None:
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


def history_digest(history: Sequence[Rated]) -> bytes:
    """A short digest of a history: a changed, added or removed rating changes it."""
    text = "\x1e".join(f"{row.item_id}\x1f{row.rating}\x1f{row.timestamp}" for row in history)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()
