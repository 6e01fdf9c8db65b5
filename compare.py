"""Two engines side by side for one user: what each recommends, what they share, how they score.

Two `Contender`s (the wiring picks them: the embedded engine and the Personalize campaign when
one is configured, else two embedded recipes) each give a list for the same user, with the
user's rated movies left out of both. `compare` marks the items both lists hold, each item's
rank in the other list, and the overlap. Offline metrics come from caches in the instance
folder that `flask evaluate` and `flask personalize metrics` write (metrics_cache.py); nothing is
measured during a request. No Flask here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from config import redact_account_ids
from dataset import Interaction
from metrics_cache import read_evaluation, read_personalize_metrics, saved_when
from recommender.interface import Recommendation, Recommender, RecommenderUnavailable
from services import Services

logger = logging.getLogger(__name__)

COMPARE_LENGTH = 10


@dataclass(frozen=True)
class Contender:
    """One column: a name for people, how to get its recommender, and where its metrics are."""

    label: str
    recommender: Callable[[], Recommender]  # may train a recipe on first use
    recipe: str | None = None  # an embedded recipe; None for Personalize


class CompareSources(Protocol):
    """What the wiring offers the compare page."""

    @property
    def personalize_contender(self) -> Callable[[], Recommender] | None:
        """The Personalize campaign or recommender; None when none is configured."""
        ...

    def embedded_recipe(self, recipe: str) -> Recommender: ...


def contenders(sources: CompareSources, left: str, right: str) -> tuple[Contender, Contender]:
    """The embedded recipe `left` against Personalize when configured, else recipe `right`."""
    embedded = Contender(f"Embedded · {left}", lambda: sources.embedded_recipe(left), left)
    personalize = sources.personalize_contender
    if personalize is not None:
        return embedded, Contender("Amazon Personalize", personalize)
    return embedded, Contender(f"Embedded · {right}", lambda: sources.embedded_recipe(right),
                               right)


@dataclass(frozen=True)
class Metrics:
    figures: dict[str, float]  # Personalize's metric names -> value (a mean over seeds)
    source: str  # where they come from, for people


@dataclass
class Column:
    label: str
    recipe: str | None
    backend: str = ""
    items: list[Recommendation] = field(default_factory=list)
    rank_in_other: dict[str, int] = field(default_factory=dict)  # item -> 1-based rank there
    cold_start: bool = False
    problem: str | None = None
    metrics: Metrics | None = None
    metrics_hint: str | None = None  # how to get metrics when there are none


@dataclass(frozen=True)
class Comparison:
    user_id: str
    left: Column
    right: Column

    @property
    def shared(self) -> set[str]:
        return {item.item_id for item in self.left.items} & {
            item.item_id for item in self.right.items
        }

    @property
    def overlap(self) -> int:
        return len(self.shared)


def compare(found: Services, left: Contender, right: Contender, user_id: str,
            instance: str | Path, n: int = COMPARE_LENGTH) -> Comparison:
    """Both contenders' lists for the user, with what they share and their metrics."""
    history = found.history(user_id)
    fingerprint = _fingerprint(found)
    columns = [_column(contender, user_id, n, history, Path(instance), fingerprint)
               for contender in (left, right)]
    for column, other in zip(columns, reversed(columns), strict=True):
        place = {item.item_id: rank for rank, item in enumerate(other.items, start=1)}
        column.rank_in_other = {
            item.item_id: place[item.item_id] for item in column.items if item.item_id in place
        }
    return Comparison(user_id, *columns)


def _fingerprint(found: Services) -> str:
    try:
        interactions = found.interactions
    except RecommenderUnavailable:
        return ""
    return interactions.fingerprint if interactions is not None else ""


def _column(contender: Contender, user_id: str, n: int, history: list[Interaction],
            instance: Path, fingerprint: str) -> Column:
    column = Column(contender.label, contender.recipe)
    column.metrics, column.metrics_hint = metrics_for(contender, instance, fingerprint)
    try:
        recommender = contender.recommender()
        column.backend = recommender.description
        rated = [event.item_id for event in history]
        listing = recommender.recommend(user_id, n, exclude=rated, history=history)
    except RecommenderUnavailable as problem:
        column.problem = problem.reason
        return column
    column.items, column.cold_start = listing.items, listing.cold_start
    return column


def metrics_for(contender: Contender, instance: Path,
                fingerprint: str = "") -> tuple[Metrics | None, str | None]:
    """The contender's cached offline metrics (for ratings with this fingerprint), or how to
    compute them."""
    try:
        found = _cached_metrics(contender, instance, fingerprint)
    except (KeyError, TypeError, AttributeError, ValueError) as error:  # a hand-edited file
        logger.warning("Ignoring a metrics cache of the wrong shape (%s)", error)
        found = None
    if found is not None:
        return found, None
    if contender.recipe is None:
        return None, "Run `flask --app app personalize metrics` to show the campaign's."
    return None, (f"Run `flask --app app evaluate` to show {contender.recipe}'s on the "
                  "ratings the app serves.")


def _cached_metrics(contender: Contender, instance: Path, fingerprint: str) -> Metrics | None:
    if contender.recipe is None:
        cached = read_personalize_metrics(instance)
        if not cached:
            return None
        version = redact_account_ids(str(cached["solution_version"]))
        figures = {name: float(value) for name, value in cached["metrics"].items()}
        return Metrics(figures, f"`personalize metrics`, {saved_when(cached)}, {version}")
    cached = read_evaluation(instance)
    figures = (cached or {}).get("results", {}).get(contender.recipe)
    # The app's fingerprint grows a suffix for ratings made in the app; a changed file differs.
    if not figures or not fingerprint.startswith(str(cached.get("fingerprint"))):
        return None
    means = {name: float(spread["mean"]) for name, spread in figures.items()}
    seeds = int(cached["seeds"])
    return Metrics(means, f"`flask evaluate` on {cached['ratings']}, {seeds} seed"
                          f"{'s' if seeds != 1 else ''}, {saved_when(cached)}")
