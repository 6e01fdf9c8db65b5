"""The embedded engine at scale, each figure beside its floor in the same run, as ratios.

    .venv/bin/python bench/bench_scale.py [--rounds 3] [--train-sizes 1000000 10000000]
        [--large-rounds 1]

Synthetic ratings (bench_engine's recipe: long-tailed popularity, users with tastes, 100
ratings per user; every item of the catalogue rated at least once), default parameters.

- recommend: catalogues of 10,000 and 70,000 items, 1M interactions each. For each of 1,000
  users the floor and `recommend(user, 10)` take turns, --rounds times over. The floor: the
  same user and item factors, a dot product, the user's rated items masked, argpartition and
  a sort of the 10, with BLAS on one thread (set outside its timing).
- training: plain implicit ALS (a 0/1 users x items matrix, the same factors, regularization,
  alpha, iterations and threads, BLAS on one thread) beside `EmbeddedRecommender.train`
  (confidence weights, ALS, the sequence matrix, the serving state), 10,000 items, each run in
  its own process, taking turns, --rounds times (--large-rounds for sizes over 2M, which take
  a minute each).
  Peak memory (VmHWM) is each process's, which starts from the parsed arrays, as the app does
  with its cache of them.

Targets (issue 11): recommend p50 <= 1 ms and p99 <= 5 ms at 70k items, and its growth from 10k
to 70k items within 1.5x the floor's; training within 1.3x plain ALS at 1M and 10M; peak memory
at 10M <= 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from _common import PROJECT, taste_ratings

if TYPE_CHECKING:
    from dataset import Interactions

USERS_TIMED = 1000


def synthetic(interactions: int, items: int, seed: int = 0) -> Interactions:
    """_common.taste_ratings' ratings, every one of `items` items rated at least once."""
    from dataset import Interactions

    rng = np.random.default_rng(seed)
    user, item, rating, users = taste_ratings(rng, interactions, items)
    # Every item rated once more by someone, so the catalogue has exactly `items` items.
    user = np.concatenate([user, rng.integers(users, size=items)])
    item = np.concatenate([item, np.arange(items)])
    rating = np.concatenate([rating, np.full(items, 3)])
    timestamp = 1_400_000_000 + rng.integers(0, 300_000_000, size=len(user))
    user_codes, users_of = np.unique(user, return_inverse=True)
    return Interactions(
        [f"user{code}" for code in user_codes], [f"item{code}" for code in range(items)],
        users_of.astype(np.int32), item.astype(np.int32), rating.astype(np.float32),
        np.sort(timestamp).astype(np.int64),
    )


def save(interactions: Interactions, path: Path) -> None:
    np.savez(
        path, users=interactions.users, items=interactions.items,
        ratings=interactions.ratings, timestamps=interactions.timestamps,
        user_ids=np.asarray(interactions.user_ids), item_ids=np.asarray(interactions.item_ids),
    )


def load(path: Path) -> Interactions:
    from dataset import Interactions

    with np.load(path) as arrays:
        # With a fingerprint, as the app's cached arrays come with their file's (so the model's
        # fingerprint is not a hash of every array, which the app never computes).
        return Interactions(
            arrays["user_ids"].tolist(), arrays["item_ids"].tolist(), arrays["users"],
            arrays["items"], arrays["ratings"], arrays["timestamps"], fingerprint=path.stem,
        )


# --- training, one process per run -------------------------------------------------------


def train_floor(interactions: Interactions) -> None:
    """Plain implicit ALS on who rated what, as ours is configured."""
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    from recommender.base import TRAINING_THREADS
    from recommender.model_files import ModelParams
    from recommender.user_personalization import make_als

    ones = np.ones(len(interactions), dtype=np.float32)
    shape = (interactions.n_users, interactions.n_items)
    matrix = sp.csr_matrix((ones, (interactions.users, interactions.items)), shape=shape)
    with threadpool_limits(1, "blas"):
        make_als(ModelParams(), num_threads=TRAINING_THREADS).fit(matrix, show_progress=False)


def train_ours(interactions: Interactions) -> None:
    from recommender.base import EmbeddedRecommender

    EmbeddedRecommender.train(interactions, recipe="user-personalization")


