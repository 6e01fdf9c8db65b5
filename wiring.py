"""The wiring: builds each of the app's collaborators from the settings, on first use.

The recommender (Amazon Personalize or the embedded engine), its fallback, the catalogue, the
ratings, the stored ratings, the OMDb client and the event sender. This is the one place that
decides which backend is active; tests inject their own collaborators by name (`Injected`),
and a misspelled name is an error. `Wiring.services` hands the use cases what it built.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from botocore.exceptions import BotoCoreError
from flask import current_app

import config as settings_module
from dataset import Catalog, DataFileError, Interactions, read_interactions
from embedded import EmbeddedEngines
from omdb import DEFAULT_BASE_URL as DEFAULT_OMDB_URL
from omdb import OmdbClient
from personalize import (
    EventSender,
    PersonalizeRecommender,
    make_events_client,
    make_runtime_client,
)
from personalize_shelves import (
    PersonalizeRanker,
    PersonalizeRelated,
    describe,
    shelf_recommender,
)
from recommender.interface import Recommender, RecommenderUnavailable
from search import EmbeddedRanker, Ranker, TitleIndex
from services import Services
from shelves import Source, listing_of, popular_of
from store import RatingStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The embedded recipe behind "Trending now" (were it missing from the registry, there would be
# no Trending shelf on the embedded engine rather than the Most popular one relabelled).
TRENDING_RECIPE = "trending-now"


class Injected(TypedDict, total=False):
    """Collaborators a test (or another host) gives instead of having them built."""

    recommender: Recommender
    fallback: Recommender  # the embedded engine, when the recommender can't do something
    catalog: Catalog
    interactions: Interactions
    omdb: OmdbClient
    store: RatingStore
    events: EventSender
    ranker: Ranker  # re-orders search results for a user
    runtime_client: Any  # personalize-runtime, for the per-shelf and ranking ARNs


class Wiring:
    """The app's collaborators, each built on first use.

    Lazy so that CLI commands such as `personalize status` don't pay for training a model;
    `python app.py` warms them up before serving.
    """

    def __init__(
        self, settings: Mapping[str, Any], instance_path: str, **given: Unpack[Injected]
    ) -> None:
        unknown = sorted(set(given) - set(Injected.__annotations__))
        if unknown:
            raise TypeError(f"no collaborator called {', '.join(unknown)}")
        self._settings = settings
        self._instance = Path(instance_path)
        self._built: dict[str, Any] = dict(given)
        # Why a build failed, with the ratings file's signature at the time (for /healthz).
        self._failures: dict[str, tuple[RecommenderUnavailable, object]] = {}
        self._lock = threading.RLock()
        self._engines = EmbeddedEngines(settings, self._instance, self)
        self.services = Services(self)

    def _get(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                try:
                    self._built[name] = build()
                except RecommenderUnavailable as problem:
                    self._failures[name] = (problem, self._ratings_signature())
                    raise
                self._failures.pop(name, None)
            return self._built[name]

    def is_built(self, name: str) -> bool:
        return name in self._built

    def unavailable(self) -> RecommenderUnavailable | None:
        """Why pages fail right now, as far as is known without building or calling anything.

        A remembered build failure counts while the ratings file is unchanged (a fixed file is
        tried again by the next page); before any build, the file must at least open.
        """
        signature = self._ratings_signature()
        for problem, seen in list(self._failures.values()):
            if seen == signature:
                return problem
        if self.is_built("interactions"):
            return None
        return self._ratings_file_problem()

    def _ratings_path(self) -> Path:
        return settings_module.resolve_path(self._settings["RATINGS_PATH"])

    def _ratings_signature(self) -> object:
        try:
            stat = self._ratings_path().stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _ratings_file_problem(self) -> RecommenderUnavailable | None:
        path = self._ratings_path()
        if not path.exists() and self.uses_personalize:
            return None  # Personalize needs no ratings file
        try:
            with path.open("rb"):
                return None
        except OSError as error:
            return _unreadable_ratings(error)

    @property
    def uses_personalize(self) -> bool:
        return bool(
            self._settings["PERSONALIZE_CAMPAIGN_ARN"]
            or self._settings["PERSONALIZE_RECOMMENDER_ARN"]
        )

    # -- the collaborators ----------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self._get("catalog", self._build_catalog)

    @property
    def interactions(self) -> Interactions | None:
        """The ratings file (None: Personalize without one); the app's are in the store.

        Raises RecommenderUnavailable when the file cannot be read.
        """
        return self._get("interactions", self._build_interactions)

    @property
    def omdb(self) -> OmdbClient:
        return self._get("omdb", self._build_omdb)

    @property
    def store(self) -> RatingStore:
        database_url = self._settings["DATABASE_URL"]
        return self._get(
            "store", lambda: RatingStore(self._instance / "ratings.sqlite", database_url)
        )

    @property
    def recommender(self) -> Recommender:
        """Raises RecommenderUnavailable when it cannot be built (e.g. no ratings file)."""
        self._engines.poll()  # a newer model from `flask train`, now and then (embedded.py)
        build = self._build_personalize if self.uses_personalize else lambda: self.fallback
        return self._get("recommender", build)

    @property
    def fallback(self) -> Recommender:
        """The embedded engine: the default backend, and "more like this" without SIMS."""
        self._engines.poll()
        return self._get("fallback", self._engines.build)

    @property
    def events(self) -> EventSender | None:
        """Sends ratings to Personalize when an event tracker is configured."""
        if not (self.uses_personalize and self._settings["PERSONALIZE_TRACKING_ID"]):
            return None
        return self._get("events", self._build_events)

    def _build_catalog(self) -> Catalog:
        path = settings_module.resolve_path(self._settings["ITEMS_PATH"])
        if not path.exists():
            logger.warning("No items file at %s; titles will come from the item IDs", path)
            return Catalog()
        return Catalog.from_csv(path)

    def _build_interactions(self) -> Interactions | None:
        path = self._ratings_path()
        if not path.exists() and self.uses_personalize:
            return None
        try:
            return read_interactions(path, cache_dir=self._instance)
        except (OSError, DataFileError) as error:
            raise _unreadable_ratings(error) from error

    def _build_omdb(self) -> OmdbClient:
        return OmdbClient(
            self._settings["OMDB_API_KEY"] or None,
            cache_path=self._instance / "omdb-cache.sqlite",
            cache_url=self._settings["CACHE_URL"],
            base_url=self._settings["OMDB_BASE_URL"] or DEFAULT_OMDB_URL,
        )

    # -- what the embedded engines need (embedded.EngineParts) -----------------------------

    def app_ratings(self) -> list[tuple[str, str, float, int]]:
        return self.store.all()

    def read_interactions(self) -> Interactions | None:
        return self._build_interactions()

    def serve(self, engine: Recommender, interactions: Interactions | None) -> None:
        with self._lock:
            served = self._built.get("fallback")
            for name in ("fallback", "recommender"):  # the same engine when it is the backend
                if self._built.get(name, engine) is served:
                    self._built[name] = engine
            self._built["interactions"] = interactions

    def _build_personalize(self) -> PersonalizeRecommender:
        settings = self._settings
        return PersonalizeRecommender(
            self._aws_client(make_runtime_client),
            campaign_arn=settings["PERSONALIZE_CAMPAIGN_ARN"],
            recommender_arn=settings["PERSONALIZE_RECOMMENDER_ARN"],
            filter_arn=settings["PERSONALIZE_FILTER_ARN"],
            genre_filter_arn=settings["PERSONALIZE_GENRE_FILTER_ARN"],
            sims_campaign_arn=settings["PERSONALIZE_SIMS_CAMPAIGN_ARN"],
        )

    def _build_events(self) -> EventSender:
        return EventSender(
            self._aws_client(make_events_client), self._settings["PERSONALIZE_TRACKING_ID"]
        )

    def _aws_client(self, make: Callable[[str], Any], arn: str = "") -> Any:
        arn = arn or self._settings["PERSONALIZE_CAMPAIGN_ARN"] or self._settings[
            "PERSONALIZE_RECOMMENDER_ARN"
        ]
        region = self._settings["AWS_REGION"] or settings_module.region_of(arn)
        try:
            return make(region)
        except (BotoCoreError, ValueError) as error:
            # Credentials are resolved when the client is made: a missing profile fails here.
            raise RecommenderUnavailable(
                f"The AWS client could not be set up: {error}",
                "Check AWS_PROFILE and the AWS configuration files.",
            ) from error

    # -- search, shelves and compare ------------------------------------------------------

    @property
    def titles(self) -> TitleIndex:
        return self._get("titles", lambda: TitleIndex.of(self.catalog))

    @property
    def ranker(self) -> Ranker:
        """GetPersonalizedRanking with a ranking campaign; else the embedded engine's scores."""
        arn = self._settings["PERSONALIZE_RANKING_CAMPAIGN_ARN"]
        if arn or self.is_built("ranker"):
            return self._get("ranker", lambda: PersonalizeRanker(self._runtime_for(arn), arn))
        # Made anew each time (it is cheap), so a failing fallback is not remembered as ours.
        interactions = self.interactions
        n_items = interactions.n_items if interactions is not None else 0
        return EmbeddedRanker(self.fallback, n_items, self.services.history)

    def _runtime_for(self, arn: str) -> Any:
        """The personalize-runtime client for the per-shelf and ranking ARNs (one for all)."""
        return self._get("runtime_client", lambda: self._aws_client(make_runtime_client, arn))

    def _standing_in(self, *settings: str) -> str | None:
        """Why the embedded engine serves a shelf that Personalize could serve."""
        if not self.uses_personalize:
            return None
        unset = " and ".join(settings) + (" are" if len(settings) > 1 else " is")
        return f"{unset} not set, so the embedded recommender serves this shelf."

    @property
    def related_source(self) -> Source:
        """"Because you watched X": its own ARN, else the SIMS campaign, else item-to-item."""
        arn = self._settings["PERSONALIZE_BECAUSE_YOU_WATCHED_ARN"]
        if arn:
            related = PersonalizeRelated(self._runtime_for(arn), arn)
            return Source(related.description, related=related.related)
        if self.uses_personalize and self._settings["PERSONALIZE_SIMS_CAMPAIGN_ARN"]:
            recommender = self.recommender
            return Source(recommender.similar_description,
                          related=lambda user_id, item_id, n: recommender.similar(item_id, n))
        return Source("Embedded recommender · item-to-item",
                      related=lambda user_id, item_id, n: self.fallback.similar(item_id, n),
                      note=self._standing_in("PERSONALIZE_BECAUSE_YOU_WATCHED_ARN"))

    @property
    def trending_source(self) -> Source | None:
        arn = self._settings["PERSONALIZE_TRENDING_ARN"]
        if arn:
            trending = shelf_recommender(self._runtime_for(arn), arn)
            return Source(describe(arn), listing_of(lambda: trending))
        if TRENDING_RECIPE not in settings_module.RECIPES:
            return None  # the embedded engine cannot tell trending from popular yet
        return Source(f"Embedded recommender · {TRENDING_RECIPE}",
                      listing_of(lambda: self.embedded_recipe(TRENDING_RECIPE)),
                      note=self._standing_in("PERSONALIZE_TRENDING_ARN"))

    @property
    def popular_source(self) -> Source:
        arn = self._settings["PERSONALIZE_POPULAR_ARN"]
        if arn:
            popular = shelf_recommender(self._runtime_for(arn), arn)
            return Source(describe(arn), listing_of(lambda: popular))
        return Source("Embedded recommender · popularity-count", popular_of(lambda: self.fallback),
                      note=self._standing_in("PERSONALIZE_POPULAR_ARN"))

    @property
    def genre_source(self) -> Source:
        """Most popular in a genre: Personalize needs the popular ARN and the genre filter."""
        arn, genre_filter = (self._settings["PERSONALIZE_POPULAR_ARN"],
                             self._settings["PERSONALIZE_GENRE_FILTER_ARN"])
        if arn and genre_filter:
            popular = shelf_recommender(self._runtime_for(arn), arn, genre_filter_arn=genre_filter)
            return Source(describe(arn), listing_of(lambda: popular))
        return Source("Embedded recommender · popularity-count", popular_of(lambda: self.fallback),
                      note=self._standing_in("PERSONALIZE_POPULAR_ARN",
                                             "PERSONALIZE_GENRE_FILTER_ARN"))

    @property
    def personalize_contender(self) -> Callable[[], Recommender] | None:
        """The Personalize campaign (or recommender) to compare with, when one is configured."""
        return (lambda: self.recommender) if self.uses_personalize else None

    def embedded_recipe(self, recipe: str) -> Recommender:
        """The embedded engine on another recipe: loaded or trained on first use, then kept
        (the RECIPE setting's is the fallback; embedded.EXTRA_RECIPES_KEPT others)."""
        if recipe == self._settings["RECIPE"]:
            return self.fallback
        return self._engines.other(recipe)

    def warm_up(self) -> None:
        """Build everything now, so the first visitor doesn't wait for training."""
        _ = self.catalog
        try:
            logger.info("Serving recommendations from %s", self.recommender.description)
        except RecommenderUnavailable as problem:
            logger.error("%s %s", problem.reason, problem.hint)


def current_wiring() -> Wiring:
    """The wiring of the app handling this request."""
    return current_app.extensions["movies"]


def current_services() -> Services:
    """The use cases of the app handling this request."""
    return current_wiring().services


def _unreadable_ratings(error: Exception) -> RecommenderUnavailable:
    return RecommenderUnavailable(
        f"The ratings file could not be read: {_describe_file_error(error)}",
        "Check RATINGS_PATH, or run `flask --app app data validate` on the file.",
    )


def _describe_file_error(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return f"{error.filename} does not exist"
    return str(error)
