"""The embedded engines the app serves, each from its recipe's saved model: `EmbeddedEngines`.

A recipe's saved model is loaded, or, when none matches the ratings file, trained on the file
plus the ratings made in the app and saved. Ratings made since never make it stale: the use
cases pass each user's history, read from the shared store, with every request, and the engine
folds it in. `flask train` takes them into the model itself.

The RECIPE setting's model is watched (recommender/reloading.py): once `flask train` replaces
its file, each process loads the new one in the background within MODEL_CHECK_SECONDS and the
wiring serves it; a process never trains for that. Other recipes (the compare page's) are
trained on first use and kept, EXTRA_RECIPES_KEPT of them, least recently used out.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import config as settings_module
from dataset import Catalog, Interactions
from recommender.interface import Recommender, RecommenderUnavailable
from recommender.recipes import normalize_recipe
from recommender.reloading import ModelWatch, file_signature

if TYPE_CHECKING:  # numpy and implicit load only when an engine is built
    from recommender.base import EmbeddedRecommender

logger = logging.getLogger(__name__)

EXTRA_RECIPES_KEPT = 2  # recipes trained on demand (compare page) kept in memory besides RECIPE


class EngineParts(Protocol):
    """What the engines are built from, and how a newer model reaches the pages (the wiring)."""

    @property
    def interactions(self) -> Interactions | None: ...

    @property
    def catalog(self) -> Catalog: ...

    def app_ratings(self) -> Sequence[tuple[str, str, float, int]]:
        """Every rating made in the app, for training."""
        ...

    def read_interactions(self) -> Interactions | None:
        """The ratings file, read again now."""
        ...

    def serve(self, engine: Recommender, interactions: Interactions | None) -> None:
        """Serve this engine, on these ratings, from now on."""
        ...


class EmbeddedEngines:
    """Builds the embedded engine for each recipe; see the module docstring."""

    def __init__(self, settings: Mapping[str, Any], instance: Path, parts: EngineParts) -> None:
        self._settings = settings
        self._instance = instance
        self._parts = parts
        self._watch: ModelWatch | None = None
        self._others: OrderedDict[str, Recommender] = OrderedDict()
        self._others_lock = threading.Lock()

    @property
    def recipe(self) -> str:
        return normalize_recipe(self._settings["RECIPE"])

    def model_file(self, recipe: str | None = None) -> Path:
        from recommender.model_files import model_path

        folder = settings_module.model_dir(self._settings, self._instance)
        return model_path(folder, recipe or self.recipe)

    def build(self) -> Recommender:
        """The RECIPE setting's engine, watched for a newer model from then on."""
        path = self.model_file()
        seen = file_signature(path)  # before reading it: a file replaced meanwhile is noticed
        engine = self._load_or_train(self.recipe)
        if engine.health()["model"] == "trained":
            seen = file_signature(path)  # saved just now: not a newer model to load
        self._watch = ModelWatch(path, self._settings["MODEL_CHECK_SECONDS"], self._reload,
                                 seen=seen)
        return engine

    def poll(self) -> None:
        """On every request: a clock read, and at most every MODEL_CHECK_SECONDS one stat."""
        if self._watch is not None:
            self._watch.poll()

    def other(self, recipe: str) -> Recommender:
        """Another recipe's engine: loaded or trained on first use, then kept."""
        with self._others_lock:  # one training per recipe, however many pages ask at once
            if recipe not in self._others:
                self._others[recipe] = self._load_or_train(recipe)
                while len(self._others) > EXTRA_RECIPES_KEPT:
                    self._others.popitem(last=False)
            self._others.move_to_end(recipe)
            return self._others[recipe]

    def _load_or_train(self, recipe: str) -> EmbeddedRecommender:
        interactions = _required(self._parts.interactions)
        from recommender.base import EmbeddedRecommender  # numpy, implicit: only when needed

        return EmbeddedRecommender.load_or_train(
            interactions, self.model_file(recipe).parent, recipe=recipe,
            params=settings_module.model_params(self._settings),
            item_genres=self._item_genres, app_ratings=self._parts.app_ratings,
        )

    def _reload(self) -> None:
        """Serve the model file that replaced the one loaded (StaleModelError: keep this one).

        A model that does not fit the ratings read may have been trained on a newer file: the
        file is read again, once, and tried with that.
        """
        from recommender.model_files import StaleModelError

        interactions = _required(self._parts.interactions)
        try:
            engine = self._load(interactions)
        except StaleModelError:
            interactions = _required(self._parts.read_interactions())
            engine = self._load(interactions)
        self._parts.serve(engine, interactions)
        logger.info("Serving the new model in %s (%s)", self.model_file(),
                    engine.health()["model_fingerprint"])

    def _load(self, interactions: Interactions) -> EmbeddedRecommender:
        from recommender.base import EmbeddedRecommender

        return EmbeddedRecommender.load(self.model_file(), interactions, recipe=self.recipe,
                                        params=settings_module.model_params(self._settings),
                                        item_genres=self._item_genres)

    def _item_genres(self, item_id: str) -> tuple[str, ...]:
        return self._parts.catalog.get(item_id).genres


def _required(interactions: Interactions | None) -> Interactions:
    if interactions is None:
        raise RecommenderUnavailable(
            "There is no ratings file for the embedded recommender.",
            "Set RATINGS_PATH to the ratings file you imported into Personalize.",
        )
    return interactions

