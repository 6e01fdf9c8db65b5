"""Top-k: the n best-scoring items for a query, with deterministic ties and an optional filter.

Every recipe's lists, similar items included, are cut here (`top_items`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from recommender.interface import Recommendation

# Scores sampled to guess where the best ones start (see _candidates).
_SAMPLE_SIZE = 1024


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
    available = len(scores) - _distinct(excluded)
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


def best_of(scores: np.ndarray, k: int, tie_rank: np.ndarray) -> np.ndarray:
    """Indices of the k highest scores (all of them when fewer), best first; equal scores in
    `tie_rank` order."""
    return _best(scores, min(k, len(scores)), tie_rank)


def _best(scores: np.ndarray, k: int, tie_rank: np.ndarray) -> np.ndarray:
    """Indices of the k highest scores, best first; equal scores in `tie_rank` order."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    # Every item tied with the k-th is a candidate, so ties are broken by rank, not chance.
    top = _candidates(scores, k) if k < len(scores) else np.arange(len(scores))
    return top[np.lexsort((tie_rank[top], -scores[top]))][:k]


def _candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of every score at least the k-th highest, and perhaps of a few lower ones."""
    step = len(scores) // _SAMPLE_SIZE
    if step > 1:
        # A threshold from every step-th score: its j-th highest has about j x step scores
        # above it in all. When k or more are, the k-th highest is above it too, and the k
        # best are found among a few hundred without partitioning the whole catalogue.
        sample = scores[::step]
        j = min(len(sample), 2 + 4 * k // step)
        threshold = np.partition(sample, len(sample) - j)[len(sample) - j]
        found = np.flatnonzero(scores >= threshold)
        if found.size >= k:
            return found
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    return np.flatnonzero(scores >= kth)


def _distinct(codes: np.ndarray) -> int:
    """How many different values `codes` holds (by a sort: np.unique's hashing costs more)."""
    if codes.size == 0:
        return 0
    ordered = np.sort(codes)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
