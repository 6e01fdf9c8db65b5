"""The embedded recommender: Personalize's recipes served from memory, with `implicit`.

Recipes, named as in Amazon Personalize:
- `user-personalization`: implicit's ALS on confidence-weighted interactions, blended with a
  sequence score: what people rate next after the user's most recent items;
- `popularity-count`: items by interaction count (also every recipe's cold-start answer);
- `sims`: item-to-item cosine neighbours; a user's list sums the neighbours of their history.

Training, parameters and model files live in `training.py`. Users absent from training are
folded in at query time (`fold_in`), which is also how `evaluate` queries its held-out users,
so it measures the code the app serves.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from dataset import Interaction, Interactions
from recommender.interface import Recommendation, RecommendationList
from training import (
    DEFAULT_RECIPE,
    POPULARITY_COUNT,
    RECIPES,
    SIMS,
    USER_PERSONALIZATION,
    ModelParams,
    StaleModelError,
    TrainedModel,
    interaction_weights,
    load_model,
    make_als,
    model_path,
    normalize_recipe,
    recent_items,
    save_model,
    train_model,
    user_item_matrix,
)

# What other modules import from here (the training names are re-exported for them).
__all__ = [
    "DEFAULT_RECIPE",
    "POPULARITY_COUNT",
    "RECIPES",
    "SIMS",
    "USER_PERSONALIZATION",
    "EmbeddedRecommender",
    "ModelParams",
    "StaleModelError",
    "model_path",
    "normalize_recipe",
]

logger = logging.getLogger(__name__)

ItemGenres = Callable[[str], Collection[str]]  # an item's genres, for the genre filter


# --- the recommender --------------------------------------------------------------------


@dataclass(frozen=True)
class _UserState:
    rated: np.ndarray  # item codes the user has interacted with (never recommended)
    weights: np.ndarray  # their confidence weights (sims scores with them)
    factors: np.ndarray | None = None  # ALS user vector
    recent: np.ndarray | None = None  # newest item codes, oldest first (the sequence score)


class EmbeddedRecommender:
    """Personalize-style recipes served from memory; see the module docstring."""

    def __init__(
        self,
        model: TrainedModel,
        interactions: Interactions,
        rated: sp.csr_matrix | None = None,
        *,
        item_genres: ItemGenres | None = None,
    ) -> None:
        self._model = model
        self._item_genres = item_genres  # None: no genre filter
        self._interactions = interactions
        self._item_index = {item_id: code for code, item_id in enumerate(model.item_ids)}
        self._user_index = {user_id: code for code, user_id in enumerate(model.user_ids)}
        # Each training user's items and weights: never recommended to them; sims sums them.
        self._rated = (
            rated
            if rated is not None
            else user_item_matrix(interactions, model.params, model.rating_range)
        )
        # Most popular first; ties by ITEM_ID so the order never depends on file order.
        self._id_rank = np.argsort(np.argsort(np.asarray(model.item_ids), kind="stable"))
        self._popular_order = np.lexsort((self._id_rank, -model.popularity))
        self._popular_score = model.popularity.astype(np.float32)
        self._unit_item_factors = _unit_rows(model.item_factors)
        self._recent = (
            recent_items(interactions, model.params.recent_count)
            if model.sequence is not None
            else None
        )
        self._solver = self._make_solver()
        self._folded: dict[str, tuple[tuple[Interaction, ...], _UserState]] = {}
        self._lock = threading.Lock()

    # -- building ------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        interactions: Interactions,
        *,
        recipe: str = DEFAULT_RECIPE,
        params: ModelParams | None = None,
        progress: bool = False,
        item_genres: ItemGenres | None = None,
    ) -> EmbeddedRecommender:
        model, matrix = train_model(interactions, recipe, params, progress)
        return cls(model, interactions, matrix, item_genres=item_genres)

    @classmethod
    def load(
        cls,
        path: str | Path,
        interactions: Interactions,
        *,
        recipe: str | None = None,
        params: ModelParams | None = None,
        item_genres: ItemGenres | None = None,
    ) -> EmbeddedRecommender:
        """Load a saved model; StaleModelError when it was not trained on these settings."""
        model = load_model(path, interactions, recipe, params)
        return cls(model, interactions, item_genres=item_genres)

    @classmethod
    def load_or_train(
        cls,
        interactions: Interactions,
        model_dir: str | Path,
        *,
        recipe: str = DEFAULT_RECIPE,
        params: ModelParams | None = None,
        progress: bool = False,
        item_genres: ItemGenres | None = None,
    ) -> EmbeddedRecommender:
        """Reuse model_dir's saved model when it matches; otherwise train and save one.

        `item_genres` gives an item's genres, for `genre=`; without it there is no genre filter.
        """
        recipe = normalize_recipe(recipe)
        path = model_path(model_dir, recipe)
        if path.exists():
            try:
                return cls.load(
                    path, interactions, recipe=recipe, params=params, item_genres=item_genres
                )
            except StaleModelError as error:
                logger.info("Retraining: %s", error)
            except (OSError, ValueError, KeyError) as error:
                logger.warning("Retraining: cannot read %s (%s)", path, error)
        model = cls.train(
            interactions, recipe=recipe, params=params, progress=progress, item_genres=item_genres
        )
        try:
            model.save(path)
        except OSError as error:  # a read-only instance/ should not stop the app
            logger.warning("Could not save the model to %s (%s)", path, error)
        return model

    def save(self, path: str | Path) -> None:
        """Write the model to one .npz file, atomically (a reader never sees half a file)."""
        save_model(self._model, path)

    # -- the Recommender protocol ---------------------------------------------------------

    @property
    def recipe(self) -> str:
        return self._model.recipe

    @property
    def params(self) -> ModelParams:
        return self._model.params

    @property
    def train_seconds(self) -> float:
        return self._model.train_seconds

    @property
    def description(self) -> str:
        source = _display_path(self._interactions.source) or "in-memory ratings"
        text = f"Embedded recommender · {source}, {len(self._model.user_ids):,} users"
        return text if self.recipe == DEFAULT_RECIPE else f"{text} · {self.recipe}"

    @property
    def similar_description(self) -> str:
        return "Embedded recommender · item-to-item"

    @property
    def can_filter_by_genre(self) -> bool:
        return self._item_genres is not None

    @property
    def flags_cold_start(self) -> bool:
        return True  # every user it has no state for gets the flagged popular list

    def health(self) -> dict[str, object]:
        return {
            "backend": "embedded",
            "ready": True,
            "recipe": self.recipe,
            "users": len(self._model.user_ids),
            "items": len(self._model.item_ids),
            "interactions": len(self._interactions),
            "model": "loaded" if "loaded_from" in self._model.extras else "trained",
        }

    def recommend(
        self,
        user_id: str,
        n: int,
        *,
        exclude: Collection[str] = (),
        genre: str | None = None,
    ) -> RecommendationList:
        """Top-n items for the user; an unknown user gets the popular items, flagged cold_start.

        Never an item of `exclude` or one the model holds as rated by the user.
        """
        state = self._state_of(user_id)
        if state is None or state.rated.size == 0:  # nothing known about them yet
            popular = self.popular(n, exclude=exclude, genre=genre)
            return RecommendationList(popular, cold_start=True)
        scores = self._scores(state)
        excluded = np.concatenate([state.rated, self._codes(exclude)])
        return RecommendationList(self._top(scores, n, excluded, self._in_genre(genre)))

    # -- more endpoints --------------------------------------------------------------------

    def similar(self, item_id: str, n: int) -> list[Recommendation]:
        """Items like this one ("more like this"); [] for an item the model has never seen."""
        code = self._item_index.get(item_id)
        if code is None or n < 1:
            return []
        if self._model.similarity is not None:
            row = self._model.similarity[code]
            scores = np.full(len(self._model.item_ids), -np.inf, dtype=np.float32)
            scores[row.indices] = row.data
            hits = self._top(scores, min(n, row.nnz), np.asarray([code]), None)
            return [hit for hit in hits if np.isfinite(hit.score)]
        if self._unit_item_factors is not None:
            scores = self._unit_item_factors @ self._unit_item_factors[code]
            return self._top(scores, n, np.asarray([code]), None)
        # popularity-count has no notion of similarity: it answers with the popular items.
        return self.popular(n, exclude=(item_id,))

    def explain(
        self, user_id: str, item_ids: Sequence[str], *, among: Collection[str] | None = None
    ) -> dict[str, str]:
        """For each item, the user's rated item that leads to it most ("because you rated X").

        That is the rated item (of `among`, when given: say, the ones the user liked) with the
        highest similarity to it, weighted by how much the rating counts (its stars and
        recency, as in training). Empty for an unknown user or a recipe without similarity.
        """
        state = self._state_of(user_id)
        codes = self._codes(item_ids)
        if state is None or state.rated.size == 0 or codes.size == 0:
            return {}
        if among is not None:
            keep = np.isin(state.rated, self._codes(among))
            if keep.any():
                state = replace(state, rated=state.rated[keep], weights=state.weights[keep])
        if self._model.similarity is not None:
            similarity = self._model.similarity[state.rated][:, codes].toarray()
        elif self._unit_item_factors is not None:
            similarity = self._unit_item_factors[state.rated] @ self._unit_item_factors[codes].T
        else:
            return {}
        leading = np.argmax(similarity * state.weights[:, None], axis=0)
        item_ids = self._model.item_ids
        return {
            item_ids[code]: item_ids[state.rated[best]]
            for code, best in zip(codes, leading, strict=True)
        }

    def popular(
        self,
        n: int,
        *,
        exclude: Collection[str] = (),
        genre: str | None = None,
    ) -> list[Recommendation]:
        """The most interacted-with items (Personalize's popularity-count), of `genre`."""
        skip = set(exclude)
        allowed_items = self._in_genre(genre)
        found = []
        for code in self._popular_order:
            if len(found) >= n:
                break
            item_id = self._model.item_ids[code]
            if item_id not in skip and (allowed_items is None or allowed_items(item_id)):
                found.append(
                    Recommendation(item_id, float(self._model.popularity[code]), "popular")
                )
        return found

    def in_training(self, user_id: str) -> bool:
        """Whether the model was trained on this user's interactions (folded-in users were not)."""
        return user_id in self._user_index

    def fold_in(self, user_id: str, history: Iterable[Interaction]) -> None:
        """Set a user's whole history and recompute their factors, without retraining."""
        history = tuple(history)
        state = self._state_from_history(history)
        with self._lock:
            self._folded[user_id] = (history, state)

    def add_interaction(
        self, user_id: str, item_id: str, rating: float | None, timestamp: int
    ) -> None:
        """Fold one new interaction into the user's profile (a new user starts one)."""
        with self._lock:
            folded = self._folded.get(user_id)
            history = (
                folded[0] if folded is not None else tuple(self._interactions.history(user_id))
            )
            history = (*history, Interaction(item_id, rating, timestamp))
            self._folded[user_id] = (history, self._state_from_history(history))

    # -- internals ---------------------------------------------------------------------------

    def _in_genre(self, genre: str | None) -> Callable[[str], bool] | None:
        if genre is None:
            return None
        item_genres = self._item_genres
        if item_genres is None:
            raise ValueError("filtering by genre needs item_genres")
        return lambda item_id: genre in item_genres(item_id)

    def _make_solver(self) -> AlternatingLeastSquares | None:
        """An ALS object around the trained factors, for folding users in."""
        model = self._model
        if model.item_factors is None:
            return None
        # Inside the limit: implicit checks the BLAS thread count when the object is made.
        with threadpool_limits(1, "blas"):
            solver = make_als(model.params, num_threads=1)
            solver.user_factors, solver.item_factors = model.user_factors, model.item_factors
            solver.YtY  # noqa: B018 - computed once here, so concurrent fold-ins share it
        return solver

    def _state_of(self, user_id: str) -> _UserState | None:
        folded = self._folded.get(user_id)
        if folded is not None:
            return folded[1]
        code = self._user_index.get(user_id)
        if code is None:
            return None
        start, end = self._rated.indptr[code], self._rated.indptr[code + 1]
        factors = self._model.user_factors[code] if self._model.user_factors is not None else None
        recent = None
        if self._recent is not None:
            indptr, codes = self._recent
            recent = codes[indptr[code] : indptr[code + 1]]
        return _UserState(
            self._rated.indices[start:end], self._rated.data[start:end], factors, recent
        )

    def _state_from_history(self, history: Sequence[Interaction]) -> _UserState:
        """Weights and (for ALS) factors for a history, computed as training computes them."""
        known = [
            (
                self._item_index[row.item_id],
                np.nan if row.rating is None else row.rating,
                row.timestamp,
            )
            for row in history
            if row.item_id in self._item_index  # items new since training cannot be scored yet
        ]
        codes, ratings, timestamps = (
            np.asarray(column) for column in (zip(*known, strict=True) if known else ([], [], []))
        )
        weights = interaction_weights(
            np.zeros(len(codes), dtype=np.int32),
            ratings.astype(np.float32),
            timestamps.astype(np.int64),
            self._model.params,
            self._model.rating_range,
        )
        row = sp.csr_matrix(
            (weights, (np.zeros(len(codes), dtype=np.int32), codes.astype(np.int32))),
            shape=(1, len(self._model.item_ids)),
        )
        row.sum_duplicates()
        factors = None
        if self._solver is not None:
            with threadpool_limits(1, "blas"):
                factors = self._solver.recalculate_user(0, row)
        # Newest last; a stable sort keeps equal timestamps in history order, as training does.
        by_time = codes[np.argsort(timestamps, kind="stable")].astype(np.int32)
        recent = by_time[-self._model.params.recent_count :]
        return _UserState(
            row.indices.astype(np.int32), row.data.astype(np.float32), factors, recent
        )

    def _scores(self, state: _UserState) -> np.ndarray:
        """A fresh score per item for this user (the caller may overwrite it)."""
        model = self._model
        if model.recipe == USER_PERSONALIZATION:
            scores = model.item_factors @ state.factors
            if model.sequence is None or state.recent is None or state.recent.size == 0:
                return scores
            return _standardised(scores) + model.params.sequence_weight * _standardised(
                self._sequence_scores(state.recent)
            )
        if model.recipe == SIMS and state.rated.size:
            return np.asarray(state.weights @ model.similarity[state.rated]).ravel()
        return self._popular_score.copy()

    def _sequence_scores(self, recent: np.ndarray) -> np.ndarray:
        """Votes of the user's recent items (oldest first) for what tends to follow them."""
        sequence = self._model.sequence
        half_life = self._model.params.sequence_half_life
        age = np.arange(recent.size - 1, -1, -1, dtype=np.float64)
        votes = 0.5 ** (age / half_life) if half_life > 0 else np.ones_like(age)
        # The rows' entries gathered by hand: scipy's row indexing costs more than the sum.
        starts = sequence.indptr[recent]
        lengths = sequence.indptr[recent + 1] - starts
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        entries = offsets + np.arange(lengths.sum())
        weights = np.repeat(votes, lengths) * sequence.data[entries]
        return np.bincount(sequence.indices[entries], weights, minlength=sequence.shape[1])

    def _codes(self, item_ids: Collection[str]) -> np.ndarray:
        codes = [self._item_index[item] for item in item_ids if item in self._item_index]
        return np.asarray(codes, dtype=np.int64)

    def _top(
        self,
        scores: np.ndarray,
        n: int,
        excluded: np.ndarray,
        allowed_items: Callable[[str], bool] | None,
    ) -> list[Recommendation]:
        """The n best-scoring items, skipping excluded ones; the filter runs before the cut."""
        scores = np.asarray(scores, dtype=np.float32)
        if excluded.size:
            scores[excluded] = -np.inf
        available = len(scores) - np.unique(excluded).size
        item_ids = self._model.item_ids
        window = min(available, n if allowed_items is None else max(4 * n, 64))
        found: list[Recommendation] = []
        checked = 0
        while n > 0 and window > checked:
            candidates = _best(scores, window, self._id_rank)
            for code in candidates[checked:]:
                if allowed_items is None or allowed_items(item_ids[code]):
                    found.append(Recommendation(item_ids[code], float(scores[code])))
                    if len(found) == n:
                        return found
            checked = window
            window = min(available, window * 4)
        return found


def _best(scores: np.ndarray, k: int, tie_rank: np.ndarray) -> np.ndarray:
    """Indices of the k highest scores, best first; equal scores in `tie_rank` order."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < len(scores):
        # Widen the cut to every item tied with the k-th, so ties are broken by rank, not chance.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        top = np.flatnonzero(scores >= kth)
    else:
        top = np.arange(len(scores))
    return top[np.lexsort((tie_rank[top], -scores[top]))][:k]


def _standardised(scores: np.ndarray) -> np.ndarray:
    """Scores on a common scale (mean 0, standard deviation 1 over all items)."""
    # Moments from two dot products: a third of the time of numpy's mean() and std().
    mean = float(scores.sum()) / scores.size
    variance = float(scores @ scores) / scores.size - mean * mean
    scale = 1.0 / math.sqrt(variance) if variance > 1e-12 else 1.0
    return ((scores - mean) * scale).astype(np.float32, copy=False)


def _unit_rows(matrix: np.ndarray | None) -> np.ndarray | None:
    if matrix is None:
        return None
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _display_path(source: str) -> str:
    """The ratings path as people configured it: relative to the working directory if inside."""
    if not source:
        return ""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd()))
    except ValueError:
        return source
