"""What the compare page's first visit costs: training each embedded recipe on demand, and the
title search behind /search.

    .venv/bin/python bench/bench_compare.py [--ratings data/ratings.csv] [--items data/items.csv]

Each recipe is trained in this process, best of 3, on ratings parsed beforehand, as the app
trains one when /compare first asks for it. Search is timed over a few queries, median of 20
runs each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common

from dataset import Catalog, read_interactions


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", default=str(_common.PROJECT / "data" / "ratings.csv"))
    parser.add_argument("--items", default=str(_common.PROJECT / "data" / "items.csv"))
    args = parser.parse_args()

    from recommender.base import EmbeddedRecommender
    from recommender.recipes import RECIPES
    from search import TitleIndex

    interactions = read_interactions(args.ratings)
    print(f"{args.ratings}: {len(interactions):,} interactions, {interactions.n_users:,} users")
    for recipe in RECIPES:
        seconds = best_of(3, lambda recipe=recipe: EmbeddedRecommender.train(interactions,
                                                                             recipe=recipe))
        print(f"  train {recipe:<22} {seconds:6.2f} s")

    catalog = Catalog.from_csv(args.items)
    built = best_of(3, lambda: TitleIndex.of(catalog))
    index = TitleIndex.of(catalog)
    print(f"{args.items}: {len(catalog):,} titles; index built in {built * 1000:.1f} ms")
    for query in ("matrix", "Amelie", "matirx", "star wars", "the"):
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            index.find(query, 20)
            runs.append(time.perf_counter() - started)
        print(f"  search {query!r:<12} {statistics.median(runs) * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
