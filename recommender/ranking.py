"""Top-k: the n best-scoring items for a query, with deterministic ties and an optional filter.

Every recipe's lists, similar items included, are cut here (`top_items`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from recommender.interface import Recommendation


def top_items(
    scores: np.ndarray,
    n: int,
    excluded: np.ndarray,
    *,
    item_ids: Sequence[str],
    tie_rank: np.ndarray,
    allowed: Callable[[str], bool] | None = None,
) -> list[Recommendation]:
    """The n best-scoring items, none of `excluded`; equal scores in `tie_rank` order.

    `allowed` (a genre filter, say) runs before the cut, so n items pass it when n exist.
    `scores` may be overwritten.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if excluded.size:
        scores[excluded] = -np.inf
    available = len(scores) - np.unique(excluded).size
    window = min(available, n if allowed is None else max(4 * n, 64))
    found: list[Recommendation] = []
    checked = 0
    while n > 0 and window > checked:
        candidates = _best(scores, window, tie_rank)
        for code in candidates[checked:]:
            if allowed is None or allowed(item_ids[code]):
                found.append(Recommendation(item_ids[code], float(scores[code])))
                if len(found) == n:
                    return found
        checked = window
        window = min(available, window * 4)
    return found


def _best(scores: np.ndarray, k: int, tie_rank: np.ndarray) -> np.ndarray:
    """Indices of the k highest scores, best first; equal scores in `tie_rank` order."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < len(scores):
        # Widen the cut to every item tied with the k-th, so ties are broken by rank, not chance.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        top = np.flatnonzero(scores >= kth)
    else:
        top = np.arange(len(scores))
    return top[np.lexsort((tie_rank[top], -scores[top]))][:k]