def run_training(which: str, data: Path) -> dict[str, float]:
    """Time one training in this process; its peak memory is the process's."""
    interactions = load(data)
    started = time.perf_counter()
    {"floor": train_floor, "ours": train_ours}[which](interactions)
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def peak_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: a child started by fork and exec
    inherits its parent's peak there."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def in_fresh_process(which: str, data: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--step", which, str(data)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"training ({which}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare_training(sizes: list[int], rounds: int, large_rounds: int, folder: Path) -> None:
    print("\ntraining: plain implicit ALS (floor) and ours, taking turns in fresh processes")
    print(f"{'interactions':>12} {'floor s':>8} {'ours s':>8} {'ratio':>6} "
          f"{'floor MB':>9} {'ours MB':>8}")
    for size in sizes:
        data = folder / f"train-{size}.npz"
        save(synthetic(size, 10_000), data)
        ratios = []
        for _ in range(rounds if size <= 2_000_000 else large_rounds):
            floor, ours = in_fresh_process("floor", data), in_fresh_process("ours", data)
            ratios.append(ours["seconds"] / floor["seconds"])
            print(f"{size:>12,} {floor['seconds']:>8.2f} {ours['seconds']:>8.2f} "
                  f"{ratios[-1]:>5.2f}x {floor['peak_mb']:>9.0f} "
                  f"{ours['peak_mb']:>8.0f}", flush=True)
        print(f"{size:>12,} median ratio {np.median(ratios):.2f}x over {len(ratios)} turns")


# --- recommend ---------------------------------------------------------------------------


def floor_recommend(
    item_factors: np.ndarray, user: np.ndarray, rated: np.ndarray, n: int
) -> np.ndarray:
    """The n best items by dot product, none of `rated`: the least a recommender does."""
    scores = item_factors @ user
    scores[rated] = -np.inf
    best = np.argpartition(-scores, n)[:n]
    return best[np.argsort(-scores[best])]


def compare_recommend(catalogues: list[int], rounds: int) -> None:
    from threadpoolctl import threadpool_limits

    from recommender.base import EmbeddedRecommender

    models, users = {}, {}
    for items in catalogues:
        interactions = synthetic(1_000_000, items)
        models[items] = EmbeddedRecommender.train(interactions, recipe="user-personalization")
        chosen = np.random.default_rng(1).choice(interactions.n_users, USERS_TIMED, replace=False)
        users[items] = [interactions.user_ids[code] for code in chosen]
    times = {(items, side): [] for items in catalogues for side in ("floor", "ours")}
    for _ in range(rounds):
        for items, model in models.items():  # the sizes take turns too
            factors = model._item_factors  # the floor scores with our very factors
            for user_id in users[items]:
                state = model._users.state(user_id)
                with threadpool_limits(1, "blas"):  # its cost outside the timing
                    started = time.perf_counter()
                    floor_recommend(factors, state.factors, state.rated, 10)
                    floored = time.perf_counter()
                model.recommend(user_id, 10)
                done = time.perf_counter()
                times[items, "floor"].append(floored - started)
                times[items, "ours"].append(done - floored)
    print("recommend 10 (ms), the floor and ours taking turns per user")
    print(f"{'items':>7} {'floor p50':>9} {'ours p50':>8} {'ratio':>6} {'floor p99':>9} "
          f"{'ours p99':>8}")
    p50 = {}
    for items in catalogues:
        floor, ours = (np.asarray(times[items, side]) * 1000 for side in ("floor", "ours"))
        p50[items] = (np.median(floor), np.median(ours))
        print(f"{items:>7,} {p50[items][0]:>9.3f} {p50[items][1]:>8.3f} "
              f"{p50[items][1] / p50[items][0]:>5.2f}x {np.percentile(floor, 99):>9.3f} "
              f"{np.percentile(ours, 99):>8.3f}")
    small, large = min(catalogues), max(catalogues)
    floor_growth = p50[large][0] / p50[small][0]
    ours_growth = p50[large][1] / p50[small][1]
    print(f"growth of p50 from {small:,} to {large:,} items: floor {floor_growth:.2f}x, "
          f"ours {ours_growth:.2f}x ({ours_growth / floor_growth:.2f}x the floor's)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--catalogues", type=int, nargs="*", default=[10_000, 70_000])
    parser.add_argument("--train-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--large-rounds", type=int, default=1, help="turns for sizes over 2M")
    parser.add_argument("--step", nargs=2, metavar=("WHICH", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_training(args.step[0], Path(args.step[1]))))
        return
    if args.catalogues:
        compare_recommend(args.catalogues, args.rounds)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        compare_training(args.train_sizes, args.rounds, args.large_rounds, Path(folder))


if __name__ == "__main__":
    main()
