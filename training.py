"""Training the embedded recommender, and its saved models: parameters, weights, matrices, files.

`engine.EmbeddedRecommender` serves what `train_model` builds; `flask train` (commands.py)
builds and saves one without serving it. A model is one .npz file under instance/, reused while
the ratings file, recipe and parameters are unchanged (the fingerprint covers all three).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import ItemItemRecommender
from threadpoolctl import threadpool_limits

from dataset import Interactions
from files import atomic_write

USER_PERSONALIZATION = "user-personalization"
POPULARITY_COUNT = "popularity-count"
SIMS = "sims"
RECIPES = (USER_PERSONALIZATION, POPULARITY_COUNT, SIMS)
DEFAULT_RECIPE = USER_PERSONALIZATION
# Bump when the .npz layout or the meaning of a parameter changes: old files then retrain.
MODEL_FORMAT = 2
# implicit runs ALS on this many threads (0 = every core); BLAS stays at one thread throughout.
ALS_THREADS = 0


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
    # Sequence (user-personalization): each interaction is "followed by" the same user's next
    # `sequence_window` interactions, the d-th one weighing sequence_decay ** (d - 1); each item
    # keeps its `sequence_neighbours` strongest followers, as shares of its total. A user's
    # recent items vote for their followers (the newest weighs 1, half as much per
    # `sequence_half_life` items back), and the vote, standardised, is added to the
    # standardised ALS score times `sequence_weight`. 0 turns it off.
    sequence_weight: float = 0.5
    sequence_window: int = 20
    sequence_decay: float = 0.9
    sequence_half_life: float = 3.0
    sequence_neighbours: int = 100
    random_state: int = 42

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelParams:
        return cls(**json.loads(text))

    @property
    def recent_count(self) -> int:
        """How many of a user's newest items vote in the sequence score (older ones weigh ~0)."""
        return max(1, math.ceil(10 * self.sequence_half_life))  # half-life 0: the newest only


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
    order = _time_order(users, timestamps)
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    sorted_users = users[order]
    ranks = np.empty(len(users), dtype=np.float32)
    ranks[order] = counts[sorted_users] - 1 - (rows - starts[sorted_users])
    return ranks


