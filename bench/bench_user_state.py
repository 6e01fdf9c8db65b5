"""What deriving a user's state from their history costs per request, beside the old lookup.

    .venv/bin/python bench/bench_user_state.py [--movielens DIR] [--recipe NAME] [--users N]

On MovieLens (ml-latest-small by default, read from the shared folder, never copied into the
project) the engine is trained once, then for N random training users, each timed on its own:

- as trained: `recommend(user, 10)` without a history, the model's own state (the floor);
- same history: `recommend(user, 10, history=...)` with the user's history as the app reads it,
  asked before, so a digest of the history and a lookup in the kept states;
- first time: the same, once, in a process that has not seen the user yet (their history is
  compared with what the model was trained on);
- new rating: the history plus one new rating, the first request after it (a fold-in);
- and the time to load the saved model, which each worker spends, in the background, when
  `flask train` saved a new one.

Prints p50 and p99 per case, and the ratio of each p50 to the floor's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common
import numpy as np

from dataset import Interaction, read_interactions


def timed(work: Callable[..., object], *args: object, **kwargs: object) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    work(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movielens", type=Path, default=_common.MOVIELENS_SMALL)
    parser.add_argument("--recipe", default="user-personalization")
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()

    from recommender.base import EmbeddedRecommender
    from recommender.model_files import model_path

    interactions = read_interactions(_common.movielens_ratings(args.movielens))
    model = EmbeddedRecommender.train(interactions, recipe=args.recipe)
    rng = np.random.default_rng(0)
    users = [str(user) for user in rng.choice(interactions.user_ids, size=args.users,
                                                replace=False)]
    histories = {user: interactions.history(user) for user in users}
    unrated = {user: next(item for item in interactions.item_ids
                          if item not in {row.item_id for row in histories[user]})
               for user in users}
    for user in users[:20]:  # lazy imports and caches, before anything is timed
        model.recommend(user, 10)

    cases: dict[str, list[float]] = {"as trained": [], "first time": [], "same history": [],
                                     "new rating": []}
    for user in users:
        history = histories[user]
        changed = [*history, Interaction(unrated[user], 5.0, 2_000_000_000)]
        cases["as trained"].append(timed(model.recommend, user, 10))
        cases["first time"].append(timed(model.recommend, user, 10, history=history))
        cases["same history"].append(timed(model.recommend, user, 10, history=history))
        cases["new rating"].append(timed(model.recommend, user, 10, history=changed))

    with tempfile.TemporaryDirectory(prefix="bench-user-state-") as folder:
        path = model_path(folder, args.recipe)
        model.save(path)
        loads = [timed(EmbeddedRecommender.load, path, interactions) for _ in range(3)]

    sizes = [len(history) for history in histories.values()]
    print(f"{args.movielens.name}: {len(interactions):,} ratings, {interactions.n_users:,} "
          f"users; {args.users} users timed, {int(np.median(sizes))} ratings each (median), "
          f"recipe {args.recipe}")
    floor = float(np.percentile(cases["as trained"], 50))
    print(f"{'case':<14} {'p50 ms':>8} {'p99 ms':>8} {'p50 / floor':>12}")
    for name, figures in cases.items():
        p50, p99 = np.percentile(figures, [50, 99])
        print(f"{name:<14} {p50:>8.3f} {p99:>8.3f} {p50 / floor:>11.2f}x")
    print(f"{model.health()['users_kept']} states kept; loading the saved model: "
          f"{min(loads):.0f} ms (best of 3)")


if __name__ == "__main__":
    main()
