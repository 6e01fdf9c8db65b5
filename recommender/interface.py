"""The recommender interface: what every backend offers the use cases, and its result types.

Amazon Personalize (personalize.py) and the embedded engine (engine.py) both implement
`Recommender`; the use cases in services.py talk only to it. A backend that cannot do
something says so through the interface (a None answer or a capability property), so no caller
needs to know which backend it holds. This module imports nothing else from the project.
"""

from __future__ import annotations

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


class Recommender(Protocol):
    @property
    def description(self) -> str:
        """Names the backend for people, e.g. "Amazon Personalize · campaign movies"."""
        ...

    def recommend(self, user_id: str, n: int) -> RecommendationList:
        """Top-n items for the user, never ones the user has already rated."""
        ...

    def health(self) -> dict[str, object]:
        """Facts for /healthz: the backend's name and whether it is ready."""
        ...
