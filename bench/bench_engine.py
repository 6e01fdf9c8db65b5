"""Speed and memory of the embedded recommender at 100k, 300k and 1M interactions.

    .venv/bin/python bench/bench_engine.py [--sizes 100000 300000 1000000] [--recipe NAME]

Each size gets a synthetic ratings file (10,000 items, 100 interactions per user on average,
long-tailed popularity, users with tastes) in a temporary directory. Every measurement runs in
a fresh Python process, so peak memory (ru_maxrss) belongs to that step alone:

- train: read the CSV + train + save, and the process's peak memory;
- start-up: read the CSV + load the saved model (what the app does on start); "load s" is the
  engine's share, the rest is reading the CSV (catalog.read_interactions);
- recommend: 10 items for each of 1,000 random known users, p50 and p99.

Targets (issue 3): train 100k <= 3 s and 1M <= 30 s including the CSV; recommend p50 <= 1 ms and
p99 <= 5 ms; peak memory at 1M <= 1 GB; start-up with a saved model <= 2 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import PROJECT, taste_ratings

ITEMS = 10_000


def write_synthetic(path: Path, interactions: int, seed: int = 0) -> None:
    """_common.taste_ratings' ratings over ITEMS items, written as a ratings CSV file."""
    rng = np.random.default_rng(seed)
    user, item, rating, _users = taste_ratings(rng, interactions, ITEMS)
    timestamp = 1_400_000_000 + np.sort(rng.integers(0, 300_000_000, size=interactions))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"])
        writer.writerows(
            zip(
                (f"user{u}" for u in user),
                (f"item{i}" for i in item),
                rating.tolist(),
                timestamp.tolist(),
                strict=True,
            )
        )


# --- the measurements, each run in its own process ------------------------------------------


def measure_train(ratings: Path, instance: Path, recipe: str) -> dict[str, float]:
    from dataset import read_interactions
    from recommender.base import EmbeddedRecommender
    from recommender.model_files import model_path

    started = time.perf_counter()
    # As the app's first start does: parse the CSV and keep the parsed arrays in instance/.
    interactions = read_interactions(ratings, cache_dir=instance)
    read = time.perf_counter()
    model = EmbeddedRecommender.train(interactions, recipe=recipe)
    trained = time.perf_counter()
    model.save(model_path(instance, recipe))
    saved = time.perf_counter()
    return {
        "interactions": len(interactions),
        "users": interactions.n_users,
        "items": interactions.n_items,
        "read_s": read - started,
        "train_s": trained - read,
        "read_train_s": trained - started,
        "save_s": saved - trained,
        "model_mb": model_path(instance, recipe).stat().st_size / 1e6,
        "peak_mb": _peak_mb(),
    }


def measure_startup(ratings: Path, instance: Path, recipe: str) -> dict[str, float]:
    from dataset import read_interactions
    from recommender.base import EmbeddedRecommender

    started = time.perf_counter()
    interactions = read_interactions(ratings, cache_dir=instance)  # the app's later starts
    read = time.perf_counter()
    model = EmbeddedRecommender.load_or_train(interactions, instance, recipe=recipe)
    loaded = time.perf_counter()
    if model.health()["model"] != "loaded":
        raise SystemExit("start-up retrained instead of loading the saved model")
    return {"startup_s": loaded - started, "load_s": loaded - read}


def measure_recommend(ratings: Path, instance: Path, recipe: str) -> dict[str, float]:
    from dataset import read_interactions
    from recommender.base import EmbeddedRecommender
    from recommender.model_files import model_path

    interactions = read_interactions(ratings)
    model = EmbeddedRecommender.load(model_path(instance, recipe), interactions)
    rng = np.random.default_rng(1)
    users = rng.choice(interactions.user_ids, size=min(1000, interactions.n_users), replace=False)
    for user in users[:50]:  # warm caches and lazy imports before timing
        model.recommend(str(user), 10)
    latencies = []
    for user in users:
        started = time.perf_counter()
        model.recommend(str(user), 10)
        latencies.append(time.perf_counter() - started)
    milliseconds = np.asarray(latencies) * 1000
    return {
        "recommend_p50_ms": float(np.percentile(milliseconds, 50)),
        "recommend_p99_ms": float(np.percentile(milliseconds, 99)),
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


STEPS = {"train": measure_train, "startup": measure_startup, "recommend": measure_recommend}


def run_step(step: str, ratings: Path, instance: Path, recipe: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--step", step, str(ratings), str(instance), recipe]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_mb() -> float:
    """Peak memory of a process that only imports the engine: what the model adds is on top."""
    code = (
        "import resource, recommender.user_personalization, recommender.sims; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, check=True
    )
    return int(done.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--recipe", default="user-personalization")
    parser.add_argument(
        "--step", nargs=4, metavar=("STEP", "RATINGS", "INSTANCE", "RECIPE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.step:
        step, ratings, instance, recipe = args.step
        print(json.dumps(STEPS[step](Path(ratings), Path(instance), recipe)))
        return

    print(f"recipe {args.recipe}; python imports alone peak at {baseline_mb():.0f} MB")
    header = (
        f"{'interactions':>12} {'users':>7} {'items':>6} {'read s':>7} {'train s':>8} "
        f"{'read+train':>10} {'peak MB':>8} {'model MB':>8} {'start-up s':>10} {'(load s)':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as folder:
        for size in args.sizes:
            ratings = Path(folder) / f"ratings-{size}.csv"
            instance = Path(folder) / f"instance-{size}"
            write_synthetic(ratings, size)
            figures = run_step("train", ratings, instance, args.recipe)
            figures |= run_step("startup", ratings, instance, args.recipe)
            figures |= run_step("recommend", ratings, instance, args.recipe)
            print(
                f"{figures['interactions']:>12,} {figures['users']:>7,} {figures['items']:>6,} "
                f"{figures['read_s']:>7.2f} {figures['train_s']:>8.2f} "
                f"{figures['read_train_s']:>10.2f} {figures['peak_mb']:>8.0f} "
                f"{figures['model_mb']:>8.1f} {figures['startup_s']:>10.2f} "
                f"{figures['load_s']:>8.2f} "
                f"{figures['recommend_p50_ms']:>7.3f} {figures['recommend_p99_ms']:>7.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
