"""The embedded recommender: Personalize's recipes on the local ratings file, with `implicit`.

Recipes, named as in Amazon Personalize:
- `user-personalization`: implicit's ALS on confidence-weighted interactions;
- `popularity-count`: items by interaction count (also every recipe's cold-start answer);
- `sims`: item-to-item cosine neighbours; a user's list sums the neighbours of their history.

A model is one .npz file under instance/, reused while the ratings file, recipe and parameters
are unchanged. Users absent from training are folded in at query time (`fold_in`), which is
also how `evaluate` queries its held-out users, so it measures the code the app serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import click
import numpy as np
import scipy.sparse as sp
from flask import current_app
from flask.cli import with_appcontext
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import ItemItemRecommender
from threadpoolctl import threadpool_limits

from catalog import Interactions, read_interactions
from personalize import Recommendation, RecommendationList

logger = logging.getLogger(__name__)

USER_PERSONALIZATION = "user-personalization"
POPULARITY_COUNT = "popularity-count"
SIMS = "sims"
RECIPES = (USER_PERSONALIZATION, POPULARITY_COUNT, SIMS)
DEFAULT_RECIPE = USER_PERSONALIZATION
# Bump when the .npz layout or the meaning of a parameter changes: old files then retrain.
MODEL_FORMAT = 1
# implicit runs ALS on this many threads (0 = every core); BLAS stays at one thread throughout.
ALS_THREADS = 0

HistoryRow = tuple[str, "float | None", int]  # (ITEM_ID, RATING or None, TIMESTAMP)


@dataclass(frozen=True)
class ModelParams:
    """Hyperparameters; defaults were chosen by bench/tune.py on training users only."""

    factors: int = 64
    regularization: float = 1.0
    alpha: float = 2.0
    iterations: int = 15
    # Confidence grows with the rating: weight x (1 + rating_weight x rating scaled to 0..1).
    rating_weight: float = 2.0
    # Recency within each user's history: the newest interaction weighs 1, one `half_life`
    # interactions older weighs half as much, down to `recency_floor`. 0 turns it off.
    recency_half_life: float = 20.0
    recency_floor: float = 0.0
    neighbours: int = 100  # sims: neighbours kept per item
    random_state: int = 42

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        return cls(**json.loads(text))


class StaleModelError(ValueError):
    """A saved model was trained on other data, another recipe or other parameters."""


def normalize_recipe(name: str) -> str:
    """Accept Personalize's spellings too: "aws-user-personalization", a recipe ARN, "-v2"."""
    short = name.strip().lower().rsplit("/", 1)[-1].removeprefix("aws-").removesuffix("-v2")
    if short not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)}")
    return short


def model_path(instance_dir: str | Path, recipe: str = DEFAULT_RECIPE) -> Path:
    """Where the app and `flask train` keep the saved model for a recipe."""
    return Path(instance_dir) / f"model-{normalize_recipe(recipe)}.npz"


def data_fingerprint(interactions: Interactions) -> str:
    """The file's fingerprint, or a hash of the arrays for interactions built in memory."""
    if interactions.fingerprint:
        return interactions.fingerprint
    digest = hashlib.sha256()
    for array in (interactions.users, interactions.items, interactions.ratings):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(np.ascontiguousarray(interactions.timestamps).tobytes())
    digest.update("\0".join(interactions.user_ids).encode())
    digest.update("\0".join(interactions.item_ids).encode())
    return "arrays:" + digest.hexdigest()


def model_fingerprint(interactions: Interactions, recipe: str, params: ModelParams) -> str:
    text = f"{MODEL_FORMAT}|{data_fingerprint(interactions)}|{recipe}|{params.to_json()}"
    return hashlib.sha256(text.encode()).hexdigest()


# --- confidence weights -----------------------------------------------------------------


def interaction_weights(
    users: np.ndarray,
    ratings: np.ndarray,
    timestamps: np.ndarray,
    params: ModelParams,
    rating_range: tuple[float, float],
) -> np.ndarray:
    """Confidence of each interaction, from its rating and its recency in its user's history."""
    weights = np.ones(len(users), dtype=np.float32)
    if params.rating_weight:
        low, high = rating_range
        scaled = (ratings - low) / (high - low) if high > low else np.ones_like(ratings)
        # A missing rating counts as a middling one rather than as no interaction at all.
        scaled = np.clip(np.nan_to_num(scaled, nan=0.5), 0.0, 1.0)
        weights *= 1.0 + params.rating_weight * scaled
    if params.recency_half_life > 0:
        age = _ranks_from_newest(users, timestamps)
        decay = 0.5 ** (age / params.recency_half_life)
        weights *= params.recency_floor + (1.0 - params.recency_floor) * decay
    return weights.astype(np.float32)


