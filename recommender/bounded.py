"""The best items by a dot product without computing it for every item: `NormOrder.best`.

A score here is `factors[i] . user + shift`, plus a bonus for a few given items (the sequence
votes). By Cauchy-Schwarz no item scores above `norm(factors[i]) x norm(user) + shift`, so
with the items in decreasing order of their factors' norm, the search computes the products a
block at a time and stops as soon as the n-th best score found is strictly above that bound for
the next item: no item after it can reach the list, or tie with its last item. ALS factors of
rarely rated items are short, so on a long-tailed catalogue the search stops after a few
percent of the items. Each score is computed with the float32 steps of a full product (the
bound allows for their rounding) and ties are broken by the same rank, so the list is the
same. The cost: a copy of the item factors, in that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.interface import Recommendation
from recommender.ranking import best_of

# The first block of items, then each block twice the one before.
_FIRST_BLOCK = 1024
# A float32 dot product of a few hundred terms is within this share of |a| |b| of the exact one.
_ROUNDING = 1e-5


class NormOrder:
    """Item factors in decreasing order of their norm, prepared once per model."""

    def __init__(self, factors: np.ndarray) -> None:
        norms = np.linalg.norm(factors.astype(np.float64), axis=1)
        self.order = np.argsort(-norms, kind="stable")
        self.norms = norms[self.order]
        self.factors = np.ascontiguousarray(factors[self.order])
        self.position = np.empty_like(self.order)  # each item's place in that order
        self.position[self.order] = np.arange(len(self.order))

    def best(
        self,
        user: np.ndarray,
        shift: float,
        n: int,
        excluded: np.ndarray,
        bonus: tuple[np.ndarray, np.ndarray],
        *,
        item_ids: Sequence[str],
        tie_rank: np.ndarray,
    ) -> list[Recommendation]:
        """The n best items by `factors . user + shift` (+ bonus[1] for the items bonus[0]),
        none of `excluded`; equal scores in `tie_rank` order, as `top_items` would list them."""
        if n <= 0:
            return []
        voted, extra = bonus
        skip = np.zeros(len(self.order), dtype=bool)
        skip[excluded] = True
        allowed = ~skip[voted]
        skip[voted] = True  # scored apart, with their bonus
        codes = [voted[allowed]]
        scores = [self._scored(codes[0], user, shift, extra[allowed])]
        reach = float(np.linalg.norm(user.astype(np.float64)))
        start, size = 0, _FIRST_BLOCK
        while start < len(self.order):
            if _nth_best(scores, n) > _bound(self.norms[start] * reach, shift):
                break
            end = min(start + size, len(self.order))
            block = self.order[start:end]
            kept = ~skip[block]
            found = self.factors[start:end] @ user
            found += np.float32(shift)
            codes.append(block[kept])
            scores.append(found[kept])
            start, size = end, size * 2
        codes_found, scores_found = np.concatenate(codes), np.concatenate(scores)
        best = best_of(scores_found, n, tie_rank[codes_found])
        return [
            Recommendation(item_ids[codes_found[at]], float(scores_found[at])) for at in best
        ]

    def _scored(
        self, codes: np.ndarray, user: np.ndarray, shift: float, extra: np.ndarray
    ) -> np.ndarray:
        """Scores of a few items, with the same float32 steps as a block's."""
        scores = self.factors[self.position[codes]] @ user
        scores += np.float32(shift)
        scores += extra.astype(np.float32)
        return scores


def _nth_best(scores: list[np.ndarray], n: int) -> float:
    """The n-th highest of the scores found so far (-inf with fewer than n)."""
    every = np.concatenate(scores)
    if every.size < n:
        return -np.inf
    return float(np.partition(every, every.size - n)[every.size - n])


def _bound(product: float, shift: float) -> float:
    """The highest score an item can have whose product is at most `product`, rounding included."""
    return product + shift + _ROUNDING * (abs(product) + abs(shift)) + 1e-30
