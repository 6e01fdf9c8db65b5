"""The saved model: its parameters, its fingerprint, and its one .npz file (save and load).

A model is one file under instance/ (`model_path`), reused while the ratings file, the recipe
and the parameters are unchanged: the fingerprint covers all three, and MODEL_FORMAT the file's
layout. The ratings made in the app that a model was trained on are saved in it too
(`TrainedModel.app_ratings`), so loading rebuilds exactly the data it learnt from; ratings made
since do not make it stale (they are folded in until the next `flask train`). What a recipe
learnt is kept in `TrainedModel.parts` by name, so a new recipe saves and loads its own arrays
with no change here.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from dataset import Interactions
from files import atomic_write
from recommender.recipes import DEFAULT_RECIPE, DEFAULT_TRENDING_WINDOW_DAYS, normalize_recipe

# Bump when the .npz layout or the meaning of a parameter changes: old files then retrain.
MODEL_FORMAT = 2
# What every model file holds besides its recipe's parts.
_HEADER = ("format", "recipe", "params", "fingerprint", "item_ids", "user_ids", "popularity",
           "rating_range", "train_seconds", "app_user_ids", "app_item_ids", "app_ratings",
           "app_timestamps")

AppRating = tuple[str, str, float, int]  # a rating made in the app: USER_ID, ITEM_ID, RATING, TIME

Part = np.ndarray | sp.csr_matrix  # a sparse part has a row per item or user, a column per item


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
    # trending-now: interactions in the latest this-many days (ending at the data's newest
    # timestamp) against the same span before. Ratings files hold tens of ratings a day, not
    # Personalize's live events, so a month rather than its 30 minutes to 1 day.
    trending_window_days: float = DEFAULT_TRENDING_WINDOW_DAYS
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
    # What the recipe learnt, by name ("item_factors", "similarity", …).
    parts: dict[str, Part] = field(default_factory=dict)
    train_seconds: float = 0.0
    # The ratings made in the app that training added to the ratings file, as of training.
    app_ratings: tuple[AppRating, ...] = ()
    extras: dict[str, object] = field(default_factory=dict)


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


def with_app_ratings(interactions: Interactions, rows: Sequence[AppRating]) -> Interactions:
    """The ratings file followed by ratings made in the app, fingerprinted as the two together."""
    if not rows:
        return interactions
    rows = [(str(user), str(item), float(rating), int(when)) for user, item, rating, when in rows]
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    return interactions.with_rows(
        rows, fingerprint=f"{interactions.fingerprint}+app-ratings:{digest}"
    )


def model_fingerprint(interactions: Interactions, recipe: str, params: ModelParams) -> str:
    text = f"{MODEL_FORMAT}|{data_fingerprint(interactions)}|{recipe}|{params.to_json()}"
    return hashlib.sha256(text.encode()).hexdigest()


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
    app = list(zip(*model.app_ratings, strict=True)) or [(), (), (), ()]
    arrays |= {"app_user_ids": np.asarray(app[0], dtype=str),
               "app_item_ids": np.asarray(app[1], dtype=str),
               "app_ratings": np.asarray(app[2], dtype=np.float64),
               "app_timestamps": np.asarray(app[3], dtype=np.int64)}
    for name, part in model.parts.items():
        if sp.issparse(part):  # as three arrays: npz holds no sparse matrices
            arrays |= {f"{name}_data": part.data, f"{name}_indices": part.indices,
                       f"{name}_indptr": part.indptr}
        else:
            arrays[name] = part
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as file:
        np.savez(file, **arrays)


def load_model(
    path: str | Path,
    interactions: Interactions,
    recipe: str | None = None,
    params: ModelParams | None = None,
) -> TrainedModel:
    """A saved model; StaleModelError when it was not trained on these data and settings.

    `interactions` are the ratings file's; the app's ratings the model recorded are added to them
    before the check, so ratings made in the app since training never make a model stale.
    """
    with np.load(path, allow_pickle=False) as saved:
        if int(saved["format"]) != MODEL_FORMAT:
            raise StaleModelError(f"{path}: saved by another version of the engine")
        saved_recipe = str(saved["recipe"])
        saved_params = ModelParams.from_json(str(saved["params"]))
        app_ratings = _app_ratings(saved)
        expected = model_fingerprint(
            with_app_ratings(interactions, app_ratings),
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
            parts=_load_parts(saved, len(saved["item_ids"])),
            train_seconds=float(saved["train_seconds"]),
            app_ratings=app_ratings,
        )
    model.extras["loaded_from"] = str(path)
    return model


def _app_ratings(saved: Mapping[str, np.ndarray]) -> tuple[AppRating, ...]:
    """The app's ratings a model was trained on (none in a file saved before they were kept)."""
    if "app_user_ids" not in saved:
        return ()
    columns = (saved[name].tolist() for name in
               ("app_user_ids", "app_item_ids", "app_ratings", "app_timestamps"))
    return tuple(zip(*columns, strict=True))


def _load_parts(saved: Mapping[str, np.ndarray], n_items: int) -> dict[str, Part]:
    """Every array beside the header; a sparse part's three arrays made one matrix again."""
    sparse = [key.removesuffix("_indptr") for key in saved if key.endswith("_indptr")]
    pieces = {f"{name}_{piece}" for name in sparse for piece in ("data", "indices", "indptr")}
    parts: dict[str, Part] = {
        key: saved[key] for key in saved if key not in _HEADER and key not in pieces
    }
    for name in sparse:
        indptr = saved[f"{name}_indptr"]
        matrix = (saved[f"{name}_data"], saved[f"{name}_indices"], indptr)
        parts[name] = sp.csr_matrix(matrix, shape=(len(indptr) - 1, n_items))
    return parts
