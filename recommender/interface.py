"""The recommender interface: what every backend offers the use cases, and its result types.

Amazon Personalize (personalize.py) and the embedded engine (recommender/base.py) implement
`Recommender`; the use cases in services.py talk only to it. A backend that cannot do
something says so through the interface (a None answer or a capability property), so no caller
needs to know which backend it holds. This module imports nothing else from the project.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float | None = None
    reason: str | None = None  # why it was recommended, when the backend can say
    because: str | None = None  # the rated item that led to it ("because you rated X")


@dataclass(frozen=True)
class RecommendationList:
    items: list[Recommendation] = field(default_factory=list)
    # True when the user is unknown and the list is the popular-movies fallback.
    cold_start: bool = False


class RecommenderUnavailable(Exception):
    """The backend could not answer; `reason` says what failed, `hint` what to check."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class Rated(Protocol):
    """One of a user's ratings as the use cases read them (dataset.Interaction is one)."""

    @property
    def item_id(self) -> str: ...

    @property
    def rating(self) -> float | None: ...

    @property
    def timestamp(self) -> int: ...


class Recommender(Protocol):
    """A recommendation backend. Every method means the same on every backend; a backend that
    cannot do something answers None there, or says so through a capability property.

    `history`, where a method takes it, is the user's whole history as the shared files and
    store hold it now (oldest first), read by the caller on every request. A backend that
    derives the user's state from it (the embedded engine) then answers the same in every
    process, whoever took the last rating; one that keeps its own (Personalize, fed by
    PutEvents) ignores it. None: the backend's own idea of the user.
    """

    @property
    def description(self) -> str:
        """Names the backend for people, e.g. "Amazon Personalize · campaign movies"."""
        ...

    @property
    def similar_description(self) -> str:
        """Names the source of `similar`, e.g. "Embedded recommender · item-to-item"."""
        ...

    @property
    def can_filter_by_genre(self) -> bool:
        """Whether `recommend` and `popular` take a `genre`."""
        ...

    @property
    def flags_cold_start(self) -> bool:
        """Whether `cold_start` marks every popular-items answer to a user it doesn't know.

        Personalize answers unknown users with popular items without saying so.
        """
        ...

    def recommend(
        self, user_id: str, n: int, *, exclude: Collection[str] = (), genre: str | None = None,
        history: Sequence[Rated] | None = None,
    ) -> RecommendationList:
        """Top-n items for the user, none of `exclude`, all of `genre` when given."""
        ...

    def popular(
        self, n: int, *, exclude: Collection[str] = (), genre: str | None = None
    ) -> list[Recommendation] | None:
        """The n most popular items, none of `exclude`; None: this backend cannot list them."""
        ...

    def similar(self, item_id: str, n: int) -> list[Recommendation] | None:
        """Items like this one ("more like this"); None: this backend cannot tell."""
        ...

    def explain(
        self, user_id: str, item_ids: Sequence[str], *, among: Collection[str] | None = None,
        history: Sequence[Rated] | None = None,
    ) -> dict[str, str] | None:
        """For each item, the rated item (of `among`) behind it; None: this backend cannot tell."""
        ...

    def health(self) -> dict[str, object]:
        """Facts for /healthz: the backend's name and whether it is ready."""
        ...
