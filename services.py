"""What the pages and the API do, independent of HTTP: the app's services.

`Services` builds each collaborator (recommender, catalogue, OMDb client, ratings, stored
ratings) on first use and offers the operations the routes share: recommend, rate, similar.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError
from flask import current_app

import config as settings_module
from dataset import Catalog, DataFileError, Interaction, Interactions, Movie, read_interactions
from inputs import MAX_ID_LENGTH, InvalidInput
from omdb import OmdbClient
from personalize import (
    EventSender,
    PersonalizeRecommender,
    make_events_client,
    make_runtime_client,
)
from recommender.interface import (
    Recommendation,
    Recommender,
    RecommenderUnavailable,
)
from store import RatingStore

logger = logging.getLogger(__name__)

RATINGS_TO_PERSONALIZE = 3  # a new user's ratings before the list is personalized
LIKED_RATING = 3.5  # stars from which a rating counts as liking the movie

T = TypeVar("T")


class UnknownItem(LookupError):
    """An item ID that is neither in the catalogue nor in the ratings."""


# ---------------------------------------------------------------------------------------------
# Results of operations


@dataclass(frozen=True)
class Recommended:
    """A recommendation list with what the page says about it."""

    items: list[Recommendation]
    cold_start: bool
    backend: str
    history: list[Interaction]  # the user's ratings, read once for the whole page
    known_user: bool | None  # in the ratings file or the app's; None without a ratings file
    # False: a popular list for a user the backend has never seen may come without cold_start.
    flags_cold_start: bool = True


@dataclass(frozen=True)
class RatingOutcome:
    timestamp: int
    # None: no event tracker configured; otherwise whether Personalize took the event.
    sent_to_personalize: bool | None = None
    notice: str | None = None


# ---------------------------------------------------------------------------------------------
# Services


class Services:
    """The app's collaborators, each built on first use.

    Lazy so that CLI commands such as `personalize status` don't pay for training a model;
    `python app.py` warms them up before serving.
    """

    def __init__(self, settings: Mapping[str, Any], instance_path: str, **given: Any) -> None:
        self._settings = settings
        self._instance = Path(instance_path)
        self._built: dict[str, Any] = dict(given)
        # Why a build failed, with the ratings file's signature at the time (for /healthz).
        self._failures: dict[str, tuple[RecommenderUnavailable, object]] = {}
        self._lock = threading.RLock()

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
        """The ratings file plus ratings made in the app (None: Personalize without a file).

        Raises RecommenderUnavailable when the file cannot be read.
        """
        return self._get("interactions", self._build_interactions)

    @property
    def omdb(self) -> OmdbClient:
        return self._get("omdb", self._build_omdb)

    @property
    def store(self) -> RatingStore:
        return self._get("store", lambda: RatingStore(self._instance / "ratings.sqlite"))

    @property
    def recommender(self) -> Recommender:
        """Raises RecommenderUnavailable when it cannot be built (e.g. no ratings file)."""
        build = self._build_personalize if self.uses_personalize else lambda: self.fallback
        return self._get("recommender", build)

    @property
    def fallback(self) -> Recommender:
        """The embedded engine: the default backend, and "more like this" without SIMS."""
        return self._get("embedded", self._build_embedded)

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
            parsed = read_interactions(path, cache_dir=self._instance)
        except (OSError, DataFileError) as error:
            raise _unreadable_ratings(error) from error
        return with_stored_ratings(parsed, self.store.all())

    def _build_omdb(self) -> OmdbClient:
        return OmdbClient(
            self._settings["OMDB_API_KEY"] or None,
            cache_path=self._instance / "omdb-cache.sqlite",
        )

    def _build_embedded(self) -> Recommender:
        interactions = self.interactions
        if interactions is None:
            raise RecommenderUnavailable(
                "There is no ratings file for the embedded recommender.",
                "Set RATINGS_PATH to the ratings file you imported into Personalize.",
            )
        from engine import EmbeddedRecommender  # numpy and implicit load only when needed

        return EmbeddedRecommender.load_or_train(
            interactions,
            self._instance,
            recipe=self._settings["RECIPE"],
            item_genres=lambda item_id: self.catalog.get(item_id).genres,
        )

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

    def _aws_client(self, make: Callable[[str], Any]) -> Any:
        arn = self._settings["PERSONALIZE_CAMPAIGN_ARN"] or self._settings[
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

    def warm_up(self) -> None:
        """Build everything now, so the first visitor doesn't wait for training."""
        _ = self.catalog
        try:
            logger.info("Serving recommendations from %s", self.recommender.description)
        except RecommenderUnavailable as problem:
            logger.error("%s %s", problem.reason, problem.hint)

    # -- operations -----------------------------------------------------------------------

    def known_user(self, user_id: str) -> bool | None:
        """Whether the ratings (file or app) know this user; None without a ratings file."""
        interactions = self.interactions
        if interactions is None:
            return None
        return interactions.has_user(user_id) or bool(self.store.for_user(user_id))

    def history(self, user_id: str) -> list[Interaction]:
        """The user's ratings, oldest first: the file's, then the app's (a re-rating wins)."""
        interactions = self.interactions
        events = interactions.history(user_id) if interactions is not None else []
        latest = {event.item_id: event for event in [*events, *self.store.for_user(user_id)]}
        return sorted(latest.values(), key=lambda event: event.timestamp)

    @property
    def can_filter_by_genre(self) -> bool:
        return self.recommender.can_filter_by_genre

    def recommend(
        self, user_id: str, n: int, *, genre: str | None = None, onboarding: bool = False
    ) -> Recommended:
        """Recommendations, never of rated movies; a new user rates popular ones first.

        The rated movies come from the history read here, from the shared files and store, and
        go to the backend as `exclude`: every process then leaves out a rating made in any of
        them, whatever its own model has seen.
        """
        recommender = self.recommender
        if genre is not None and not recommender.can_filter_by_genre:
            raise InvalidInput("Filtering by genre needs PERSONALIZE_GENRE_FILTER_ARN.")
        history = self.history(user_id)
        rated = [event.item_id for event in history]
        about = {
            "backend": recommender.description,
            "history": history,
            "known_user": self.known_user(user_id),
            "flags_cold_start": recommender.flags_cold_start,
        }
        if onboarding and len(rated) < RATINGS_TO_PERSONALIZE:
            popular = recommender.popular(n, exclude=rated, genre=genre)
            if popular is not None:
                return Recommended(popular, cold_start=True, **about)
        listing = recommender.recommend(user_id, n, exclude=rated, genre=genre)
        items = self._known_only(listing.items)
        if not listing.cold_start:
            items = self._explained(recommender, user_id, items, history)
        return Recommended(items, cold_start=listing.cold_start, **about)

    @staticmethod
    def _explained(
        recommender: Recommender,
        user_id: str,
        items: list[Recommendation],
        history: list[Interaction],
    ) -> list[Recommendation]:
        """Name the liked movie behind each recommendation ("because you rated X ★5")."""
        # "Because you rated X ★1.5" would read as a joke: explain by movies the user liked.
        liked = [
            event.item_id
            for event in history
            if event.rating is None or event.rating >= LIKED_RATING
        ]
        because = recommender.explain(user_id, [item.item_id for item in items], among=liked)
        if because is None:
            return items
        return [replace(item, because=because.get(item.item_id)) for item in items]

    def _known_only(self, items: list[Recommendation]) -> list[Recommendation]:
        """Drop items the app knows nothing about (their cards would link to a 404).

        A remote backend may know items that are missing from the catalogue and the ratings
        here, e.g. after the files were replaced. With neither file there is nothing to judge by.
        """
        catalog, interactions = self.catalog, self.interactions
        rated = interactions.item_index if interactions is not None else {}
        if not len(catalog) and not rated:
            return items
        known = []
        for item in items:
            if item.item_id in catalog or item.item_id in rated:
                known.append(item)
            else:
                _log_unknown_item_once(item.item_id)
        return known

    def similar(self, item_id: str, n: int) -> tuple[list[Recommendation], str]:
        """Movies like this one, and the source that found them (the fallback's, if need be)."""
        recommender = self.recommender
        found = recommender.similar(item_id, n)
        if found is not None:
            return found, recommender.similar_description
        fallback = self.fallback
        return fallback.similar(item_id, n) or [], fallback.similar_description

    def movie(self, item_id: str) -> Movie:
        """The catalogue's movie for an ID the app knows; UnknownItem otherwise."""
        interactions = self.interactions
        known = item_id in self.catalog or (
            interactions is not None and item_id in interactions.item_index
        )
        if not known:
            raise UnknownItem(item_id)
        return self.catalog.get(item_id)

    def rate(self, user_id: str, item_id: str, rating: float, session_id: str) -> RatingOutcome:
        """Store a rating, let the backend take it in, and send it on to an event tracker."""
        self.movie(item_id)  # raises UnknownItem
        when = self.store.add(user_id, item_id, rating)
        events = self.events
        try:
            self.recommender.add_interaction(user_id, item_id, rating, when)
        except RecommenderUnavailable:
            pass  # the rating is stored; the next page says why recommendations are unavailable
        if events is None:
            return RatingOutcome(when)
        try:
            events.send_rating(session_id, user_id, item_id, rating, when)
        except RecommenderUnavailable as problem:
            return RatingOutcome(when, False, f"Saved here, but not sent to Personalize: "
                                              f"{problem.reason}")
        return RatingOutcome(when, True)


