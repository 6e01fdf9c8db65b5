"""Two engines side by side for one user: what each recommends, what they share, how they score.

Two `Contender`s (the wiring picks them: the embedded engine and the Personalize campaign when
one is configured, else two embedded recipes) each give a list for the same user, with the
user's rated movies left out of both. `compare` marks the items both lists hold, each item's
rank in the other list, and the overlap. Offline metrics come from caches in the instance
folder that `flask evaluate` and `flask personalize metrics` write (`save_evaluation`,
`save_personalize_metrics`); nothing is measured during a request. No Flask here.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from config import redact_account_ids
from recommender.interface import Recommendation, Recommender, RecommenderUnavailable
from services import Services

logger = logging.getLogger(__name__)

EVALUATION_FILE = "evaluation.json"
PERSONALIZE_METRICS_FILE = "personalize-metrics.json"
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
    rated = [event.item_id for event in found.history(user_id)]
    columns = [_column(contender, user_id, n, rated, Path(instance))
               for contender in (left, right)]
    for column, other in zip(columns, reversed(columns), strict=True):
        place = {item.item_id: rank for rank, item in enumerate(other.items, start=1)}
        column.rank_in_other = {
            item.item_id: place[item.item_id] for item in column.items if item.item_id in place
        }
    return Comparison(user_id, *columns)


def _column(contender: Contender, user_id: str, n: int, rated: list[str],
            instance: Path) -> Column:
    column = Column(contender.label, contender.recipe)
    column.metrics, column.metrics_hint = metrics_for(contender, instance)
    try:
        recommender = contender.recommender()
        column.backend = recommender.description
        listing = recommender.recommend(user_id, n, exclude=rated)
    except RecommenderUnavailable as problem:
        column.problem = problem.reason
        return column
    column.items, column.cold_start = listing.items, listing.cold_start
    return column


def metrics_for(contender: Contender, instance: Path) -> tuple[Metrics | None, str | None]:
    """The contender's cached offline metrics, or how to compute them."""
    try:
        found = _cached_metrics(contender, instance)
    except (KeyError, TypeError, AttributeError, ValueError) as error:  # a hand-edited file
        logger.warning("Ignoring a metrics cache of the wrong shape (%s)", error)
        found = None
    if found is not None:
        return found, None
    if contender.recipe is None:
        return None, "Run `flask --app app personalize metrics` to show the campaign's."
    return None, f"Run `flask --app app evaluate` to show {contender.recipe}'s."


def _cached_metrics(contender: Contender, instance: Path) -> Metrics | None:
    if contender.recipe is None:
        cached = _read(instance / PERSONALIZE_METRICS_FILE)
        if not cached:
            return None
        version = redact_account_ids(str(cached["solution_version"]))
        figures = {name: float(value) for name, value in cached["metrics"].items()}
        return Metrics(figures, f"`personalize metrics`, {_when(cached)}, {version}")
    cached = _read(instance / EVALUATION_FILE)
    figures = (cached or {}).get("results", {}).get(contender.recipe)
    if not figures:
        return None
    means = {name: float(spread["mean"]) for name, spread in figures.items()}
    seeds = int(cached["seeds"])
    return Metrics(means, f"`flask evaluate` on {cached['ratings']}, {seeds} seed"
                          f"{'s' if seeds != 1 else ''}, {_when(cached)}")


# --- the caches ----------------------------------------------------------------------------------


def save_evaluation(instance: str | Path, ratings: str, seeds: int,
                    results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> None:
    """Keep `flask evaluate`'s figures for the compare page, merged by recipe."""
    path = Path(instance) / EVALUATION_FILE
    cached = _read(path) or {}
    kept = cached.get("results", {}) if cached.get("ratings") == ratings else {}
    _write(path, {"ratings": ratings, "seeds": seeds, "saved_at": int(time.time()),
                  "results": {**kept, **results}})


def save_personalize_metrics(instance: str | Path, solution_version: str,
                             metrics: Mapping[str, float]) -> None:
    """Keep `flask personalize metrics`' figures for the compare page."""
    _write(Path(instance) / PERSONALIZE_METRICS_FILE,
           {"solution_version": solution_version, "saved_at": int(time.time()),
            "metrics": dict(metrics)})


def _read(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("Ignoring the unreadable metrics cache %s (%s)", path, error)
        return None
    return loaded if isinstance(loaded, dict) else None


def _write(path: Path, content: dict[str, Any]) -> None:
    """Atomically: a page never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as out:
        json.dump(content, out, indent=1)
    os.replace(out.name, path)


def _when(cached: Mapping[str, Any]) -> str:
    saved = cached.get("saved_at")
    if not isinstance(saved, int):
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(saved))
