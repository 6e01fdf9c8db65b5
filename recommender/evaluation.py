"""Offline evaluation of the embedded recipes, with Amazon Personalize's protocol and metric names.

Protocol (Personalize's offline metrics): a random 10% of users, picked by the seed, are held
out of training entirely. For each of them the oldest 90% of their interactions (by TIMESTAMP)
are folded in at query time, the way the app folds in a new user, and the newest 10% (at least
one) are what the list of 25 should contain. The model is the app's `EmbeddedRecommender`.
`flask evaluate` (commands.py) prints these figures; the metrics are defined in
recommender/metrics.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dataset import Interaction, Interactions, read_interactions
from recommender.base import EmbeddedRecommender
from recommender.metrics import OFFLINE_METRICS, coverage, query_metrics
from recommender.model_files import ModelParams
from recommender.recipes import RECIPES

LIST_LENGTH = 25
HOLDOUT_FRACTION = 0.1


# --- the split -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    user_id: str
    history: tuple[Interaction, ...]  # the oldest 90%, folded in at query time
    truth: frozenset[str]  # the newest 10%


@dataclass(frozen=True)
class Split:
    training: Interactions  # the other 90% of users, with all their interactions
    queries: list[Query]
    n_items: int  # every distinct item in the data, the denominator of coverage


def split_users(interactions: Interactions, seed: int, holdout: float = HOLDOUT_FRACTION) -> Split:
    """Hold out a seeded random share of users; split each one's history by time."""
    rng = np.random.default_rng(seed)
    n_held = max(1, round(holdout * interactions.n_users))
    held_codes = rng.choice(interactions.n_users, size=n_held, replace=False)
    held = np.zeros(interactions.n_users, dtype=bool)
    held[held_codes] = True
    queries = [
        query
        for code in sorted(held_codes)
        if (query := _query_for(interactions, interactions.user_ids[code])) is not None
    ]
    training = subset(interactions, ~held[interactions.users])
    return Split(training=training, queries=queries, n_items=interactions.n_items)


def _query_for(interactions: Interactions, user_id: str) -> Query | None:
    history = interactions.history(user_id)  # oldest first; equal timestamps in file order
    if len(history) < 2:
        return None  # nothing to fold in or nothing to predict
    n_truth = max(1, math.floor(len(history) * HOLDOUT_FRACTION))
    given, newest = history[:-n_truth], history[-n_truth:]
    return Query(
        user_id=user_id,
        history=tuple(given),
        truth=frozenset(row.item_id for row in newest),
    )


def subset(interactions: Interactions, keep: np.ndarray) -> Interactions:
    """The rows where `keep` is true, with users and items recoded to those that remain."""
    user_codes, users = np.unique(interactions.users[keep], return_inverse=True)
    item_codes, items = np.unique(interactions.items[keep], return_inverse=True)
    return Interactions(
        user_ids=[interactions.user_ids[code] for code in user_codes],
        item_ids=[interactions.item_ids[code] for code in item_codes],
        users=users.astype(np.int32),
        items=items.astype(np.int32),
        ratings=interactions.ratings[keep],
        timestamps=interactions.timestamps[keep],
        source=interactions.source,
    )


# --- running it ----------------------------------------------------------------------------


def evaluate_split(
    split: Split, recipe: str, params: ModelParams | None = None
) -> dict[str, float]:
    """Train on the split's training users, query the held-out ones; one value per figure."""
    model = train_for(split, recipe, params)
    return score_model(model, split) | {"training_seconds": model.train_seconds}


def train_for(split: Split, recipe: str, params: ModelParams | None = None) -> EmbeddedRecommender:
    """The model an evaluation scores: trained on the split's training users only."""
    return EmbeddedRecommender.train(split.training, recipe=recipe, params=params)


def score_model(model: EmbeddedRecommender, split: Split) -> dict[str, float]:
    """Fold each held-out user in, ask for 25 items, and average the metrics over the users."""
    sums = dict.fromkeys(OFFLINE_METRICS[1:], 0.0)
    lists, latencies = [], []
    for query in split.queries:
        # Folded in by a first, untimed call: the latency figure stays that of a request for a
        # user whose state the process already keeps, as the app's repeated requests are.
        model.recommend(query.user_id, 1, history=query.history)
        started = time.perf_counter()
        result = model.recommend(query.user_id, LIST_LENGTH, history=query.history)
        latencies.append(time.perf_counter() - started)
        recommended = [item.item_id for item in result.items]
        lists.append(recommended)
        for name, value in query_metrics(recommended, query.truth).items():
            sums[name] += value
    count = max(len(split.queries), 1)
    figures = {"coverage": coverage(lists, split.n_items)}
    figures |= {name: total / count for name, total in sums.items()}
    milliseconds = np.asarray(latencies or [0.0]) * 1000
    figures["recommend_ms_p50"] = float(np.percentile(milliseconds, 50))
    figures["recommend_ms_p99"] = float(np.percentile(milliseconds, 99))
    return figures


def summarize(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (across seeds) of each figure."""
    summary = {}
    for name in runs[0]:
        values = np.asarray([run[name] for run in runs], dtype=float)
        spread = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary[name] = {"mean": float(values.mean()), "std": spread}
    return summary


def evaluate_interactions(
    interactions: Interactions,
    recipes: Iterable[str],
    seeds: int,
    params: Mapping[str, ModelParams] | None = None,
    progress: bool = False,
) -> dict[str, dict[str, dict[str, float]]]:
    """{recipe: {figure: {"mean", "std"}}} over seeds 0..seeds-1 (the same splits per recipe)."""
    recipes = list(recipes)
    splits = (split_users(interactions, seed) for seed in range(seeds))
    runs: dict[str, list[dict[str, float]]] = {recipe: [] for recipe in recipes}
    with tqdm(total=seeds * len(recipes), disable=not progress, desc="evaluate") as bar:
        for split in splits:
            for recipe in recipes:
                chosen = (params or {}).get(recipe)
                runs[recipe].append(evaluate_split(split, recipe, chosen))
                bar.update(1)
    return {recipe: summarize(found) for recipe, found in runs.items()}


def evaluate_embedded(
    ratings_path: str | Path,
    recipes: Iterable[str] = RECIPES,
    seeds: int = 3,
    progress: bool = False,
) -> dict[str, dict[str, dict[str, float]]]:
    """Read a ratings file and evaluate recipes on it (also for `flask personalize metrics`)."""
    return evaluate_interactions(read_interactions(ratings_path), recipes, seeds, None, progress)
