"""Choose user-personalization's hyperparameters on validation users only, then report the test.

    .venv/bin/python bench/tune.py                      # sequence stage, ml-latest-small
    .venv/bin/python bench/tune.py --stage als          # the earlier ALS stage (21 min)
    .venv/bin/python bench/tune.py --ratings data/ratings.csv --seeds 3

For each evaluation seed s (the same splits `flask evaluate` uses), the held-out test users are
set aside untouched. From the remaining training users, `--inner` validation splits are carved
with the same protocol (10% of them held out, newest 10% of each predicted), and every grid
point is trained on the rest and scored there. Two choices are then reported:

- nested: for each seed, the grid point best on *that seed's* validation splits is scored on
  that seed's test users. No test user influences the choice made for its own seed.
- default: the grid point best on average over every seed's validation splits; this is what
  `ModelParams()` ships with, and its test score is shown beside the nested one.

Two stages, run one after the other:

- `als`: ALS and its confidence weighting, without the sequence score. Around this grid (one
  validation split per seed) nothing did better: alpha 1-40, half-life 5-100 interactions or a
  share of the history, rating weight up to 8, regularization 0.01-10, factors 32-128, 8-30
  iterations, a recency floor, BM25 weighting.
- `sequence`: the ALS stage's choice fixed, how much the "rated next" score counts and how far
  back the user's recent items vote. Weight 0 (ALS alone) is a grid point, so validation could
  have rejected the sequence score. Exploring first (one validation split per seed) showed
  window 20 vs 50, decay 0.9 vs 1.0, share-of-row vs cosine normalisation, 100 vs 200 followers
  per item within 0.004 of each other; a time-aware popularity prior (items popular around the
  user's latest timestamp) lowered validation NDCG@10 at every weight tried.
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

from dataset import read_interactions
from recommender.evaluation import Split, evaluate_split, split_users
from recommender.model_files import ModelParams

TARGET = "normalized_discounted_cumulative_gain_at_10"
RECIPE = "user-personalization"
STAGES = {
    "als": (
        ModelParams(factors=64, iterations=15, sequence_weight=0.0),
        {
            "recency_half_life": (10.0, 20.0, 40.0),
            "alpha": (2.0, 3.0, 5.0),
            "rating_weight": (0.0, 2.0),
            "regularization": (0.1, 1.0),
        },
    ),
    "sequence": (
        ModelParams(),  # the ALS stage's choice is ModelParams' default
        {
            "sequence_weight": (0.25, 0.5, 0.75, 1.0),
            "sequence_half_life": (3.0, 5.0),
        },
    ),
}
# implicit's own defaults (100 factors, regularization 0.01, alpha 1) on unweighted interactions.
IMPLICIT_DEFAULTS = ModelParams(
    factors=100, regularization=0.01, alpha=1.0, iterations=15, rating_weight=0.0,
    recency_half_life=0.0, sequence_weight=0.0,
)
# implicit's regularization and alpha, 64 factors, with ModelParams' rating and recency
# weighting kept: the weighting alone, before the ALS grid tunes anything.
IMPLICIT_REG_ALPHA_WEIGHTED = replace(
    IMPLICIT_DEFAULTS, factors=64, rating_weight=ModelParams.rating_weight,
    recency_half_life=ModelParams.recency_half_life,
)
ALS_ONLY = ModelParams(sequence_weight=0.0)
# Each stage's baselines, scored on the test users beside the choice, by their printed names.
BASELINES = {
    "sequence": {"ALS alone": ALS_ONLY},
    "als": {"implicit defaults": IMPLICIT_DEFAULTS,
            "reg .01 alpha 1, weighted": IMPLICIT_REG_ALPHA_WEIGHTED},
}


def grid_points(stage: str) -> list[ModelParams]:
    base, grid = STAGES[stage]
    points = [
        replace(base, **dict(zip(grid, values, strict=True)))
        for values in itertools.product(*grid.values())
    ]
    if stage == "sequence":
        points.insert(0, ALS_ONLY)  # the recipe without the sequence score competes too
    return points


def label(params: ModelParams, stage: str) -> str:
    return " ".join(f"{name}={getattr(params, name):g}" for name in STAGES[stage][1])


def validate(
    outer_splits: list[Split], points: list[ModelParams], inner: int, stage: str
) -> np.ndarray:
    """Mean validation NDCG@10 per (seed, grid point), from training users only."""
    started = time.perf_counter()
    validation = np.zeros((len(outer_splits), len(points)))
    for seed, outer in enumerate(outer_splits):
        inner_splits = [
            split_users(outer.training, 1000 * (seed + 1) + number) for number in range(inner)
        ]
        for index, params in enumerate(points):
            scores = [evaluate_split(split, RECIPE, params)[TARGET] for split in inner_splits]
            validation[seed, index] = np.mean(scores)
        best = int(validation[seed].argmax())
        print(
            f"seed {seed}: best on validation {validation[seed, best]:.4f} "
            f"({label(points[best], stage)})  [{time.perf_counter() - started:.0f} s]",
            flush=True,
        )
    return validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=Path, help="ratings file in the workshop's columns")
    parser.add_argument("--stage", choices=list(STAGES), default="sequence")
    parser.add_argument("--seeds", type=int, default=10, help="evaluation seeds (default 10)")
    parser.add_argument("--inner", type=int, default=3, help="validation splits per seed")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    ratings = args.ratings or movielens_ratings()
    interactions = read_interactions(ratings)
    points = grid_points(args.stage)
    print(
        f"{ratings}: {len(interactions):,} interactions; stage {args.stage}, "
        f"{len(points)} grid points, {args.seeds} seeds x {args.inner} validation splits"
    )
    started = time.perf_counter()
    outer_splits = [split_users(interactions, seed) for seed in range(args.seeds)]
    validation = validate(outer_splits, points, args.inner, args.stage)

    print("\nValidation NDCG@10, mean over seeds (top 10 of the grid):")
    overall = validation.mean(axis=0)
    for index in np.argsort(-overall, kind="stable")[:10]:
        print(
            f"  {overall[index]:.4f} ± {validation[:, index].std(ddof=1):.4f}  "
            f"{label(points[index], args.stage)}"
        )
    default = points[int(overall.argmax())]

    baselines = BASELINES[args.stage]
    test: dict[str, list[float]] = {"nested": [], "default": [], **{name: [] for name in baselines}}
    test["popularity-count"] = []
    for seed, outer in enumerate(outer_splits):
        chosen = points[int(validation[seed].argmax())]
        test["nested"].append(evaluate_split(outer, RECIPE, chosen)[TARGET])
        test["default"].append(evaluate_split(outer, RECIPE, default)[TARGET])
        for name, params in baselines.items():
            test[name].append(evaluate_split(outer, RECIPE, params)[TARGET])
        test["popularity-count"].append(evaluate_split(outer, "popularity-count")[TARGET])

    print(f"\nChosen default: {label(default, args.stage)}")
    print(f"Test NDCG@10 over {args.seeds} seeds (held-out users never used above):")
    for name, values in test.items():
        spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
        print(f"  {name:<25} {np.mean(values):.4f} ± {spread:.4f}")
    popularity = np.mean(test["popularity-count"])
    for name in ("nested", "default"):
        print(f"  {name} / popularity-count = {np.mean(test[name]) / popularity:.2f}x")
    print(f"({time.perf_counter() - started:.0f} s)")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "stage": args.stage,
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
