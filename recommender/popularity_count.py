"""popularity-count: items by interaction count, the same list for everyone.

It learns nothing beyond the counts every model keeps (they are also every recipe's cold-start
answer), and has no notion of similarity: "more like this" answers with the popular items.
"""

from __future__ import annotations

import numpy as np

from recommender.base import EmbeddedRecommender
from recommender.users import UserState


class PopularityCount(EmbeddedRecommender):
    name = "popularity-count"

    def _scores(self, state: UserState) -> np.ndarray:
        return self._popular_score.copy()