def _ranks_from_newest(users: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """0 for each user's newest interaction, 1 for the one before, and so on (ties by row)."""
    rows = np.arange(len(users))
    order = np.lexsort((rows, timestamps, users))
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    sorted_users = users[order]
    ranks = np.empty(len(users), dtype=np.float32)
    ranks[order] = counts[sorted_users] - 1 - (rows - starts[sorted_users])
    return ranks


def _rating_range(ratings: np.ndarray) -> tuple[float, float]:
    present = ratings[~np.isnan(ratings)]
    return (float(present.min()), float(present.max())) if present.size else (0.0, 1.0)


def user_item_matrix(
    interactions: Interactions, params: ModelParams, rating_range: tuple[float, float]
) -> sp.csr_matrix:
    """Users x items confidence matrix; repeated interactions add up."""
    weights = interaction_weights(
        interactions.users, interactions.ratings, interactions.timestamps, params, rating_range
    )
    shape = (interactions.n_users, interactions.n_items)
    matrix = sp.csr_matrix((weights, (interactions.users, interactions.items)), shape=shape)
    matrix.sum_duplicates()
    return matrix


# --- the recommender --------------------------------------------------------------------


@dataclass(frozen=True)
class _UserState:
    rated: np.ndarray  # item codes the user has interacted with (never recommended)
    weights: np.ndarray  # their confidence weights (sims scores with them)
    factors: np.ndarray | None = None  # ALS user vector


@dataclass
class _Model:
    """What a saved model holds; arrays are read-only once built."""

    recipe: str
    params: ModelParams
    fingerprint: str
    item_ids: list[str]
    user_ids: list[str]
    popularity: np.ndarray  # interaction count per item
    rating_range: tuple[float, float]
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    similarity: sp.csr_matrix | None = None
    train_seconds: float = 0.0
    extras: dict[str, object] = field(default_factory=dict)


class EmbeddedRecommender:
    """Personalize-style recipes served from memory; see the module docstring."""

    def __init__(
        self, model: _Model, interactions: Interactions, rated: sp.csr_matrix | None = None
    ) -> None:
        self._model = model
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
        self._solver = self._make_solver()
        self._folded: dict[str, tuple[tuple[HistoryRow, ...], _UserState]] = {}
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
    ) -> EmbeddedRecommender:
        recipe = normalize_recipe(recipe)
        params = params or ModelParams()
        if len(interactions) == 0:
            raise ValueError("cannot train on an empty ratings file")
        started = time.perf_counter()
        rating_range = _rating_range(interactions.ratings)
        model = _Model(
            recipe=recipe,
            params=params,
            fingerprint=model_fingerprint(interactions, recipe, params),
            item_ids=list(interactions.item_ids),
            user_ids=list(interactions.user_ids),
            popularity=np.bincount(interactions.items, minlength=interactions.n_items),
            rating_range=rating_range,
        )
        matrix = user_item_matrix(interactions, params, rating_range)
        if recipe != POPULARITY_COUNT:
            with threadpool_limits(1, "blas"):
                if recipe == USER_PERSONALIZATION:
                    als = _als(params, num_threads=ALS_THREADS)
                    als.fit(matrix, show_progress=progress)
                    model.user_factors, model.item_factors = als.user_factors, als.item_factors
                else:
                    # Similarity is about items, not about when someone watched them: recency
                    # weights only the query side (validation NDCG@10 0.059 -> 0.088).
                    timeless = replace(params, recency_half_life=0.0)
                    counts = user_item_matrix(interactions, timeless, rating_range)
                    knn = ItemItemRecommender(K=params.neighbours, num_threads=ALS_THREADS)
                    knn.fit(_unit_columns(counts), show_progress=progress)
                    model.similarity = knn.similarity.astype(np.float32).tocsr()
        model.train_seconds = time.perf_counter() - started
        return cls(model, interactions, matrix)

    @classmethod
    def load(
        cls,
        path: str | Path,
        interactions: Interactions,
        *,
        recipe: str | None = None,
        params: ModelParams | None = None,
    ) -> EmbeddedRecommender:
        """Load a saved model; StaleModelError when it was not trained on these settings."""
        with np.load(path, allow_pickle=False) as saved:
            if int(saved["format"]) != MODEL_FORMAT:
                raise StaleModelError(f"{path}: saved by another version of the engine")
            saved_recipe = str(saved["recipe"])
            saved_params = ModelParams.from_json(str(saved["params"]))
            expected = model_fingerprint(
                interactions,
                normalize_recipe(recipe) if recipe else saved_recipe,
                params or saved_params,
            )
            if str(saved["fingerprint"]) != expected:
                raise StaleModelError(
                    f"{path}: trained on other data or settings; retrain with `flask train`"
                )
            model = _Model(
                recipe=saved_recipe,
                params=saved_params,
                fingerprint=expected,
                item_ids=saved["item_ids"].tolist(),
                user_ids=saved["user_ids"].tolist(),
                popularity=saved["popularity"],
                rating_range=tuple(saved["rating_range"].tolist()),
                train_seconds=float(saved["train_seconds"]),
            )
            if "item_factors" in saved:
                model.user_factors = saved["user_factors"]
                model.item_factors = saved["item_factors"]
            if "similarity_data" in saved:
                model.similarity = sp.csr_matrix(
                    (
                        saved["similarity_data"],
                        saved["similarity_indices"],
                        saved["similarity_indptr"],
                    ),
                    shape=(len(model.item_ids), len(model.item_ids)),
                )
        model.extras["loaded_from"] = str(path)
        return cls(model, interactions)

    @classmethod
    def load_or_train(
        cls,
        interactions: Interactions,
        model_dir: str | Path,
        *,
        recipe: str = DEFAULT_RECIPE,
        params: ModelParams | None = None,
        progress: bool = False,
    ) -> EmbeddedRecommender:
        """Reuse model_dir's saved model when it matches; otherwise train and save one."""
        recipe = normalize_recipe(recipe)
        path = model_path(model_dir, recipe)
        if path.exists():
            try:
                return cls.load(path, interactions, recipe=recipe, params=params)
            except StaleModelError as error:
                logger.info("Retraining: %s", error)
            except (OSError, ValueError, KeyError) as error:
                logger.warning("Retraining: cannot read %s (%s)", path, error)
        model = cls.train(interactions, recipe=recipe, params=params, progress=progress)
        try:
            model.save(path)
        except OSError as error:  # a read-only instance/ should not stop the app
            logger.warning("Could not save the model to %s (%s)", path, error)
        return model

    def save(self, path: str | Path) -> None:
        """Write the model to one .npz file, atomically (a reader never sees half a file)."""
        model = self._model
        arrays: dict[str, np.ndarray] = {
            "format": np.asarray(MODEL_FORMAT),
            "recipe": np.asarray(model.recipe),
            "params": np.asarray(model.params.to_json()),
            "fingerprint": np.asarray(model.fingerprint),
            "item_ids": np.asarray(model.item_ids, dtype=str),
            "user_ids": np.asarray(model.user_ids, dtype=str),
            "popularity": model.popularity,
            "rating_range": np.asarray(model.rating_range),
            "train_seconds": np.asarray(model.train_seconds),
        }
        if model.item_factors is not None:
            arrays["user_factors"] = model.user_factors
            arrays["item_factors"] = model.item_factors
        if model.similarity is not None:
            arrays["similarity_data"] = model.similarity.data
            arrays["similarity_indices"] = model.similarity.indices
            arrays["similarity_indptr"] = model.similarity.indptr
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                np.savez(file, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

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
        allowed_items: Callable[[str], bool] | None = None,
    ) -> RecommendationList:
        """Top-n items for the user; an unknown user gets the popular items, flagged cold_start."""
        state = self._state_of(user_id)
        if state is None or state.rated.size == 0:  # nothing known about them yet
            return RecommendationList(self.popular(n, exclude=exclude), cold_start=True)
        scores = self._scores(state)
        excluded = np.concatenate([state.rated, self._codes(exclude)])
        return RecommendationList(self._top(scores, n, excluded, allowed_items))

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
                state = _UserState(state.rated[keep], state.weights[keep], state.factors)
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

    def popular(self, n: int, *, exclude: Collection[str] = ()) -> list[Recommendation]:
        """The most interacted-with items (Personalize's popularity-count)."""
        skip = set(exclude)
        found = []
        for code in self._popular_order:
            if len(found) >= n:
                break
            item_id = self._model.item_ids[code]
            if item_id not in skip:
                found.append(
                    Recommendation(item_id, float(self._model.popularity[code]), "popular")
                )
        return found

    def in_training(self, user_id: str) -> bool:
        """Whether the model was trained on this user's interactions (folded-in users were not)."""
        return user_id in self._user_index

    def fold_in(self, user_id: str, history: Iterable[HistoryRow]) -> None:
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
            if folded is not None:
                history = folded[0]
            else:
                history = tuple(
                    (row.item_id, row.rating, row.timestamp)
                    for row in self._interactions.history(user_id)
                )
            history = (*history, (item_id, rating, timestamp))
            self._folded[user_id] = (history, self._state_from_history(history))

    # -- internals ---------------------------------------------------------------------------

    def _make_solver(self) -> AlternatingLeastSquares | None:
        """An ALS object around the trained factors, for folding users in."""
        model = self._model
        if model.item_factors is None:
            return None
        solver = _als(model.params, num_threads=1)
        solver.user_factors, solver.item_factors = model.user_factors, model.item_factors
        with threadpool_limits(1, "blas"):
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
        return _UserState(self._rated.indices[start:end], self._rated.data[start:end], factors)

    def _state_from_history(self, history: Sequence[HistoryRow]) -> _UserState:
        """Weights and (for ALS) factors for a history, computed as training computes them."""
        known = [
            (self._item_index[item], np.nan if rating is None else rating, timestamp)
            for item, rating, timestamp in history
            if item in self._item_index  # items new since training cannot be scored yet
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
        return _UserState(row.indices.astype(np.int32), row.data.astype(np.float32), factors)

    def _scores(self, state: _UserState) -> np.ndarray:
        """A fresh score per item for this user (the caller may overwrite it)."""
        model = self._model
        if model.recipe == USER_PERSONALIZATION:
            return model.item_factors @ state.factors
        if model.recipe == SIMS and state.rated.size:
            return np.asarray(state.weights @ model.similarity[state.rated]).ravel()
        return self._popular_score.copy()

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


def _unit_columns(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each item's column to unit length: dot products become cosine similarities."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    return (matrix @ sp.diags(1.0 / np.maximum(norms, 1e-12))).tocsr().astype(np.float64)


def _unit_rows(matrix: np.ndarray | None) -> np.ndarray | None:
    if matrix is None:
        return None
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _als(params: ModelParams, num_threads: int) -> AlternatingLeastSquares:
    return AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        alpha=params.alpha,
        iterations=params.iterations,
        random_state=params.random_state,
        num_threads=num_threads,
    )


def _display_path(source: str) -> str:
    """The ratings path as people configured it: relative to the working directory if inside."""
    if not source:
        return ""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd()))
    except ValueError:
        return source


# --- flask train ---------------------------------------------------------------------------


@click.command("train")
@click.option("--recipe", default=None, help="Recipe to train (default: the RECIPE setting).")
@with_appcontext
def train_command(recipe: str | None) -> None:
    """Train the embedded recommender on RATINGS_PATH and save it under instance/."""
    from catalog import DataFileError
    from config import resolve_path

    settings = current_app.config
    recipe = normalize_recipe(recipe or settings.get("RECIPE") or DEFAULT_RECIPE)
    ratings_path = resolve_path(settings["RATINGS_PATH"])
    click.echo(f"Reading {ratings_path} …")
    try:
        interactions = read_interactions(ratings_path)
    except (OSError, DataFileError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Training {recipe} on {len(interactions):,} interactions "
        f"({interactions.n_users:,} users, {interactions.n_items:,} items)"
    )
    model = EmbeddedRecommender.train(interactions, recipe=recipe, progress=True)
    path = model_path(current_app.instance_path, recipe)
    model.save(path)
    click.echo(f"Saved {path} (trained in {model.train_seconds:.1f} s)")