def _time_order(users: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Row order by user, then time; equal timestamps keep file order."""
    return np.lexsort((np.arange(len(users)), timestamps, users))


def sequence_matrix(interactions: Interactions, params: ModelParams) -> sp.csr_matrix:
    """Items x items: row a holds the items rated soon after a, as shares of a's row total."""
    order = _time_order(interactions.users, interactions.timestamps)
    users, items = interactions.users[order], interactions.items[order]
    n = interactions.n_items
    follows = sp.csr_matrix((n, n), dtype=np.float32)
    # One distance at a time keeps memory at one pass's pairs, not window x interactions.
    for distance in range(1, params.sequence_window + 1):
        before, after = items[:-distance], items[distance:]
        # An item does not follow itself (a re-rating is not a recommendation).
        pair = (users[distance:] == users[:-distance]) & (before != after)
        before, after = before[pair], after[pair]
        weight = np.full(before.size, params.sequence_decay ** (distance - 1), dtype=np.float32)
        follows = follows + sp.csr_matrix((weight, (before, after)), shape=(n, n))
    totals = np.asarray(follows.sum(axis=1)).ravel()
    follows = sp.diags((1.0 / np.maximum(totals, 1e-12)).astype(np.float32)) @ follows
    return _strongest_per_row(follows.tocsr(), params.sequence_neighbours)


def _strongest_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest entries (ties by column), the rest dropped."""
    matrix.sort_indices()  # so a stable sort of a row breaks ties by column
    lengths = np.diff(matrix.indptr)
    kept = np.ones(matrix.nnz, dtype=bool)
    # Row by row, and only the long rows: a third of the time of one sort over every entry.
    for row in np.flatnonzero(lengths > keep):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        weakest = np.argsort(-matrix.data[start:end], kind="stable")[keep:]
        kept[start + weakest] = False
    indptr = np.concatenate([[0], np.cumsum(np.minimum(lengths, keep))])
    pruned = (matrix.data[kept], matrix.indices[kept], indptr)
    return sp.csr_matrix(pruned, shape=matrix.shape).astype(np.float32)


def recent_items(interactions: Interactions, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's newest `count` item codes, oldest first, as (indptr, codes) by user code."""
    order = _time_order(interactions.users, interactions.timestamps)
    users = interactions.users[order]
    ends = np.cumsum(np.bincount(users, minlength=interactions.n_users))
    from_newest = ends[users] - 1 - np.arange(len(order))
    kept = order[from_newest < count]
    counts = np.bincount(interactions.users[kept], minlength=interactions.n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return indptr, interactions.items[kept].astype(np.int32)


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


# --- training and model files -------------------------------------------------------------


@dataclass
class TrainedModel:
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
    sequence: sp.csr_matrix | None = None  # items x followers (user-personalization)
    train_seconds: float = 0.0
    extras: dict[str, object] = field(default_factory=dict)


def train_model(
    interactions: Interactions,
    recipe: str = DEFAULT_RECIPE,
    params: ModelParams | None = None,
    progress: bool = False,
) -> tuple[TrainedModel, sp.csr_matrix]:
    """Train a recipe; also returns the confidence matrix, which serving needs too."""
    recipe = normalize_recipe(recipe)
    params = params or ModelParams()
    if len(interactions) == 0:
        raise ValueError("cannot train on an empty ratings file")
    started = time.perf_counter()
    rating_range = _rating_range(interactions.ratings)
    model = TrainedModel(
        recipe=recipe,
        params=params,
        fingerprint=model_fingerprint(interactions, recipe, params),
        item_ids=list(interactions.item_ids),
        user_ids=list(interactions.user_ids),
        popularity=np.bincount(interactions.items, minlength=interactions.n_items),
        rating_range=rating_range,
    )
    matrix = user_item_matrix(interactions, params, rating_range)
    with threadpool_limits(1, "blas"):
        if recipe == USER_PERSONALIZATION:
            als = make_als(params, num_threads=ALS_THREADS)
            als.fit(matrix, show_progress=progress)
            model.user_factors, model.item_factors = als.user_factors, als.item_factors
            if params.sequence_weight > 0:
                model.sequence = sequence_matrix(interactions, params)
        elif recipe == SIMS:
            # Similarity is about items, not about when someone watched them: recency weights
            # only the query side (validation NDCG@10 0.059 -> 0.088).
            timeless = replace(params, recency_half_life=0.0)
            counts = user_item_matrix(interactions, timeless, rating_range)
            knn = ItemItemRecommender(K=params.neighbours, num_threads=ALS_THREADS)
            knn.fit(_unit_columns(counts), show_progress=progress)
            model.similarity = knn.similarity.astype(np.float32).tocsr()
    model.train_seconds = time.perf_counter() - started
    return model, matrix


def save_model(model: TrainedModel, path: str | Path) -> None:
    """Write the model to one .npz file, atomically (a reader never sees half a file)."""
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
    for name in ("similarity", "sequence"):
        matrix = getattr(model, name)
        if matrix is not None:
            arrays |= {
                f"{name}_data": matrix.data,
                f"{name}_indices": matrix.indices,
                f"{name}_indptr": matrix.indptr,
            }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as file:
        np.savez(file, **arrays)


def load_model(
    path: str | Path,
    interactions: Interactions,
    recipe: str | None = None,
    params: ModelParams | None = None,
) -> TrainedModel:
    """A saved model; StaleModelError when it was not trained on these data and settings."""
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
        model = TrainedModel(
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
        model.similarity = _load_csr(saved, "similarity", len(model.item_ids))
        model.sequence = _load_csr(saved, "sequence", len(model.item_ids))
    model.extras["loaded_from"] = str(path)
    return model


def _load_csr(saved: Mapping[str, np.ndarray], name: str, n_items: int) -> sp.csr_matrix | None:
    """An items x items matrix saved as three arrays, or None when the model has none."""
    if f"{name}_data" not in saved:
        return None
    parts = (saved[f"{name}_data"], saved[f"{name}_indices"], saved[f"{name}_indptr"])
    return sp.csr_matrix(parts, shape=(n_items, n_items))


def _unit_columns(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each item's column to unit length: dot products become cosine similarities."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    return (matrix @ sp.diags(1.0 / np.maximum(norms, 1e-12))).tocsr().astype(np.float64)


def make_als(params: ModelParams, num_threads: int) -> AlternatingLeastSquares:
    return AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        alpha=params.alpha,
        iterations=params.iterations,
        random_state=params.random_state,
        num_threads=num_threads,
    )
