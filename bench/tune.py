"""Choose user-personalization's hyperparameters on validation users only, then report the test.

    .venv/bin/python bench/tune.py                      # ml-latest-small from ../shared/data
    .venv/bin/python bench/tune.py --ratings data/ratings.csv --seeds 3

For each evaluation seed s (the same splits `flask evaluate` uses), the held-out test users are
set aside untouched. From the remaining training users, `--inner` validation splits are carved
with the same protocol (10% of them held out, newest 10% of each predicted), and every grid
point is trained on the rest and scored there. Two choices are then reported:

- nested: for each seed, the grid point best on *that seed's* validation splits is scored on
  that seed's test users. No test user influences the choice made for its own seed.
- default: the grid point best on average over every seed's validation splits; this is what
  `ModelParams()` ships with, and its test score is shown beside the nested one.

The grid is the neighbourhood that earlier validation-only searches pointed to. Around it
(same protocol, one validation split per seed) nothing did better: alpha 1-40, half-life 5-100
interactions or a share of the history, rating weight up to 8, regularization 0.01-10, factors
32-128, 8-30 iterations, a recency floor, BM25 weighting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from _common import movielens_ratings

from catalog import read_interactions
from engine import ModelParams
from evaluate import evaluate_split, split_users

TARGET = "normalized_discounted_cumulative_gain_at_10"
BASE = ModelParams(factors=64, iterations=15)
GRID = {
    "recency_half_life": (10.0, 20.0, 40.0),
    "alpha": (2.0, 3.0, 5.0),
    "rating_weight": (0.0, 2.0),
    "regularization": (0.1, 1.0),
}
LIBRARY_DEFAULTS = ModelParams(factors=64, regularization=0.01, alpha=1.0, iterations=15)


def grid_points() -> list[ModelParams]:
    names = list(GRID)
    return [
        replace(BASE, **dict(zip(names, values, strict=True)))
        for values in itertools.product(*GRID.values())
    ]


def label(params: ModelParams) -> str:
    return " ".join(f"{name}={getattr(params, name):g}" for name in GRID)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=Path, help="ratings file in the workshop's columns")
    parser.add_argument("--seeds", type=int, default=10, help="evaluation seeds (default 10)")
    parser.add_argument("--inner", type=int, default=3, help="validation splits per seed")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    ratings = args.ratings or movielens_ratings()
    interactions = read_interactions(ratings)
    points = grid_points()
    print(
        f"{ratings}: {len(interactions):,} interactions; {len(points)} grid points, "
        f"{args.seeds} seeds x {args.inner} validation splits"
    )

    started = time.perf_counter()
    validation = np.zeros((args.seeds, len(points)))  # mean over a seed's validation splits
    outer_splits = [split_users(interactions, seed) for seed in range(args.seeds)]
    for seed, outer in enumerate(outer_splits):
        inner_splits = [
            split_users(outer.training, 1000 * (seed + 1) + inner) for inner in range(args.inner)
        ]
        for index, params in enumerate(points):
            scores = [
                evaluate_split(inner, "user-personalization", params)[TARGET]
                for inner in inner_splits
            ]
            validation[seed, index] = np.mean(scores)
        best = int(validation[seed].argmax())
        print(
            f"seed {seed}: best on validation {validation[seed, best]:.4f} "
            f"({label(points[best])})  [{time.perf_counter() - started:.0f} s]",
            flush=True,
        )

    print("\nValidation NDCG@10, mean over seeds (top 10 of the grid):")
    overall = validation.mean(axis=0)
    for index in np.argsort(-overall)[:10]:
        print(
            f"  {overall[index]:.4f} ± {validation[:, index].std(ddof=1):.4f}  "
            f"{label(points[index])}"
        )
    default = points[int(overall.argmax())]

    test = {"nested": [], "default": [], "library defaults": [], "popularity-count": []}
    for seed, outer in enumerate(outer_splits):
        chosen = points[int(validation[seed].argmax())]
        test["nested"].append(evaluate_split(outer, "user-personalization", chosen)[TARGET])
        test["default"].append(evaluate_split(outer, "user-personalization", default)[TARGET])
        test["library defaults"].append(
            evaluate_split(outer, "user-personalization", LIBRARY_DEFAULTS)[TARGET]
        )
        test["popularity-count"].append(evaluate_split(outer, "popularity-count")[TARGET])

    print(
        f"\nChosen default: {label(default)} (factors={default.factors}, "
        f"iterations={default.iterations})"
    )
    print(f"Test NDCG@10 over {args.seeds} seeds (held-out users never used above):")
    for name, values in test.items():
        spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
        print(f"  {name:<17} {np.mean(values):.4f} ± {spread:.4f}")
    ratio = np.mean(test["default"]) / np.mean(test["popularity-count"])
    print(f"  default / popularity-count = {ratio:.2f}x")
    print(f"({time.perf_counter() - started:.0f} s)")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "grid": [asdict(point) for point in points],
                    "validation": validation.tolist(),
                    "default": asdict(default),
                    "test": test,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
