"""user-personalization: implicit's ALS on confidence-weighted interactions, plus a sequence score.

The ALS score (user vector . item vector) is blended with the sequence score of sequence.py,
what people rate next after the user's most recent items; both are standardised first. A user
absent from training gets a vector by one ALS step against the trained item factors (fold-in).
"More like this" and "because you rated" use the cosine of item factors.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from dataset import Interactions
from recommender.base import TRAINING_THREADS, EmbeddedRecommender
from recommender.blas import one_blas_thread
from recommender.bounded import NormOrder
from recommender.interface import Recommendation
from recommender.model_files import ModelParams, Part, TrainedModel
from recommender.sequence import sequence_matrix, sequence_votes
from recommender.users import UserState

# Catalogues from this many items are searched by the factors' norms (bounded.py); below it,
# scoring every item is faster (measured: 0.33 vs 0.48 ms at 10k items, 0.52 vs 0.44 at 30k).
BOUNDED_SEARCH_FROM = 20_000


class UserPersonalization(EmbeddedRecommender):
    name = "user-personalization"

    @classmethod
    def fit_parts(
        cls,
        model: TrainedModel,
        interactions: Interactions,
        matrix: sp.csr_matrix,
        progress: bool,
    ) -> dict[str, Part]:
        als = make_als(model.params, num_threads=TRAINING_THREADS)
        als.fit(matrix, show_progress=progress)
        parts: dict[str, Part] = {
            "user_factors": als.user_factors,
            "item_factors": als.item_factors,
        }
        if model.params.sequence_weight > 0:
            parts["sequence"] = sequence_matrix(interactions, model.params)
        return parts

    def _prepare(self) -> None:
        parts = self._model.parts
        self._user_factors: np.ndarray = parts["user_factors"]
        self._item_factors: np.ndarray = parts["item_factors"]
        self._sequence: sp.csr_matrix | None = parts.get("sequence")
        self._unit_item_factors = _unit_rows(self._item_factors)
        self._norm_order = NormOrder(self._item_factors)
        # The scores' sum and sum of squares for any user vector u are sums . u and u . gram . u:
        # a query standardises its scores without two more passes over the catalogue.
        factors = self._item_factors.astype(np.float64)
        self._factor_sums = factors.sum(axis=0)
        # An ALS object around the trained factors, for folding users in. Made inside the
        # limit: implicit checks the BLAS thread count when the object is made.
        with one_blas_thread():
            self._factor_gram = factors.T @ factors
            self._solver = make_als(self._model.params, num_threads=1)
            self._solver.user_factors = self._user_factors
            self._solver.item_factors = self._item_factors
            self._solver.YtY  # noqa: B018 - computed once here, so concurrent fold-ins share it

    @property
    def _keeps_recent_items(self) -> bool:
        return self._sequence is not None

    def _trained_user_vector(self, code: int) -> np.ndarray:
        return self._user_factors[code]

    def _folded_user_vector(self, row: sp.csr_matrix) -> np.ndarray:
        with one_blas_thread():
            return self._solver.recalculate_user(0, row)

    def _scores(self, state: UserState) -> np.ndarray:
        with one_blas_thread():  # a product with a vector: BLAS threads cost more than they save
            user, shift, (items, bonus) = self._query(state)
            scores = self._item_factors @ user
            scores += np.float32(shift)
            scores[items] += bonus
            return scores

    def _ranked(
        self, state: UserState, n: int, excluded: np.ndarray, genre: str | None
    ) -> list[Recommendation]:
        # The genre filter may reach far down the list; a small catalogue costs less to score
        # whole than to search.
        if genre is not None or len(self._item_factors) < BOUNDED_SEARCH_FROM:
            return super()._ranked(state, n, excluded, genre)
        with one_blas_thread():
            user, shift, bonus = self._query(state)
            return self._norm_order.best(
                user, shift, n, excluded, bonus,
                item_ids=self._model.item_ids, tie_rank=self._tie_rank,
            )

    def _query(self, state: UserState) -> tuple[np.ndarray, float, tuple[np.ndarray, np.ndarray]]:
        """The score of item i is item_factors[i] . vector + shift, plus a bonus for voted items.

        With the sequence score that is the standardised ALS score plus the weighted
        standardised vote: the ALS scores' moments come from the factors' sums and Gram matrix,
        the scale goes into the vector, and an item without a vote gets the shift alone.
        """
        nothing = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32))
        if self._sequence is None or state.recent is None or state.recent.size == 0:
            return state.factors, 0.0, nothing
        params = self._model.params
        items, votes = sequence_votes(self._sequence, state.recent, params.sequence_half_life)
        vector, size = state.factors.astype(np.float64), len(self._item_factors)
        mean, scale = _moments(
            float(self._factor_sums @ vector), float(vector @ self._factor_gram @ vector), size
        )
        vote_mean, vote_scale = _moments(float(votes.sum()), float(votes @ votes), size)
        weight = params.sequence_weight
        shift = -mean * scale - weight * vote_mean * vote_scale
        bonus = (weight * vote_scale * votes).astype(np.float32)
        return state.factors * np.float32(scale), shift, (items, bonus)

    def _similar(self, code: int, n: int) -> list[Recommendation]:
        with one_blas_thread():
            scores = self._unit_item_factors @ self._unit_item_factors[code]
        return self._top(scores, n, np.asarray([code]))

    def _similarity(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        with one_blas_thread():
            return self._unit_item_factors[rows] @ self._unit_item_factors[columns].T


def make_als(params: ModelParams, num_threads: int) -> AlternatingLeastSquares:
    return AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        alpha=params.alpha,
        iterations=params.iterations,
        random_state=params.random_state,
        num_threads=num_threads,
    )


def _moments(total: float, squares: float, size: int) -> tuple[float, float]:
    """Mean and 1 / standard deviation of `size` values from their sum and sum of squares."""
    # Two dot products: a third of the time of numpy's mean() and std().
    mean = total / size
    variance = squares / size - mean * mean
    return mean, 1.0 / math.sqrt(variance) if variance > 1e-12 else 1.0


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