_UNKNOWN_LOGGED: set[str] = set()
_UNKNOWN_LOG_LIMIT = 1000  # a campaign on other data could name every item: stay bounded
_unknown_items_lock = threading.Lock()


def _log_unknown_item_once(item_id: str) -> None:
    """Warn once per unknown item ID, for the first _UNKNOWN_LOG_LIMIT of them."""
    with _unknown_items_lock:
        if item_id in _UNKNOWN_LOGGED or len(_UNKNOWN_LOGGED) >= _UNKNOWN_LOG_LIMIT:
            return
        _UNKNOWN_LOGGED.add(item_id)
        full = len(_UNKNOWN_LOGGED) == _UNKNOWN_LOG_LIMIT
    logger.warning(
        "The recommender named item %r, which is in neither the catalogue nor the "
        "ratings, so it is not shown%s", item_id[:MAX_ID_LENGTH],
        " (further unknown items are not logged)" if full else "",
    )


def current_services() -> Services:
    """The services of the app handling this request."""
    return current_app.extensions["movies"]


def with_stored_ratings(
    interactions: Interactions, stored: list[tuple[str, str, float, int]]
) -> Interactions:
    """The ratings file plus ratings made in the app, so retraining includes them."""
    if not stored:
        return interactions
    stored_digest = hashlib.sha256(repr(stored).encode()).hexdigest()
    return interactions.with_rows(
        stored, fingerprint=f"{interactions.fingerprint}+app-ratings:{stored_digest}"
    )


def _unreadable_ratings(error: Exception) -> RecommenderUnavailable:
    return RecommenderUnavailable(
        f"The ratings file could not be read: {_describe_file_error(error)}",
        "Check RATINGS_PATH, or run `flask --app app data validate` on the file.",
    )


def _describe_file_error(error: Exception) -> str:
    if isinstance(error, FileNotFoundError):
        return f"{error.filename} does not exist"
    return str(error)
