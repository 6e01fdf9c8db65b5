"""`EmbeddedRecommender`: what every embedded recipe shares, and the base each one extends.

The base serves the `Recommender` interface: a user's state and fold-in (users.py), the
exclusions, the genre filter and the cut (ranking.py), popular items, the cold start, training,
saving and loading. A recipe (recipes.py lists them) is a subclass that says how it trains
(`fit_parts`) and how it scores a user (`_scores`); it may add item similarity (`_similar`,
`_similarity`) and user vectors for fold-in (`_trained_user_vector`, `_folded_user_vector`).
A user whose history (as the caller read it) differs from what the model was trained on, a new
user or a new rating, is folded in at query time, which is also how the offline evaluation
queries its held-out users, so it measures the code the app serves.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from dataset import Interactions
from dataset.csvfiles import display_path
from recommender.blas import one_blas_thread
from recommender.interface import Rated, Recommendation, RecommendationList
from recommender.model_files import (
    AppRating,
    ModelParams,
    Part,
    StaleModelError,
    TrainedModel,
    load_model,
    model_fingerprint,
    model_path,
    save_model,
    with_app_ratings,
)
from recommender.ranking import top_items
from recommender.recipes import DEFAULT_RECIPE, RECIPE_CLASSES, normalize_recipe
from recommender.users import Users, UserState
from recommender.weights import rating_range, user_item_matrix

logger = logging.getLogger(__name__)

ItemGenres = Callable[[str], Collection[str]]  # an item's genres, for the genre filter
# implicit trains on this many threads (0 = every core); BLAS stays at one thread throughout.
TRAINING_THREADS = 0


def recipe_class(recipe: str) -> type[EmbeddedRecommender]:
    """The class that trains and serves a recipe (Personalize's spellings are accepted)."""
    module, _, name = RECIPE_CLASSES[normalize_recipe(recipe)].partition(":")
    return getattr(importlib.import_module(module), name)


class EmbeddedRecommender:
    """A Personalize-style recipe served from memory; see the module docstring."""

    name: ClassVar[str] = ""  # the recipe's name in recipes.py

    def __init__(
        self,
        model: TrainedModel,
        interactions: Interactions,
        rated: sp.csr_matrix | None = None,
        *,
        item_genres: ItemGenres | None = None,
    ) -> None:
        """`rated`: the training users' confidence matrix, when the caller has it already."""
        self._model = model
        self._item_genres = item_genres  # None: no genre filter
        self._interactions = interactions
        self._item_index = {item_id: code for code, item_id in enumerate(model.item_ids)}
        # Most popular first; ties by ITEM_ID so the order never depends on file order.
        self._id_rank = np.argsort(np.argsort(np.asarray(model.item_ids), kind="stable"))
        self._popular_order = np.lexsort((self._id_rank, -model.popularity))
        self._popular_score = model.popularity.astype(np.float32)
        self._tie_rank = self._id_rank  # equal scores in ITEM_ID order; a recipe may say otherwise
        self._prepare()
        if rated is None:
            rated = user_item_matrix(interactions, model.params, model.rating_range)
        self._users = Users(
            model,
            interactions,
            self._item_index,
            rated,
            recent_count=model.params.recent_count if self._keeps_recent_items else None,
            trained_vector=self._trained_user_vector,
            folded_vector=self._folded_user_vector,
        )

    # -- what a recipe adds ------------------------------------------------------------------

    @classmethod
    def fit_parts(
        cls, model: TrainedModel, interactions: Interactions, matrix: sp.csr_matrix, progress: bool
    ) -> dict[str, Part]:
        """Learn from the interactions (`matrix` is their confidence, users x items); what is
        returned is saved with the model and read back into `self._model.parts`."""
        return {}

    def _prepare(self) -> None:
        """Read what was learnt (`self._model.parts`) into what serving uses."""

    def _scores(self, state: UserState) -> np.ndarray:
        """A fresh score per item for a user with some history (the caller may overwrite it)."""
        raise NotImplementedError

    def _ranked(
        self, state: UserState, n: int, excluded: np.ndarray, genre: str | None
    ) -> list[Recommendation]:
        """`_top` of `_scores`; a recipe may find the same list without scoring every item."""
        return self._top(self._scores(state), n, excluded, genre)

    def _similar(self, code: int, n: int) -> list[Recommendation]:
        """Items like this one. Without a notion of similarity: the popular items."""
        return self.popular(n, exclude=(self._model.item_ids[code],))

    def _similarity(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray | None:
        """Item similarity (rows x columns, by code) for `explain`; None: the recipe has none."""
        return None

    def _trained_user_vector(self, code: int) -> np.ndarray | None:
        return None

    def _folded_user_vector(self, row: sp.csr_matrix) -> np.ndarray | None:
        return None

    @property
    def _keeps_recent_items(self) -> bool:
        """Whether scoring uses the training users' newest items (UserState.recent)."""
        return False

    # -- building ------------------------------------------------------------------------

    @classmethod
    def fit(
        cls, interactions: Interactions, params: ModelParams | None = None, progress: bool = False
    ) -> tuple[TrainedModel, sp.csr_matrix]:
        """Train this class's recipe; also returns the confidence matrix, which serving needs."""
        params = params or ModelParams()
        if len(interactions) == 0:
            raise ValueError("cannot train on an empty ratings file")
        started = time.perf_counter()
        model = TrainedModel(
            recipe=cls.name,
            params=params,
            fingerprint=model_fingerprint(interactions, cls.name, params),
            item_ids=list(interactions.item_ids),
            user_ids=list(interactions.user_ids),
            popularity=np.bincount(interactions.items, minlength=interactions.n_items),
            rating_range=rating_range(interactions.ratings),
        )
        matrix = user_item_matrix(interactions, params, model.rating_range)
        with one_blas_thread():  # implicit's threads do the work; BLAS's would compete with them
            model.parts = cls.fit_parts(model, interactions, matrix, progress)
        model.train_seconds = time.perf_counter() - started
        return model, matrix

    @classmethod
    def train(
        cls,
        interactions: Interactions,
        *,
        recipe: str | None = None,
        params: ModelParams | None = None,
        progress: bool = False,
        item_genres: ItemGenres | None = None,
        app_ratings: Sequence[AppRating] = (),
    ) -> EmbeddedRecommender:
        """Train a recipe (default: this class's, or DEFAULT_RECIPE) and serve it; on the
        ratings file plus `app_ratings` (made in the app), which the saved model records."""
        chosen = recipe_class(recipe or cls.name or DEFAULT_RECIPE)
        data = with_app_ratings(interactions, app_ratings)
        model, matrix = chosen.fit(data, params, progress)
        model.app_ratings = tuple(app_ratings)
        return chosen(model, data, matrix, item_genres=item_genres)

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
        data = with_app_ratings(interactions, model.app_ratings)
        return recipe_class(model.recipe)(model, data, item_genres=item_genres)

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
        app_ratings: Callable[[], Sequence[AppRating]] = tuple,
    ) -> EmbeddedRecommender:
        """Reuse model_dir's saved model when it matches; otherwise train and save one.

        A saved model matches whatever ratings were made in the app since it was trained (they
        are folded in per request); a new one is trained on the file plus `app_ratings()`.
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
        model = cls.train(interactions, recipe=recipe, params=params, progress=progress,
                          item_genres=item_genres, app_ratings=app_ratings())
        try:
            model.save(path)
        except OSError as error:  # a read-only instance/ should not stop the app
            logger.warning("Could not save the model to %s (%s)", path, error)
        return model

    def save(self, path: str | Path) -> None:
        """Write the model to one .npz file, atomically (a reader never sees half a file)."""
        save_model(self._model, path)

    # -- the Recommender interface ------------------------------------------------------------

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
        source = display_path(self._interactions.source, str(Path.cwd())) or "in-memory ratings"
        text = f"Embedded recommender · {source}, {len(self._users):,} users"
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
            "users": len(self._users),
            "items": len(self._model.item_ids),
            "interactions": len(self._interactions),
            "model": "loaded" if "loaded_from" in self._model.extras else "trained",
            "model_fingerprint": self._model.fingerprint[:16],
            "users_kept": self._users.cached,  # states this process keeps (bounded)
        }

    def recommend(
        self,
        user_id: str,
        n: int,
        *,
        exclude: Collection[str] = (),
        genre: str | None = None,
        history: Sequence[Rated] | None = None,
    ) -> RecommendationList:
        """Top-n items for the user; an unknown user gets the popular items, flagged cold_start.

        `history`: the user's whole history as read now (None: as trained). Never an item of
        `exclude` or one the user rated.
        """
        state = self._users.state(user_id, history)
        if state is None or state.rated.size == 0:  # nothing known about them yet
            popular = self.popular(n, exclude=exclude, genre=genre)
            return RecommendationList(popular, cold_start=True)
        excluded = np.concatenate([state.rated, self._codes(exclude)])
        return RecommendationList(self._ranked(state, n, excluded, genre))

    def similar(self, item_id: str, n: int) -> list[Recommendation]:
        """Items like this one ("more like this"); [] for an item the model has never seen."""
        code = self._item_index.get(item_id)
        if code is None or n < 1:
            return []
        return self._similar(code, n)

    def explain(
        self, user_id: str, item_ids: Sequence[str], *, among: Collection[str] | None = None,
        history: Sequence[Rated] | None = None,
    ) -> dict[str, str]:
        """For each item, the user's rated item that leads to it most ("because you rated X").

        That is the rated item (of `among`, when given: say, the ones the user liked) with the
        highest similarity to it, weighted by how much the rating counts (its stars and
        recency, as in training). Empty for an unknown user or a recipe without similarity.
        `history` as for `recommend`.
        """
        state = self._users.state(user_id, history)
        codes = self._codes(item_ids)
        if state is None or state.rated.size == 0 or codes.size == 0:
            return {}
        rated, weights = state.rated, state.weights
        if among is not None:
            keep = np.isin(rated, self._codes(among))
            if keep.any():
                rated, weights = rated[keep], weights[keep]
        similarity = self._similarity(rated, codes)
        if similarity is None:
            return {}
        leading = np.argmax(similarity * weights[:, None], axis=0)
        item_ids = self._model.item_ids
        return {
            item_ids[code]: item_ids[rated[best]] for code, best in zip(codes, leading, strict=True)
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
        allowed = self._in_genre(genre)
        found = []
        for code in self._popular_order:
            if len(found) >= n:
                break
            item_id = self._model.item_ids[code]
            if item_id not in skip and (allowed is None or allowed(item_id)):
                found.append(
                    Recommendation(item_id, float(self._model.popularity[code]), "popular")
                )
        return found

    def in_training(self, user_id: str) -> bool:
        """Whether the model was trained on this user's interactions (folded-in users were not)."""
        return self._users.in_training(user_id)

    # -- shared by the recipes -----------------------------------------------------------------

    def _top(
        self, scores: np.ndarray, n: int, excluded: np.ndarray, genre: str | None = None
    ) -> list[Recommendation]:
        """The n best-scoring items, none of `excluded`, all of `genre` when given."""
        return top_items(
            scores,
            n,
            excluded,
            item_ids=self._model.item_ids,
            tie_rank=self._tie_rank,
            allowed=self._in_genre(genre),
        )

    def _in_genre(self, genre: str | None) -> Callable[[str], bool] | None:
        if genre is None:
            return None
        item_genres = self._item_genres
        if item_genres is None:
            raise ValueError("filtering by genre needs item_genres")
        return lambda item_id: genre in item_genres(item_id)

    def _codes(self, item_ids: Collection[str]) -> np.ndarray:
        codes = [self._item_index[item] for item in item_ids if item in self._item_index]
        return np.asarray(codes, dtype=np.int64)
