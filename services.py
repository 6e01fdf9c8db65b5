"""The use cases: what the pages and the API do, independent of HTTP and of the backend.

`Services` offers history, recommend, similar, movie and rate over the collaborators the wiring
builds (wiring.py). It talks to the recommender only through `recommender.interface`, so the
code is the same for Amazon Personalize and the embedded engine. Input is parsed before
(inputs.py); a genre the backend cannot filter by raises `InvalidInput`, an unknown movie
`UnknownItem`, a backend that cannot answer `RecommenderUnavailable`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from dataset import Catalog, Interaction, Interactions, Movie
from inputs import MAX_ID_LENGTH, InvalidInput
from recommender.interface import Recommendation, Recommender, RecommenderUnavailable

if TYPE_CHECKING:  # types only: the use cases never call AWS, OMDb or SQLite themselves
    from omdb import OmdbClient
    from personalize import EventSender
    from store import RatingStore

logger = logging.getLogger(__name__)

RATINGS_TO_PERSONALIZE = 3  # a new user's ratings before the list is personalized
LIKED_RATING = 3.5  # stars from which a rating counts as liking the movie


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


class Collaborators(Protocol):
    """What the use cases work with; wiring.Wiring builds each on first use."""

    @property
    def recommender(self) -> Recommender: ...

    @property
    def fallback(self) -> Recommender:
        """Asked when the recommender answers None ("more like this" without SIMS)."""
        ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def interactions(self) -> Interactions | None: ...

    @property
    def omdb(self) -> OmdbClient: ...

    @property
    def store(self) -> RatingStore: ...

    @property
    def events(self) -> EventSender | None: ...


class Services:
    """The operations the pages and the API share, the same for every backend."""

    def __init__(self, parts: Collaborators) -> None:
        self._parts = parts

    @property
    def recommender(self) -> Recommender:
        return self._parts.recommender

    @property
    def fallback(self) -> Recommender:
        return self._parts.fallback

    @property
    def catalog(self) -> Catalog:
        return self._parts.catalog

    @property
    def interactions(self) -> Interactions | None:
        return self._parts.interactions

    @property
    def omdb(self) -> OmdbClient:
        return self._parts.omdb

    @property
    def store(self) -> RatingStore:
        return self._parts.store

    @property
    def events(self) -> EventSender | None:
        return self._parts.events

    # -- operations -----------------------------------------------------------------------

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

        The history read here, from the shared files and store, goes to the backend (and its
        movies as `exclude`): every process then leaves out a rating made in any of them, and
        the embedded engine's list follows it, whatever its own model has seen.
        """
        recommender = self.recommender
        if genre is not None and not recommender.can_filter_by_genre:
            raise InvalidInput("Filtering by genre needs PERSONALIZE_GENRE_FILTER_ARN.")
        history = self.history(user_id)
        rated = [event.item_id for event in history]
        about = {
            "backend": recommender.description,
            "history": history,
            # A user with any rating, in the file or the app, is known: no second read.
            "known_user": None if self.interactions is None else bool(history),
            "flags_cold_start": recommender.flags_cold_start,
        }
        if onboarding and len(rated) < RATINGS_TO_PERSONALIZE:
            popular = recommender.popular(n, exclude=rated, genre=genre)
            if popular is not None:
                return Recommended(popular, cold_start=True, **about)
        listing = recommender.recommend(user_id, n, exclude=rated, genre=genre, history=history)
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
        if not liked:
            return items  # asked "among nothing", a backend may fall back to every rated movie
        because = recommender.explain(
            user_id, [item.item_id for item in items], among=liked, history=history
        )
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
            return self._known_only(found), recommender.similar_description
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

    def rate(
        self, user_id: str, item_id: str, rating: float, session_id: str, source: str | None = None
    ) -> RatingOutcome:
        """Store a rating and send it on to an event tracker.

        The embedded engine needs no telling: every process reads the user's history from the
        shared store on their next request. `source` says who made it (a session, an API token,
        the sign-in proxy's user).
        """
        self.movie(item_id)  # raises UnknownItem
        when = self.store.add(user_id, item_id, rating, source=source)
        events = self.events
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
