"""trending-now against popularity-count, split by when each held-out user's future lies.

    .venv/bin/python bench/trending_by_recency.py [--seeds 10] [--days 365]

On MovieLens ml-latest-small (converted into a temporary folder), the evaluation's splits and
queries (recommender/evaluation.py), with NDCG@10 averaged separately over held-out users
whose newest rating is within `--days` of the training data's newest timestamp ("now") and
over the others: trending-now can only know what is rising at the end of the data.
"""

from __future__ import annotations

import argparse

import _common
import numpy as np

from dataset import read_interactions
from recommender.evaluation import LIST_LENGTH, split_users, train_for
from recommender.metrics import query_metrics

RECIPES = ("trending-now", "popularity-count")
METRIC = "normalized_discounted_cumulative_gain_at_10"
DAY = 86_400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--days", type=float, default=365)
    args = parser.parse_args()
    interactions = read_interactions(_common.movielens_ratings())
    found: dict[bool, dict[str, list[float]]] = {
        near: {recipe: [] for recipe in RECIPES} for near in (True, False)}
    for seed in range(args.seeds):
        split = split_users(interactions, seed)
        now = split.training.timestamps.max()
        models = {recipe: train_for(split, recipe) for recipe in RECIPES}
        for query in split.queries:
            newest = max(row.timestamp for row in interactions.history(query.user_id))
            near = bool(newest > now - args.days * DAY)
            for recipe, model in models.items():
                model.fold_in(query.user_id, query.history)
                listing = model.recommend(query.user_id, LIST_LENGTH)
                listed = [item.item_id for item in listing.items]
                found[near][recipe].append(query_metrics(listed, query.truth)[METRIC])
    for near, label in ((True, f"within {args.days:g} days of now"), (False, "older")):
        figures = "  ".join(f"{recipe} {np.mean(values):.4f}"
                            for recipe, values in found[near].items())
        print(f"{label}: {len(found[near][RECIPES[0]])} queries; {METRIC}: {figures}")


if __name__ == "__main__":
    main()
